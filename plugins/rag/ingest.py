"""Idempotent ingestion: which documents changed, then embed and write them in steps.

Per document: if the stored first chunk carries the same fingerprint and chunk count, nothing
is written. Otherwise its other chunks are written, chunks of older versions are deleted, and
the first chunk is written last, so a worker killed half-way leaves no marker saying the
document is complete, and the next add writes it again. The caller holds the write lock, so
the check and the write of one add never interleave with another's.
"""

from __future__ import annotations

import time
from typing import Any, Final

from runtime.plugin_api import report_progress

from . import payload as keys
from .documents import Document
from .embedder import Embedder
from .errors import InputError
from .store import Filter, MatchAny, Point, VectorStore

__all__ = ["INGEST_STEP", "plan", "write"]

# Chunks embedded (and written) per step of a large add; progress is reported after each.
INGEST_STEP: Final = 256


def plan(documents: list[Document], store: VectorStore, statuses: dict[str, str]) -> list[Document]:
    """The documents that need writing; fills in every document's status by its position."""
    first_seen: dict[str, Document] = {}
    for doc in documents:
        earlier = first_seen.get(doc.id)
        if earlier is None:
            first_seen[doc.id] = doc
        elif earlier.fingerprint == doc.fingerprint:
            statuses[doc.position] = "duplicate"
        else:
            raise InputError(
                f"{doc.position}.id",
                f"{doc.id!r} is also the id of {earlier.position}, with other content; "
                "give each document its own id",
            )
    unique = list(first_seen.values())
    stored = {
        record.payload.get(keys.DOCUMENT_ID): record.payload
        for record in store.retrieve([keys.chunk_point_id(d.id, 0) for d in unique])
    }
    todo = []
    for doc in unique:
        previous = stored.get(doc.id)
        if previous is None:
            statuses[doc.position] = "added"
        elif _same(previous, doc):
            statuses[doc.position] = "unchanged"
            continue
        else:
            statuses[doc.position] = "replaced"
        todo.append(doc)
    return todo


def _same(previous: dict[str, Any], doc: Document) -> bool:
    return bool(
        previous.get(keys.FINGERPRINT) == doc.fingerprint
        and previous.get(keys.CHUNK_COUNT) == len(doc.chunks)
    )


def write(documents: list[Document], store: VectorStore, embedder: Embedder) -> int:
    """Embed and store every chunk of ``documents``; returns the number of chunks written."""
    pending = [(doc, index) for doc in documents for index in range(len(doc.chunks))]
    total = len(pending)
    firsts: list[Point] = []
    added_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for start in range(0, total, INGEST_STEP):
        step = pending[start : start + INGEST_STEP]
        vectors = embedder.encode([doc.chunks[index] for doc, index in step])
        points = [
            _point(doc, index, vectors[row], added_at) for row, (doc, index) in enumerate(step)
        ]
        # First chunks are held back: each marks its document complete (module docstring).
        store.upsert([p for p in points if p.payload[keys.CHUNK_INDEX] != 0])
        firsts.extend(p for p in points if p.payload[keys.CHUNK_INDEX] == 0)
        report_progress(min(start + INGEST_STEP, total), total, "chunks embedded")
    if documents:
        # Older versions' chunks: same document, another fingerprint (fingerprints include the
        # document id, so one filter covers every document of the call exactly).
        store.delete(
            Filter(
                must=(MatchAny(keys.DOCUMENT_ID, tuple(d.id for d in documents)),),
                must_not=(MatchAny(keys.FINGERPRINT, tuple(d.fingerprint for d in documents)),),
            )
        )
    store.upsert(firsts)
    return total


def _point(doc: Document, index: int, vector: Any, added_at: str) -> Point:
    return Point(
        id=keys.chunk_point_id(doc.id, index),
        vector=vector.tolist(),
        payload={
            keys.DOCUMENT_ID: doc.id,
            keys.CHUNK_INDEX: index,
            keys.CHUNK_COUNT: len(doc.chunks),
            keys.TEXT: doc.chunks[index],
            keys.FINGERPRINT: doc.fingerprint,
            keys.METADATA: doc.metadata,
            keys.ADDED_AT: added_at,
        },
    )
