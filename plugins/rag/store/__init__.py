"""The vector store adapter: the plugin's own point, filter and result types, one protocol, and
``open_store`` choosing between the embedded Qdrant Edge engine and a Qdrant server.

Nothing outside this package imports a Qdrant module, so the beta Qdrant Edge API (pinned in
plugin.yaml) can drift without touching the rest of the plugin; tests/rag/test_store_contract.py
runs one suite against both implementations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = [
    "CollectionSpec",
    "Condition",
    "Filter",
    "Hit",
    "Match",
    "MatchAny",
    "Point",
    "Range",
    "Record",
    "StoreInfo",
    "VectorStore",
]

IndexType = Literal["keyword", "integer", "float", "bool"]


@dataclass(frozen=True)
class Match:
    """``key`` equals ``value``."""

    key: str
    value: str | int | bool


@dataclass(frozen=True)
class MatchAny:
    """``key`` equals one of ``values`` (for a list-valued key: shares one of them)."""

    key: str
    values: tuple[str, ...] | tuple[int, ...]


@dataclass(frozen=True)
class Range:
    key: str
    gte: float | None = None
    gt: float | None = None
    lte: float | None = None
    lt: float | None = None


Condition = Match | MatchAny | Range


@dataclass(frozen=True)
class Filter:
    must: tuple[Condition, ...] = ()
    must_not: tuple[Condition, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.must or self.must_not)


@dataclass(frozen=True)
class Point:
    """One stored vector; ``id`` is a UUID string (both engines accept those)."""

    id: str
    vector: Sequence[float]
    payload: dict[str, Any]


@dataclass(frozen=True)
class Hit:
    id: str
    score: float
    payload: dict[str, Any]


@dataclass(frozen=True)
class Record:
    id: str
    payload: dict[str, Any]
    vector: list[float] | None = None


@dataclass(frozen=True)
class CollectionSpec:
    """What a collection is created with, and checked against when it already exists."""

    name: str
    size: int
    distance: Literal["cosine", "dot"]
    # Payload keys to index for filtering, with their types.
    indexes: tuple[tuple[str, IndexType], ...] = ()
    hnsw_m: int = 16
    hnsw_ef_construct: int = 128
    # KB of vectors in a segment before the embedded engine builds its HNSW index, and below
    # which an HNSW search scans the segment instead; None keeps the engine's defaults.
    indexing_threshold_kb: int | None = None
    full_scan_threshold_kb: int | None = None


@dataclass(frozen=True)
class StoreInfo:
    kind: Literal["edge", "remote"]
    location: str
    points: int
    indexed_vectors: int
    segments: int | None
    payload_indexes: dict[str, str] = field(default_factory=dict)


class VectorStore(Protocol):
    """What the plugin needs from a vector store; both implementations are thread-safe."""

    spec: CollectionSpec

    def upsert(self, points: Sequence[Point]) -> None: ...

    def delete(self, where: Filter) -> None: ...

    def count(self, where: Filter | None = None) -> int: ...

    def search(
        self,
        vector: Sequence[float],
        limit: int,
        *,
        where: Filter | None = None,
        threshold: float | None = None,
        exact: bool = True,
        hnsw_ef: int | None = None,
    ) -> list[Hit]: ...

    def retrieve(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[Record]: ...

    def sample(self, limit: int) -> list[Record]:
        """Up to ``limit`` points with their vectors (for measuring search recall)."""
        ...

    def build_index(self) -> bool:
        """Build the HNSW index now, blocking; True if anything was built."""
        ...

    def info(self) -> StoreInfo: ...

    def close(self) -> None: ...
