"""The rag tools through a real supervisor and a confined worker: the real model, the real
Qdrant Edge store and a real (local, fake) OpenAI-compatible server. One worker serves the whole
module, with the labelled corpus ingested once; tests that change data use ids of their own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, Final

import pytest

from runtime import InvalidParamsError, Supervisor, ToolFailedError
from tests.rag.corpus import DOCUMENTS, QUERIES
from tests.rag.fake_provider import FAILURE_MARKER, FakeProvider, fake_provider
from tests.rag.support import ingest_corpus, rag_environ, recall_at, supervisor

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

DEFAULT_THRESHOLD: Final = 0.7
MIN_RECALL_AT_3: Final = 0.9


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeProvider]:
    with fake_provider() as running:
        yield running


@pytest.fixture(scope="module")
async def sup(
    tmp_path_factory: pytest.TempPathFactory, provider: FakeProvider
) -> AsyncIterator[Supervisor]:
    environ = rag_environ(
        tmp_path_factory.mktemp("rag-data"),
        RAG_AI_BASE_URL=provider.base_url,
        RAG_AI_MODEL="fake-gpt",
        RAG_AI_API_KEY="test-key",
    )
    async with supervisor(environ) as running:
        added = await ingest_corpus(running)
        assert added["added"] == len(DOCUMENTS), added
        yield running


async def search(sup: Supervisor, query: str, **params: Any) -> list[dict[str, Any]]:
    result = await sup.call("rag_search_documents", {"query": query, **params})
    hits: list[dict[str, Any]] = result["results"]
    return hits


# ---- retrieval ---------------------------------------------------------------------------------


async def test_recall_at_3_on_the_labelled_corpus_is_at_least_0_9(sup: Supervisor) -> None:
    # The threshold is a precision control, measured on its own below; recall is the ranking's.
    assert await recall_at(sup, 3, similarity_threshold=0.0) >= MIN_RECALL_AT_3


async def test_results_carry_score_text_metadata_and_document_id(sup: Supervisor) -> None:
    hits = await search(sup, "How do bees tell each other where the flowers are?", top_k=3,
                        similarity_threshold=0.0)  # fmt: skip
    assert len(hits) == 3
    best = hits[0]
    assert best["document_id"] == "honeybees"
    assert best["text"] == " ".join(DOCUMENTS["honeybees"]["text"].split())
    assert best["metadata"] == DOCUMENTS["honeybees"]["metadata"]
    assert best["chunk_index"] == 0
    scores = [hit["score"] for hit in hits]
    assert scores == sorted(scores, reverse=True)
    assert 0.0 < scores[-1] <= scores[0] <= 1.0


async def test_a_category_filter_excludes_every_other_category(sup: Supervisor) -> None:
    query = "How do photovoltaic cells produce electric current?"
    unfiltered = await search(sup, query, top_k=5, similarity_threshold=0.0)
    assert unfiltered[0]["document_id"] == "solar-panels"

    hits = await search(sup, query, top_k=10, similarity_threshold=-1.0,
                        filters={"category": "history"})  # fmt: skip
    expected = {d for d, doc in DOCUMENTS.items() if doc["metadata"]["category"] == "history"}
    assert {hit["document_id"] for hit in hits} == expected


async def test_range_any_of_and_document_filters_hold_for_every_result(sup: Supervisor) -> None:
    query = "renewable electricity"
    recent = await search(sup, query, top_k=50, similarity_threshold=-1.0,
                          filters={"year": {"gte": 2022}})  # fmt: skip
    assert {h["document_id"] for h in recent} == {
        d for d, doc in DOCUMENTS.items() if doc["metadata"]["year"] >= 2022
    }
    tagged = await search(sup, query, top_k=50, similarity_threshold=-1.0,
                          filters={"tags": ["music", "ice"], "year": {"lt": 2021}})  # fmt: skip
    assert {h["document_id"] for h in tagged} == {
        d
        for d, doc in DOCUMENTS.items()
        if {"music", "ice"} & set(doc["metadata"]["tags"]) and doc["metadata"]["year"] < 2021
    }
    one = await search(sup, query, top_k=50, similarity_threshold=-1.0,
                       filters={"document_id": ["tides", "wine"]})  # fmt: skip
    assert {h["document_id"] for h in one} == {"tides", "wine"}


async def test_the_threshold_drops_weak_matches_and_defaults_to_0_7(sup: Supervisor) -> None:
    query = "What are good first moves in a chess game?"
    everything = await search(sup, query, top_k=10, similarity_threshold=0.0)
    weak = [h for h in everything if h["score"] < DEFAULT_THRESHOLD]
    assert weak, "the test needs matches below the default threshold"

    default = await search(sup, query, top_k=10)
    assert all(h["score"] >= DEFAULT_THRESHOLD for h in default)
    assert not {h["document_id"] for h in weak} & {h["document_id"] for h in default}

    strict = await sup.call(
        "rag_search_documents", {"query": query, "top_k": 10, "similarity_threshold": 0.99}
    )
    assert strict["results"] == []
    # An empty answer says why: the best score found, and what to pass instead.
    assert strict["best_score"] == pytest.approx(everything[0]["score"], abs=1e-3)
    assert "similarity_threshold 0.99" in strict["hint"]


# ---- idempotency, replacement, deletion ---------------------------------------------------------


async def test_readding_the_same_corpus_writes_nothing(sup: Supervisor) -> None:
    before = await sup.call("rag_collection_stats", {})
    again = await ingest_corpus(sup)
    assert again["chunks_written"] == 0
    assert again["unchanged"] == len(DOCUMENTS)
    assert {d["status"] for d in again["documents"]} == {"unchanged"}
    after = await sup.call("rag_collection_stats", {})
    assert (after["documents"], after["chunks"]) == (before["documents"], before["chunks"])


async def test_the_same_text_without_an_id_is_stored_once(sup: Supervisor) -> None:
    text = "Lighthouses warn ships of rocks with a beam that turns on a fixed schedule."
    first = await sup.call("rag_add_document", {"text": text})
    second = await sup.call("rag_add_document", {"documents": [{"text": text}, {"text": text}]})
    doc_id = first["documents"][0]["document_id"]
    assert first["documents"][0]["status"] == "added"
    assert [d["status"] for d in second["documents"]] == ["unchanged", "duplicate"]
    assert {d["document_id"] for d in second["documents"]} == {doc_id}
    hits = await search(sup, "lighthouse beam", similarity_threshold=0.0,
                        filters={"document_id": doc_id})  # fmt: skip
    assert len(hits) == 1


async def test_new_content_under_an_id_replaces_all_old_chunks(sup: Supervisor) -> None:
    long_text = " ".join(
        f"Section {n} of the maintenance manual explains how to service pump number {n}."
        for n in range(12)
    )
    first = await sup.call(
        "rag_add_document", {"id": "manual", "text": long_text, "chunk_size": 200,
                             "chunk_overlap": 40})  # fmt: skip
    chunks = first["documents"][0]["chunks"]
    assert chunks > 3
    only = {"document_id": "manual"}
    stored = await search(sup, "pump service", top_k=50, similarity_threshold=-1.0, filters=only)
    assert sorted(h["chunk_index"] for h in stored) == list(range(chunks))
    assert all(len(h["text"]) <= 200 for h in stored)

    second = await sup.call("rag_add_document", {"id": "manual", "text": "Pumps are retired."})
    assert second["documents"][0] == {"document_id": "manual", "status": "replaced", "chunks": 1}
    stored = await search(sup, "pump service", top_k=50, similarity_threshold=-1.0, filters=only)
    assert [(h["chunk_index"], h["text"]) for h in stored] == [(0, "Pumps are retired.")]


async def test_delete_removes_every_chunk_and_names_unknown_ids(sup: Supervisor) -> None:
    text = "Beekeepers smoke the hive before opening it. " * 40
    added = await sup.call("rag_add_document", {"id": "smoke", "text": text, "chunk_size": 300,
                                                "chunk_overlap": 0})  # fmt: skip
    chunks = added["documents"][0]["chunks"]
    before = await sup.call("rag_collection_stats", {})

    result = await sup.call("rag_delete_document", {"document_ids": ["smoke", "never-added"]})
    assert result == {
        "deleted": [{"document_id": "smoke", "chunks": chunks}],
        "not_found": ["never-added"],
        "chunks_deleted": chunks,
    }
    after = await sup.call("rag_collection_stats", {})
    assert after["chunks"] == before["chunks"] - chunks
    assert after["documents"] == before["documents"] - 1
    assert await search(sup, text[:60], similarity_threshold=-1.0,
                        filters={"document_id": "smoke"}) == []  # fmt: skip


# ---- answers -------------------------------------------------------------------------------------


async def test_the_extractive_answer_quotes_and_cites_only_its_sources(sup: Supervisor) -> None:
    result = await sup.call(
        "rag_query_with_context",
        {"question": "Who was the first person to walk on the moon?", "answerer": "extractive",
         "similarity_threshold": 0.3},
    )  # fmt: skip
    assert result["answered_by"] == "extractive"
    sources = {s["ref"]: s for s in result["sources"]}
    assert sources[1]["document_id"] == "apollo-11"
    assert "Neil Armstrong" in result["answer"]
    assert result["sentences"]
    for sentence in result["sentences"]:
        assert sentence["text"] in sources[sentence["ref"]]["text"]
        assert f"{sentence['text']} [{sentence['ref']}]" in result["answer"]
    assert result["context_chars"] == sum(len(s["text"]) for s in result["sources"])


async def test_the_provider_answers_from_the_context_it_was_sent(
    sup: Supervisor, provider: FakeProvider
) -> None:
    question = "How do desert plants survive long periods without rain?"
    result = await sup.call("rag_query_with_context", {"question": question,
                                                       "similarity_threshold": 0.3})  # fmt: skip
    assert result["answered_by"] == "ai_provider"
    assert result["provider"]["model"] == "fake-gpt"
    request = provider.requests[-1]
    assert request["headers"]["Authorization"] == "Bearer test-key"
    sent = request["body"]["messages"][-1]["content"]
    assert question in sent
    for source in result["sources"]:
        assert f"[{source['ref']}] {source['text']}" in sent
    first_sentence = result["sources"][0]["text"].split(". ")[0] + "."
    assert result["sources"][0]["document_id"] == "cacti"
    assert result["answer"] == f"{first_sentence} [1]"


async def test_a_failing_provider_falls_back_to_extractive_and_says_why(sup: Supervisor) -> None:
    question = f"Why do corals turn white when the ocean gets warmer? {FAILURE_MARKER}"
    result = await sup.call("rag_query_with_context", {"question": question,
                                                       "similarity_threshold": 0.3})  # fmt: skip
    assert result["answered_by"] == "extractive"
    assert "HTTP 500" in result["provider_error"]
    assert "overloaded" in result["provider_error"]
    assert result["sources"][0]["document_id"] == "coral-reefs"
    assert result["answer"]


async def test_with_no_source_above_the_threshold_nobody_answers(sup: Supervisor) -> None:
    result = await sup.call(
        "rag_query_with_context",
        {"question": "What is the airspeed of an unladen swallow?", "similarity_threshold": 0.9},
    )
    assert result["answered_by"] == "none"
    assert result["sources"] == []
    assert "0.9" in result["answer"]


async def test_the_context_stays_within_its_budget(sup: Supervisor) -> None:
    question = "How is renewable electricity generated?"
    wide = await sup.call("rag_query_with_context", {"question": question, "answerer": "extractive",
                                                     "similarity_threshold": 0.0})  # fmt: skip
    narrow = await sup.call("rag_query_with_context", {"question": question, "context_budget": 300,
                                                       "answerer": "extractive",
                                                       "similarity_threshold": 0.0})  # fmt: skip
    assert narrow["context_chars"] <= 300 < wide["context_chars"]
    assert len(narrow["sources"]) < len(wide["sources"])
    assert narrow["sources"][0]["document_id"] == wide["sources"][0]["document_id"]


# ---- stats and bad input -------------------------------------------------------------------------


async def test_stats_describe_the_store_model_and_provider(sup: Supervisor) -> None:
    stats = await sup.call("rag_collection_stats", {})
    assert stats["documents"] >= len(DOCUMENTS)
    assert stats["store"]["kind"] == "edge"
    assert stats["store"]["persistent"] is True
    assert {"document_id", "metadata.category", "metadata.year"} <= set(
        stats["store"]["payload_indexes"]
    )
    assert stats["embedding"]["state"] == "ready"
    assert stats["embedding"]["dimensions"] == 384
    assert stats["search"]["mode"] == "exact"
    assert stats["ai_provider"]["configured"] is True


BAD_INPUT: Final[list[tuple[str, dict[str, Any], str, str]]] = [
    # tool, params, the field the error must name, how to fix it (part of the message)
    ("rag_add_document", {"text": ""}, "params.text", "non-empty"),
    ("rag_add_document", {"text": " \n\t "}, "text", "give it some text"),
    ("rag_add_document", {"text": "x" * 1_000_001}, "text", "max_document_chars"),
    ("rag_add_document", {"documents": [{"text": 42}]}, "params.documents[0].text", "string"),
    ("rag_add_document", {"documents": [{"text": "t", "metadata": {"year": "2020"}}]},
     "documents[0].metadata.year", "whole number"),
    ("rag_add_document", {"documents": [{"text": "t", "metadata": {"a": {"b": 1}}}]},
     "documents[0].metadata.a", "flatten"),
    ("rag_add_document", {"text": "t", "chunk_size": 200, "chunk_overlap": 300},
     "chunk_overlap", "smaller than chunk_size"),
    ("rag_add_document", {}, "text", "documents (many)"),
    ("rag_add_document", {"text": "a", "documents": [{"text": "b"}]}, "documents", "either"),
    ("rag_add_document", {"documents": [{"id": "x", "text": "a"}, {"id": "x", "text": "b"}]},
     "documents[1].id", "its own id"),
    ("rag_search_documents", {"query": "bees", "top_k": "5"}, "params.top_k", "integer"),
    ("rag_search_documents", {"query": "bees", "filters": {"colour": "red"}}, "filters.colour",
     "configuration.filterable_fields"),
    ("rag_search_documents", {"query": "bees", "filters": {"year": "2020"}}, "filters.year",
     "integer"),
    ("rag_search_documents", {"query": "bees", "filters": {"category": {"gte": 1}}},
     "filters.category", "integer and float"),
    ("rag_search_documents", {"query": "bees", "similarity_threshold": 2},
     "params.similarity_threshold", "maximum"),
    ("rag_search_documents", {"query": "bees", "colour": 1}, "params", "'colour'"),
    ("rag_query_with_context", {"question": "   "}, "question", "ask something"),
    ("rag_query_with_context", {"question": "bees?", "answerer": "oracle"}, "params.answerer",
     "extractive"),
    ("rag_delete_document", {}, "document_id", "exactly one"),
    ("rag_delete_document", {"document_ids": []}, "params.document_ids", "non-empty"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("tool", "params", "field", "fix"),
    BAD_INPUT,
    ids=[f"{tool}-{field}" for tool, _, field, _ in BAD_INPUT],
)
async def test_bad_input_gets_an_error_naming_the_field_and_the_fix(
    sup: Supervisor, tool: str, params: dict[str, Any], field: str, fix: str
) -> None:
    with pytest.raises((InvalidParamsError, ToolFailedError)) as caught:
        await sup.call(tool, params)
    error = caught.value
    if isinstance(error, InvalidParamsError):
        assert error.field == field, str(error)
    else:
        assert isinstance(error, ToolFailedError)
        assert error.error_type == "InputError", str(error)
        assert error.remote_message.startswith(f"{field}: "), str(error)
    assert fix in str(error)
    assert len(str(error)) < 1000, "an error must not echo a huge input back"


async def test_every_query_of_the_corpus_names_a_document_of_it() -> None:
    assert {expected for _, expected in QUERIES} == set(DOCUMENTS)
