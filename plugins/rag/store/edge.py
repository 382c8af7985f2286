"""The embedded store: one Qdrant Edge shard (``qdrant_edge``, pinned) in a directory.

A shard is a collection that lives in this process: no server, no network. Its write-ahead log
is locked by the process that opens it, so exactly one worker may serve a directory; a second
one gets ``StoreLockedError`` naming the directory. The engine raises plain ``Exception`` with
a message, so errors are recognised by their text here and nowhere else.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Final, cast

import qdrant_edge as qe

from ..errors import StoreError, StoreLockedError
from . import (
    CollectionSpec,
    Condition,
    Filter,
    Hit,
    MatchAny,
    Point,
    Range,
    Record,
    StoreInfo,
)

__all__ = ["EdgeStore"]

CONFIG_FILE: Final = "edge_config.json"
# An HNSW search falls back to a full scan in segments smaller than this many KB of vectors.
FULL_SCAN_THRESHOLD_KB: Final = 10_000
_DISTANCES: Final = {"cosine": qe.Distance.Cosine, "dot": qe.Distance.Dot}
_INDEX_TYPES: Final = {
    "keyword": qe.PayloadSchemaType.Keyword,
    "integer": qe.PayloadSchemaType.Integer,
    "float": qe.PayloadSchemaType.Float,
    "bool": qe.PayloadSchemaType.Bool,
}
_SCHEMA_NAMES: Final = {value: name for name, value in _INDEX_TYPES.items()}


class EdgeStore:
    """A Qdrant Edge shard at ``<data_dir>/<collection>``."""

    kind: Final = "edge"

    def __init__(self, shard: qe.EdgeShard, path: str, spec: CollectionSpec) -> None:
        self._shard = shard
        self.path = path
        self.spec = spec
        # Index creation and close must not interleave with writes; reads need no lock.
        self._lock = threading.Lock()
        self._ensure_indexes()

    @classmethod
    def open(cls, data_dir: str, spec: CollectionSpec) -> EdgeStore:
        path = os.path.join(data_dir, spec.name)
        config = qe.EdgeConfig(
            vectors=qe.EdgeVectorParams(size=spec.size, distance=_DISTANCES[spec.distance]),
            hnsw_config=qe.HnswIndexConfig(
                m=spec.hnsw_m,
                ef_construct=spec.hnsw_ef_construct,
                full_scan_threshold=spec.full_scan_threshold_kb or FULL_SCAN_THRESHOLD_KB,
            ),
            optimizers=qe.EdgeOptimizersConfig(indexing_threshold=spec.indexing_threshold_kb),
        )
        try:
            if os.path.exists(os.path.join(path, CONFIG_FILE)):
                shard = qe.EdgeShard.load(path, config)
            else:
                os.makedirs(path, mode=0o700, exist_ok=True)
                shard = qe.EdgeShard.create(path, config)
        except Exception as exc:
            raise _translate(exc, path, spec) from exc
        return cls(shard, path, spec)

    def _ensure_indexes(self) -> None:
        existing = self._shard.info().payload_schema
        with self._lock:
            for key, kind in self.spec.indexes:
                if key not in existing:
                    self._update(qe.UpdateOperation.create_field_index(key, _INDEX_TYPES[kind]))

    def upsert(self, points: Sequence[Point]) -> None:
        if not points:
            return
        batch = [qe.Point(id=p.id, vector=list(p.vector), payload=p.payload) for p in points]
        with self._lock:
            self._update(qe.UpdateOperation.upsert_points(batch))

    def delete(self, where: Filter) -> None:
        with self._lock:
            self._update(qe.UpdateOperation.delete_points_by_filter(_filter(where)))

    def count(self, where: Filter | None = None) -> int:
        request = qe.CountRequest(exact=True, filter=_filter(where) if where else None)
        try:
            return self._shard.count(request)
        except Exception as exc:
            raise StoreError(f"count failed in {self.path}: {exc}") from exc

    def search(
        self,
        vector: Sequence[float],
        limit: int,
        *,
        where: Filter | None = None,
        threshold: float | None = None,
        exact: bool = True,
        hnsw_ef: int | None = None,
    ) -> list[Hit]:
        request = qe.QueryRequest(
            limit=limit,
            query=qe.Query.Nearest(list(vector)),
            filter=_filter(where) if where else None,
            score_threshold=threshold,
            with_payload=True,
            params=qe.SearchParams(exact=exact, hnsw_ef=None if exact else hnsw_ef),
        )
        try:
            found = self._shard.query(request)
        except Exception as exc:
            raise StoreError(f"search failed in {self.path}: {exc}") from exc
        return [Hit(str(p.id), float(p.score), dict(p.payload or {})) for p in found]

    def retrieve(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[Record]:
        if not ids:
            return []
        try:
            found = self._shard.retrieve(list(ids), True, with_vectors)
        except Exception as exc:
            raise StoreError(f"retrieve failed in {self.path}: {exc}") from exc
        return [_record(r) for r in found]

    def sample(self, limit: int) -> list[Record]:
        try:
            found, _ = self._shard.scroll(
                qe.ScrollRequest(limit=limit, with_payload=False, with_vector=True)
            )
        except Exception as exc:
            raise StoreError(f"scroll failed in {self.path}: {exc}") from exc
        return [_record(r) for r in found]

    def build_index(self) -> bool:
        """Runs the optimizers; blocks every thread of the engine until they finish."""
        with self._lock:
            try:
                return bool(self._shard.optimize())
            except Exception as exc:
                raise StoreError(f"building the index failed in {self.path}: {exc}") from exc

    def info(self) -> StoreInfo:
        info = self._shard.info()
        return StoreInfo(
            kind="edge",
            location=self.path,
            points=info.points_count,
            indexed_vectors=info.indexed_vectors_count,
            segments=info.segments_count,
            payload_indexes={
                key: _SCHEMA_NAMES.get(index.data_type, str(index.data_type))
                for key, index in info.payload_schema.items()
            },
        )

    def close(self) -> None:
        with self._lock:
            try:
                self._shard.flush()
            finally:
                self._shard.close()

    def _update(self, operation: qe.UpdateOperation) -> None:
        try:
            self._shard.update(operation)
        except Exception as exc:
            raise StoreError(f"update failed in {self.path}: {exc}") from exc


def _translate(exc: Exception, path: str, spec: CollectionSpec) -> StoreError:
    text = str(exc)
    if "WouldBlock" in text:
        return StoreLockedError(
            f"the store at {path} is open in another process (Qdrant Edge allows one process "
            "per directory); stop the other Hydrogen supervisor using it, or point this one at "
            "another directory (configuration.data_dir / RAG_DATA_DIR)"
        )
    if "incompatible" in text.lower():
        return StoreError(
            f"the collection at {path} was created with other vector settings than "
            f"configuration.embedding.dimensions={spec.size} and "
            f"configuration.search.distance={spec.distance} ({text}); use the settings it was "
            "created with, or another configuration.collection"
        )
    return StoreError(f"cannot open the store at {path}: {text}")


def _filter(where: Filter) -> qe.Filter:
    return qe.Filter(
        must=[_condition(c) for c in where.must] or None,
        must_not=[_condition(c) for c in where.must_not] or None,
    )


def _condition(condition: Condition) -> qe.FieldCondition:
    if isinstance(condition, Range):
        return qe.FieldCondition(
            key=condition.key,
            range=qe.RangeFloat(
                gte=condition.gte, gt=condition.gt, lte=condition.lte, lt=condition.lt
            ),
        )
    if isinstance(condition, MatchAny):
        values = cast("list[str] | list[int]", list(condition.values))
        return qe.FieldCondition(key=condition.key, match=qe.MatchAny(values))
    return qe.FieldCondition(key=condition.key, match=qe.MatchValue(condition.value))


def _record(record: qe.Record) -> Record:
    # The collection has one unnamed dense vector, which comes back as a plain list.
    vector = cast("list[float] | None", record.vector if isinstance(record.vector, list) else None)
    return Record(
        id=str(record.id),
        payload=dict(record.payload or {}),
        vector=[float(x) for x in vector] if vector is not None else None,
    )
