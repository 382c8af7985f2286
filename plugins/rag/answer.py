"""Grounded answers: the context given to the answerer, and the built-in extractive answerer.

The context is the retrieved chunks, best first, numbered ``[1]``, ``[2]``..., as many as fit
the character budget (the first one is cut to fit if it alone is too long). The extractive
answerer picks the sentences of that context closest to the question in embedding space and
cites each one, so every word of its answer is a word of a listed source.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from .errors import ProviderError
from .text import split_sentences

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from .provider import OpenAICompatibleProvider

Encode = Callable[[Sequence[str]], "npt.NDArray[np.float32]"]
log = logging.getLogger(__name__)

__all__ = [
    "Source",
    "assemble_context",
    "compose_answer",
    "extractive_answer",
    "format_context",
]


# A sentence whose similarity is this far below the best one's is left out, however few were
# chosen: it would answer a different question.
RELEVANCE_MARGIN: Final = 0.15
MIN_SENTENCE_CHARS: Final = 12


@dataclass(frozen=True)
class Source:
    ref: int
    document_id: str
    chunk_index: int
    score: float
    text: str
    metadata: dict[str, Any]
    truncated: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "document_id": self.document_id,
            "chunk_index": self.chunk_index,
            "score": self.score,
            "text": self.text,
            "metadata": self.metadata,
            "truncated": self.truncated,
        }


def assemble_context(hits: Sequence[dict[str, Any]], budget: int) -> list[Source]:
    """Search results (best first) as numbered sources within ``budget`` characters of text."""
    sources: list[Source] = []
    used = 0
    for hit in hits:
        text: str = hit["text"]
        truncated = False
        if used + len(text) > budget:
            if sources:
                break
            text, truncated = text[:budget].rsplit(" ", 1)[0], True
        sources.append(
            Source(
                ref=len(sources) + 1,
                document_id=hit["document_id"],
                chunk_index=hit["chunk_index"],
                score=hit["score"],
                text=text,
                metadata=hit["metadata"],
                truncated=truncated,
            )
        )
        used += len(text)
    return sources


def format_context(sources: Sequence[Source]) -> str:
    return "\n\n".join(f"[{s.ref}] {s.text}" for s in sources)


@dataclass(frozen=True)
class Extract:
    answer: str
    sentences: list[dict[str, Any]]


def extractive_answer(
    question_vector: npt.NDArray[np.float32],
    sources: Sequence[Source],
    encode: Encode,
    max_sentences: int,
) -> Extract:
    """The ``max_sentences`` sentences most similar to the question, each with its citation.

    A sentence is scored alone and together with the sentence before it, whichever is closer:
    "The worker is confined with Landlock" answers "how is a Hydrogen worker confined?" only
    once the sentence before it has said whose worker it is.
    """
    candidates: list[_Candidate] = []
    seen: set[str] = set()
    for source in sources:
        previous = ""
        for position, sentence in enumerate(split_sentences(source.text)):
            key = sentence.lower()
            # Overlapping chunks repeat sentences; each is a candidate once.
            if len(sentence) >= MIN_SENTENCE_CHARS and key not in seen:
                seen.add(key)
                candidates.append(_Candidate(source.ref, position, sentence, previous))
            previous = sentence
    if not candidates:
        return Extract("", [])
    alone = encode([c.sentence for c in candidates]) @ question_vector
    windowed = [i for i, c in enumerate(candidates) if c.previous]
    in_context = encode([f"{candidates[i].previous} {candidates[i].sentence}" for i in windowed])
    scores = [float(score) for score in alone]
    for row, i in enumerate(windowed):
        scores[i] = max(scores[i], float(in_context[row] @ question_vector))
    ranked = sorted(range(len(candidates)), key=lambda i: -scores[i])
    best = scores[ranked[0]]
    chosen = [i for i in ranked[:max_sentences] if scores[i] >= best - RELEVANCE_MARGIN]
    # Read in source order, the way the passages were ranked, not by score.
    chosen.sort(key=lambda i: (candidates[i].ref, candidates[i].position))
    return Extract(
        answer=" ".join(f"{candidates[i].sentence} [{candidates[i].ref}]" for i in chosen),
        sentences=[
            {"text": candidates[i].sentence, "ref": candidates[i].ref, "score": round(scores[i], 4)}
            for i in chosen
        ],
    )


@dataclass(frozen=True)
class _Candidate:
    ref: int
    position: int
    sentence: str
    # The sentence before it in the same source ("" for the first).
    previous: str


def compose_answer(
    question: str,
    question_vector: npt.NDArray[np.float32],
    hits: Sequence[dict[str, Any]],
    *,
    threshold: float,
    budget: int,
    provider: OpenAICompatibleProvider | None,
    encode: Encode,
    max_sentences: int,
) -> dict[str, Any]:
    """The answer and the sources it drew on; ``answered_by`` says who answered.

    With a provider, it answers from the context; if it fails, the extractive answerer does
    and ``provider_error`` says why. Without sources nobody answers: there is nothing to ground
    an answer in.
    """
    sources = assemble_context(hits, budget)
    result: dict[str, Any] = {
        "question": question,
        "similarity_threshold": threshold,
        "sources": [s.as_dict() for s in sources],
        "context_chars": sum(len(s.text) for s in sources),
    }
    if not sources:
        result["answer"] = (
            f"None of the stored documents matches the question with a similarity of at least "
            f"{threshold:g}, so there is nothing to answer from."
        )
        result["answered_by"] = "none"
        return result
    if provider is not None:
        try:
            result["answer"] = provider.generate(question, format_context(sources))
        except ProviderError as exc:
            log.warning("AI provider failed, answering extractively: %s", exc)
            result["provider_error"] = str(exc)
        else:
            result["answered_by"] = "ai_provider"
            result["provider"] = {"model": provider.model, "endpoint": provider.endpoint}
            return result
    extract = extractive_answer(question_vector, sources, encode, max_sentences)
    result["answer"] = extract.answer
    result["answered_by"] = "extractive"
    result["sentences"] = extract.sentences
    return result
