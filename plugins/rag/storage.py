"""Which vector store the configuration asks for, opened with the plugin's payload indexes,
and the check that an HNSW index is good enough to search with."""

from __future__ import annotations

import os
from typing import Final

from . import payload as keys
from .settings import RagSettings
from .store import CollectionSpec, VectorStore

__all__ = ["RECALL_K", "measure_recall", "open_store"]

# Stored vectors used as queries when checking the HNSW index against exact search.
RECALL_SAMPLE: Final = 100
RECALL_K: Final = 10


def open_store(settings: RagSettings, data_dir: str) -> VectorStore:
    """The configured store: Qdrant Edge in ``data_dir``, or a Qdrant server at ``qdrant.url``."""
    spec = CollectionSpec(
        name=settings.collection,
        size=settings.embedding.dimensions,
        distance=settings.search.distance,
        indexes=keys.index_spec(settings),
        hnsw_m=settings.search.hnsw.m,
        hnsw_ef_construct=settings.search.hnsw.ef_construct,
    )
    if settings.qdrant_url:
        from .store.remote import RemoteStore

        return RemoteStore.connect(
            settings.qdrant_url,
            spec,
            api_key=os.environ.get("QDRANT_API_KEY"),
            timeout=settings.qdrant_timeout,
        )
    from .store.edge import EdgeStore

    return EdgeStore.open(data_dir, spec)


def measure_recall(store: VectorStore, ef: int) -> float:
    """Share of the exact top 10 the index finds, over stored vectors used as queries."""
    sample = [r.vector for r in store.sample(RECALL_SAMPLE) if r.vector is not None]
    if not sample:
        return 1.0
    found = 0
    expected = 0
    for vector in sample:
        exact = {h.id for h in store.search(vector, RECALL_K, exact=True)}
        approx = {h.id for h in store.search(vector, RECALL_K, exact=False, hnsw_ef=ef)}
        found += len(exact & approx)
        expected += len(exact)
    return found / expected if expected else 1.0
