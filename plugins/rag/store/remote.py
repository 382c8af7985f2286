"""A Qdrant server (or cluster) through qdrant-client: the store when ``qdrant.url`` is set.

The same class serves qdrant-client's in-process local mode (``QdrantClient(":memory:")``), which
speaks the same client API; the contract tests use that, as no Qdrant server runs here. The
server builds its HNSW index in the background by itself, so ``build_index`` does nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Final, cast

from qdrant_client import QdrantClient
from qdrant_client.http import models

from ..errors import StoreError
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

__all__ = ["RemoteStore"]

# Seconds for one request to the server.
DEFAULT_TIMEOUT: Final = 10.0


class RemoteStore:
    kind: Final = "remote"

    def __init__(self, client: QdrantClient, spec: CollectionSpec, location: str) -> None:
        self._client = client
        self.spec = spec
        self.location = location
        # qdrant-client's local mode is not thread-safe; the lock costs a server nothing.
        self._lock = threading.Lock()
        try:
            self._ensure_collection()
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(
                f"cannot prepare collection {spec.name!r} at {location}: {exc}"
            ) from exc

    @classmethod
    def connect(
        cls, url: str, spec: CollectionSpec, *, api_key: str | None, timeout: float
    ) -> RemoteStore:
        client = QdrantClient(url=url, api_key=api_key or None, timeout=int(timeout))
        return cls(client, spec, url)

    def _ensure_collection(self) -> None:
        m = models
        name = self.spec.name
        distance = {"cosine": m.Distance.COSINE, "dot": m.Distance.DOT}[self.spec.distance]
        if not self._client.collection_exists(name):
            self._client.create_collection(
                name,
                vectors_config=m.VectorParams(size=self.spec.size, distance=distance),
                hnsw_config=m.HnswConfigDiff(
                    m=self.spec.hnsw_m, ef_construct=self.spec.hnsw_ef_construct
                ),
            )
        params = self._client.get_collection(name).config.params.vectors
        if not isinstance(params, m.VectorParams) or (
            params.size != self.spec.size or params.distance != distance
        ):
            raise StoreError(
                f"collection {name!r} at {self.location} has vectors {params}, not size "
                f"{self.spec.size} and {self.spec.distance} (configuration.embedding.dimensions, "
                "configuration.search.distance); use another configuration.collection"
            )
        schema = self._client.get_collection(name).payload_schema
        kinds = {
            "keyword": m.PayloadSchemaType.KEYWORD,
            "integer": m.PayloadSchemaType.INTEGER,
            "float": m.PayloadSchemaType.FLOAT,
            "bool": m.PayloadSchemaType.BOOL,
        }
        for key, kind in self.spec.indexes:
            if key not in schema:
                self._client.create_payload_index(name, key, field_schema=kinds[kind], wait=True)

    def upsert(self, points: Sequence[Point]) -> None:
        if not points:
            return
        batch = [
            models.PointStruct(id=p.id, vector=list(p.vector), payload=p.payload) for p in points
        ]
        with self._lock:
            self._call("upsert", lambda: self._client.upsert(self.spec.name, batch, wait=True))

    def delete(self, where: Filter) -> None:
        selector = models.FilterSelector(filter=_filter(where))
        with self._lock:
            self._call("delete", lambda: self._client.delete(self.spec.name, selector, wait=True))

    def count(self, where: Filter | None = None) -> int:
        query = _filter(where) if where else None
        with self._lock:
            result = self._call(
                "count", lambda: self._client.count(self.spec.name, query, exact=True)
            )
        return int(result.count)

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
        params = models.SearchParams(exact=exact, hnsw_ef=None if exact else hnsw_ef)
        with self._lock:
            response = self._call(
                "search",
                lambda: self._client.query_points(
                    self.spec.name,
                    query=list(vector),
                    query_filter=_filter(where) if where else None,
                    search_params=params,
                    limit=limit,
                    with_payload=True,
                    score_threshold=threshold,
                ),
            )
        return [Hit(str(p.id), float(p.score), dict(p.payload or {})) for p in response.points]

    def retrieve(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[Record]:
        if not ids:
            return []
        with self._lock:
            found = self._call(
                "retrieve",
                lambda: self._client.retrieve(
                    self.spec.name, list(ids), with_payload=True, with_vectors=with_vectors
                ),
            )
        return [_record(r) for r in found]

    def sample(self, limit: int) -> list[Record]:
        with self._lock:
            found, _ = self._call(
                "scroll",
                lambda: self._client.scroll(
                    self.spec.name, limit=limit, with_payload=False, with_vectors=True
                ),
            )
        return [_record(r) for r in found]

    def build_index(self) -> bool:
        return False

    def info(self) -> StoreInfo:
        with self._lock:
            info = self._call("info", lambda: self._client.get_collection(self.spec.name))
        return StoreInfo(
            kind="remote",
            location=self.location,
            points=int(info.points_count or 0),
            indexed_vectors=int(info.indexed_vectors_count or 0),
            segments=info.segments_count,
            payload_indexes={
                key: str(getattr(schema.data_type, "value", schema.data_type)).lower()
                for key, schema in info.payload_schema.items()
            },
        )

    def close(self) -> None:
        with self._lock:
            self._client.close()

    def _call(self, what: str, call: Any) -> Any:
        try:
            return call()
        except Exception as exc:
            raise StoreError(
                f"{what} on collection {self.spec.name!r} at {self.location} failed: {exc}"
            ) from exc


def _filter(where: Filter) -> models.Filter:
    return models.Filter(
        must=[_condition(c) for c in where.must] or None,
        must_not=[_condition(c) for c in where.must_not] or None,
    )


def _condition(condition: Condition) -> models.FieldCondition:
    if isinstance(condition, Range):
        bounds = models.Range(
            gte=condition.gte, gt=condition.gt, lte=condition.lte, lt=condition.lt
        )
        return models.FieldCondition(key=condition.key, range=bounds)
    if isinstance(condition, MatchAny):
        values = models.MatchAny(any=cast("list[str] | list[int]", list(condition.values)))
        return models.FieldCondition(key=condition.key, match=values)
    return models.FieldCondition(key=condition.key, match=models.MatchValue(value=condition.value))


def _record(record: Any) -> Record:
    vector = record.vector
    return Record(
        id=str(record.id),
        payload=dict(record.payload or {}),
        vector=[float(x) for x in vector] if isinstance(vector, list) else None,
    )
