"""The plugin's pure parts in-process: text preparation, chunking, configuration, input checks,
filters and the start-up hand-off. No model and no worker here."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rag import service as rag_service
from rag import storage
from rag.documents import parse_documents
from rag.errors import ConfigError, InputError, NotReadyError, StoreLockedError
from rag.filters import parse_filters
from rag.settings import RagSettings, parse_settings
from rag.startup import Pending
from rag.store import Filter, Match, MatchAny, Range
from rag.store.edge import EdgeStore
from rag.text import chunk_text, preprocess, split_sentences

SETTINGS = parse_settings({"filterable_fields": {"category": "keyword", "year": "integer",
                                                 "score": "float", "draft": "bool"}})  # fmt: skip

# ---- text --------------------------------------------------------------------------------------


def test_preprocess_normalises_unicode_whitespace_and_control_characters() -> None:
    full_width = "\uff26\uff55\uff4c\uff4c"
    raw = f"  {full_width}\u00a0width\t\ttext\x00here.\r\n\r\n\r\n\r\nNext\u200bparagraph  "
    assert preprocess(raw) == "Full width text here.\n\nNext paragraph"


def test_sentences_split_at_sentence_ends_but_not_inside_abbreviations_or_numbers() -> None:
    text = 'It costs 3.5 euros, e.g. for tea. Then what? Prices rose! "Quoted." Done'
    assert split_sentences(text) == [
        "It costs 3.5 euros, e.g. for tea.",
        "Then what?",
        "Prices rose!",
        '"Quoted."',
        "Done",
    ]


words = st.text(alphabet="abcdefghij", min_size=1, max_size=30)
sentences = st.lists(words, min_size=1, max_size=25).map(lambda ws: " ".join(ws).capitalize() + ".")


@settings(max_examples=150, deadline=None)
@given(
    body=st.lists(sentences, min_size=1, max_size=40),
    size=st.integers(min_value=100, max_value=600),
    overlap_share=st.floats(min_value=0.0, max_value=0.9),
)
def test_chunks_fit_their_size_cover_every_word_and_overlap(
    body: list[str], size: int, overlap_share: float
) -> None:
    overlap = int(size * overlap_share)
    text = " ".join(body)
    chunks = chunk_text(text, size, overlap)
    assert all(0 < len(chunk) <= size for chunk in chunks)
    # Nothing is lost: the words of the text appear in order across the chunks.
    assert set(text.split()) == {w for chunk in chunks for w in chunk.split()}
    if overlap == 0:
        assert " ".join(chunks).split() == text.split()


def test_consecutive_chunks_share_whole_sentences_up_to_the_overlap() -> None:
    text = " ".join(f"Sentence number {n} is here." for n in range(30))
    chunks = chunk_text(text, 120, 40)
    for before, after in itertools.pairwise(chunks):
        first = split_sentences(after)[0]
        assert before.endswith(first)
        assert len(first) <= 40


def test_a_sentence_longer_than_a_chunk_is_cut_at_word_boundaries() -> None:
    text = " ".join(["word"] * 100) + "."
    chunks = chunk_text(text, 100, 0)
    assert all(len(c) <= 100 for c in chunks)
    assert " ".join(chunks) == text


# ---- configuration -----------------------------------------------------------------------------


def test_the_bundled_configuration_parses_with_its_documented_defaults() -> None:
    import yaml

    from tests.rag.support import PLUGIN_DIR

    config = yaml.safe_load((PLUGIN_DIR / "plugin.yaml").read_text())["configuration"]
    resolved = _resolve_empty(config)
    parsed = parse_settings(resolved)
    assert parsed.search.similarity_threshold == 0.7
    assert parsed.embedding.dimensions == 384
    assert parsed.search.mode == "exact"
    assert not parsed.persistent
    assert not parsed.provider.configured


def _resolve_empty(value: Any) -> Any:
    """${VAR:-default} as the supervisor resolves it with the variable unset."""
    import re

    if isinstance(value, dict):
        return {k: _resolve_empty(v) for k, v in value.items()}
    if isinstance(value, str):
        return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)
    return value


@pytest.mark.parametrize(
    ("config", "field", "words"),
    [
        ({"search": {"similarity_threshold": "1.5"}}, "search.similarity_threshold", "between"),
        ({"search": {"mode": "fast"}}, "search.mode", "exact, hnsw"),
        ({"chunking": {"size": 200, "overlap": 200}}, "chunking.overlap", "smaller"),
        ({"filterable_fields": {"a.b": "keyword"}}, "filterable_fields.a.b", "no dots"),
        ({"filterable_fields": {"year": "date"}}, "filterable_fields.year", "keyword"),
        ({"filterable_fields": {"document_id": "keyword"}}, "filterable_fields.document_id",
         "built in"),
        ({"data_dir": "relative/dir"}, "data_dir", "absolute"),
        ({"qdrant": {"url": "qdrant:6333"}}, "qdrant.url", "http://"),
        ({"ai_provider": {"base_url": "http://x/v1", "model": ""}}, "ai_provider.model",
         "required"),
        ({"embedding": {"batch_size": 0}}, "embedding.batch_size", "between"),
        ({"search": {"hnsw": {"mm": 3}}}, "search.hnsw.mm", "unknown key"),
    ],
)  # fmt: skip
def test_a_bad_setting_is_named_with_its_key(
    config: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(config)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"configuration.{field}: ")
    assert words in str(caught.value)


def test_numbers_from_environment_variables_are_accepted() -> None:
    parsed = parse_settings({"search": {"top_k": "7", "similarity_threshold": "0.5"}})
    assert (parsed.search.top_k, parsed.search.similarity_threshold) == (7, 0.5)


# ---- documents and filters ---------------------------------------------------------------------


def test_documents_get_content_ids_fingerprints_and_chunks() -> None:
    one, two = parse_documents(
        {"documents": [{"text": "Same text."}, {"text": "Same text.", "id": "mine"}]}, SETTINGS
    )
    assert one.id.startswith("doc-")
    assert two.id == "mine"
    assert one.fingerprint != two.fingerprint  # the id is part of it
    assert one.chunks == ("Same text.",)
    again = parse_documents({"text": "Same text."}, SETTINGS)[0]
    assert (again.id, again.fingerprint) == (one.id, one.fingerprint)
    changed = parse_documents({"text": "Same text.", "metadata": {"year": 2020}}, SETTINGS)[0]
    assert changed.id == one.id
    assert changed.fingerprint != one.fingerprint


def test_too_many_chunks_in_one_call_is_refused_before_any_work() -> None:
    small = RagSettings(limits=SETTINGS.limits.__class__(max_chunks_per_call=3))
    text = " ".join(f"Sentence {n} is long enough to fill a chunk by itself." for n in range(40))
    with pytest.raises(InputError, match="max_chunks_per_call"):
        parse_documents({"text": text, "chunk_size": 100, "chunk_overlap": 0}, small)


def test_filters_become_store_conditions_by_field_type() -> None:
    where = parse_filters(
        {"category": ["a", "b"], "year": {"gte": 2020}, "score": 0.5, "draft": False,
         "document_id": "d1"},
        SETTINGS,
    )  # fmt: skip
    assert where == Filter(
        must=(
            MatchAny("metadata.category", ("a", "b")),
            Range("metadata.year", gte=2020.0),
            Range("metadata.score", gte=0.5, lte=0.5),
            Match("metadata.draft", False),
            Match("document_id", "d1"),
        )
    )
    assert parse_filters(None, SETTINGS) is None
    assert parse_filters({}, SETTINGS) is None


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"year": True}, "filters.year"),
        ({"draft": [True, False]}, "filters.draft"),
        ({"year": {"from": 1}}, "filters.year"),
        ({"year": {"gte": "x"}}, "filters.year.gte"),
        ({"category": []}, "filters.category"),
    ],
)
def test_a_bad_filter_names_its_field(filters: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_filters(filters, SETTINGS)
    assert caught.value.field == field


# ---- start-up ----------------------------------------------------------------------------------


def test_a_call_waits_for_a_value_still_loading_then_is_told_to_retry() -> None:
    pending = Pending[int]("embedding model", "configuration.embedding.ready_timeout")
    with pytest.raises(NotReadyError, match=r"still loading .*ready_timeout.*retry"):
        pending.wait(0.01)
    threading.Timer(0.05, pending.resolve, args=(7,)).start()
    assert pending.wait(10) == 7
    assert pending.state == "ready"


def test_a_failed_start_up_step_is_reported_to_every_caller() -> None:
    pending = Pending[int]("vector store", "30s")
    pending.reject(StoreLockedError("the store at /x is open in another process"))
    for _ in range(2):
        with pytest.raises(StoreLockedError, match="another process"):
            pending.wait(1)
    pending.reject(RuntimeError("boom"))
    with pytest.raises(NotReadyError, match="vector store failed to load: boom"):
        pending.wait(1)


def test_the_service_waits_for_a_locked_store_and_opens_it_once_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_ = RagSettings(data_dir=str(tmp_path))
    holder = storage.open_store(settings_, str(tmp_path))
    service = rag_service.RagService(settings_, work_dir=str(tmp_path))
    monkeypatch.setattr(rag_service, "LOCK_WAIT", 0.3)
    with pytest.raises(StoreLockedError, match="RAG_DATA_DIR"):
        service.open_store_waiting_for_lock()
    assert service.lock_waiting is False

    opened: list[Any] = []
    monkeypatch.setattr(rag_service, "LOCK_WAIT", 30.0)
    opener = threading.Thread(target=lambda: opened.append(service.open_store_waiting_for_lock()))
    opener.start()
    try:
        # Another thread's state: polled, with a bound that is a failure report, not a pace.
        deadline = time.monotonic() + 10
        while not service.lock_waiting and time.monotonic() < deadline:
            time.sleep(0.01)
        assert service.health()["store"] == "waiting for another process to close it"
        assert service.health()["healthy"] is True
    finally:
        holder.close()
        opener.join(timeout=30)
    assert isinstance(opened[0], EdgeStore)
    opened[0].close()
