"""Text preparation: normalisation, sentence splitting and chunking with overlap.

Chunks are packed from whole sentences, so a chunk boundary never cuts a sentence the model or
the extractive answerer then reads half of; only a sentence longer than a whole chunk is split,
at word boundaries. The next chunk starts with the previous one's last sentences, up to the
overlap, so a fact stated across a boundary is still retrievable from one chunk.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

__all__ = ["chunk_text", "preprocess", "split_sentences"]

# Control characters except tab and newline: they carry no meaning for retrieval.
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACES: Final = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000]+")
_BLANK_LINES: Final = re.compile(r"\n{3,}")
_PARAGRAPHS: Final = re.compile(r"\n\s*\n")
# A sentence ends at . ! or ?, perhaps followed by one closing quote or bracket, before
# whitespace and a capital letter, a digit or an opening quote; "e.g. this" and "3.5 m" do not.
# (Two fixed-width look-behinds, as Python's look-behind cannot vary in width.)
_SENTENCE_END: Final = re.compile(
    r"(?:(?<=[.!?])|(?<=[.!?][\"'\u201d\u2019)\]]))\s+(?=[A-Z0-9\"'\u201c\u2018(\[])"
)
PARAGRAPH_BREAK: Final = "\n\n"


def preprocess(text: str) -> str:
    """Unicode NFKC, no control characters, single spaces, at most one blank line in a row."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub(" ", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub(PARAGRAPH_BREAK, "\n".join(lines)).strip()


def split_sentences(text: str) -> list[str]:
    """Sentences of already preprocessed text, paragraph by paragraph."""
    sentences: list[str] = []
    for paragraph in _PARAGRAPHS.split(text):
        flat = " ".join(paragraph.split())
        sentences.extend(s.strip() for s in _SENTENCE_END.split(flat) if s.strip())
    return sentences


@dataclass(frozen=True)
class _Unit:
    text: str
    # What joins this unit to the one before it inside a chunk.
    joiner: str


def chunk_text(text: str, size: int, overlap: int) -> list[str]:
    """Chunks of at most ``size`` characters, consecutive ones sharing up to ``overlap``."""
    if overlap >= size:
        raise ValueError("overlap must be smaller than size")
    units = _units(text, size)
    chunks: list[str] = []
    current: list[_Unit] = []
    for unit in units:
        if current and _length([*current, unit]) > size:
            chunks.append(_join(current))
            current = _tail(current, overlap)
            while current and _length([*current, unit]) > size:
                current.pop(0)
        current.append(unit)
    if current:
        chunks.append(_join(current))
    return chunks


def _units(text: str, size: int) -> list[_Unit]:
    units: list[_Unit] = []
    for p_index, paragraph in enumerate(_PARAGRAPHS.split(text)):
        for s_index, sentence in enumerate(split_sentences(paragraph)):
            joiner = PARAGRAPH_BREAK if p_index and not s_index else " "
            for w_index, piece in enumerate(_split_long(sentence, size)):
                units.append(_Unit(piece, joiner if not w_index else " "))
    return units


def _split_long(sentence: str, size: int) -> list[str]:
    """A sentence longer than a chunk, cut at word boundaries (inside a word only if it must)."""
    if len(sentence) <= size:
        return [sentence]
    pieces: list[str] = []
    current = ""
    for word in sentence.split(" "):
        while len(word) > size:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(word[:size])
            word = word[size:]
        candidate = f"{current} {word}" if current else word
        if len(candidate) > size:
            pieces.append(current)
            current = word
        else:
            current = candidate
    if current:
        pieces.append(current)
    return pieces


def _tail(units: list[_Unit], overlap: int) -> list[_Unit]:
    """The last units of a chunk whose length fits the overlap."""
    tail: list[_Unit] = []
    for unit in reversed(units):
        if _length([unit, *tail]) > overlap:
            break
        tail.insert(0, unit)
    return tail


def _length(units: list[_Unit]) -> int:
    return sum(len(u.text) for u in units) + sum(len(u.joiner) for u in units[1:])


def _join(units: list[_Unit]) -> str:
    return units[0].text + "".join(u.joiner + u.text for u in units[1:])
