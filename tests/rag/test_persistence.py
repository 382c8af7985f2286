"""The store outlives its worker: a worker killed mid-life, or replaced by a hot reload, is
followed by one that finds every document.

A supervisor of its own (without an AI provider), with a data dir of the test's own: the
persistent store is a declared write path the supervisor creates, unlike the private work dir,
which is a fresh tmpfs for each worker.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any, Final

import anyio
import pytest

from runtime import Supervisor
from tests.rag.support import rag_environ, supervisor

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

# More chunks than one ingest step (256), so progress is reported more than once.
BULK: Final = 300
# Seconds for the replacement worker to be up; a bound is a failure report, not a pace.
RESTART_WAIT: Final = 30.0


async def any_set(events: list[anyio.Event]) -> None:
    async with anyio.create_task_group() as tg:

        async def wait(event: anyio.Event) -> None:
            await event.wait()
            tg.cancel_scope.cancel()

        for event in events:
            tg.start_soon(wait, event)


def worker_pid(sup: Supervisor) -> int | None:
    entry: dict[str, Any] = sup.status()["plugins"]["rag"]
    return entry["pid"] if entry["state"] == "active" else None


async def test_killed_and_reloaded_workers_are_replaced_and_find_every_document(
    tmp_path: Path,
) -> None:
    data = tmp_path / "state" / "rag"
    async with supervisor(rag_environ(data)) as sup:
        assert data.is_dir(), "the supervisor creates the declared data dir"
        layers = sup.status()["plugins"]["rag"]["layers"]
        # Neither QDRANT_URL nor RAG_AI_BASE_URL is set: no network at all.
        assert layers["netns"].startswith("on"), layers
        assert layers["landlock"].startswith("on"), layers
        progress: list[tuple[float, float | None, str | None]] = []
        documents = [
            {"id": f"note-{n}", "text": f"Warehouse note {n}: shelf {n % 17} holds crate {n}.",
             "metadata": {"category": "inventory", "year": 2000 + n % 25}}
            for n in range(BULK)
        ]  # fmt: skip
        added = await sup.call(
            "rag_add_document",
            {"documents": documents},
            on_progress=lambda done, total, message: progress.append((done, total, message)),
        )
        assert added["added"] == BULK
        assert len(progress) >= 2
        assert progress[-1][:2] == (BULK, BULK)
        assert [p[0] for p in progress] == sorted(p[0] for p in progress)

        first = worker_pid(sup)
        assert first is not None
        os.kill(first, signal.SIGKILL)
        with anyio.fail_after(RESTART_WAIT):
            while True:
                # Taken before reading the state, so a change in between is never missed.
                changes = sup.change_events()
                if worker_pid(sup) not in (None, first):
                    break
                await any_set(changes)

        stats = await sup.call("rag_collection_stats", {})
        assert (stats["documents"], stats["chunks"]) == (BULK, BULK)
        assert stats["store"]["persistent"] is True
        assert stats["store"]["location"] == str(data / "documents")
        found = await sup.call(
            "rag_search_documents",
            {"query": "Which shelf holds crate 123?", "similarity_threshold": 0.0,
             "filters": {"document_id": "note-123"}},
        )  # fmt: skip
        assert [hit["document_id"] for hit in found["results"]] == ["note-123"]
        again = await sup.call("rag_add_document", {"documents": documents[:10]})
        assert again["unchanged"] == 10

        answer = await sup.call(
            "rag_query_with_context",
            {"question": "Which shelf holds crate 123?", "similarity_threshold": 0.5},
        )
        assert answer["answered_by"] == "extractive"  # no provider configured: built in
        assert any(s["document_id"] == "note-123" for s in answer["sources"])

        # A hot reload starts the new worker beside the old one, which still holds the store's
        # lock: the new one reports healthy while it waits, and takes over once the old stops.
        record = await sup.reload("rag")
        assert record.outcome == "reloaded", record.reason
        assert worker_pid(sup) not in (None, first)
        after = await sup.call("rag_collection_stats", {})
        assert (after["documents"], after["chunks"]) == (BULK, BULK)
