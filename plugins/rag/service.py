"""The RAG pipeline behind the tools: ingest, search, answer, delete, describe.

``RagService`` owns the store and the embedder. ``start()`` opens the store and loads the
model on a background thread (``startup``); the tools call in from the worker's thread pool and
wait for what they need. Writes are serialised by one lock so that the check-then-write of an
idempotent add cannot interleave with another add of the same document.
(``ingest`` explains how an add stays idempotent).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any, Final

from . import ingest, storage
from . import payload as keys
from .answer import compose_answer
from .documents import parse_documents
from .embedder import Embedder
from .errors import NotReadyError, StoreLockedError
from .queries import answer_request, delete_ids, search_request
from .settings import RagSettings
from .startup import Pending, start_in_background
from .store import Filter, Match, MatchAny, VectorStore

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from .provider import OpenAICompatibleProvider

__all__ = ["RagService"]

log = logging.getLogger(__name__)

SCORE_DIGITS: Final = 6
# Seconds a call waits for the store to open (it takes well under one; this is for a slow disk).
STORE_WAIT: Final = 30.0
# Seconds the start-up thread keeps trying to open a store another process holds, and between
# tries: a hot reload's old worker lets go of it within its retire grace after the swap.
LOCK_WAIT: Final = 60.0
LOCK_POLL: Final = 0.25


class RagService:
    def __init__(self, settings: RagSettings, work_dir: str) -> None:
        self.settings = settings
        # Without data_dir the store lives in the worker's private work dir and ends with it.
        self.data_dir = settings.data_dir or os.path.join(work_dir, "qdrant")
        self._store = Pending[VectorStore]("vector store", f"a fixed {STORE_WAIT:g}s")
        self._model = Pending[Embedder]("embedding model", "configuration.embedding.ready_timeout")
        self._write_lock = threading.Lock()
        self._reopen_lock = threading.Lock()
        self.exact = settings.search.mode == "exact"
        self.hnsw_recall: float | None = None
        # True while the start-up thread waits for another process to release the store.
        self.lock_waiting = False
        self._thread: threading.Thread | None = None
        self._provider: OpenAICompatibleProvider | None = None
        if settings.provider.configured:
            from .provider import OpenAICompatibleProvider

            self._provider = OpenAICompatibleProvider(settings.provider)

    # ---- start and stop ---------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            # The model first: during a hot reload the store waits for the old worker's lock,
            # which is released only after the swap, and the swap waits for the model (the
            # health hook's "ready"); store first would wait for itself.
            self._thread = start_in_background(
                [(self._model, self._load_model), (self._store, self._open_and_index)]
            )

    def _load_model(self) -> Embedder:
        return Embedder.load(self.settings.embedding)

    def _open_and_index(self) -> VectorStore:
        store = self.open_store_waiting_for_lock()
        if not self.exact:
            # optimize() blocks every engine thread, so it runs here, before any call is served.
            store.build_index()
            self.hnsw_recall = storage.measure_recall(store, self.settings.search.hnsw.ef)
            if self.hnsw_recall < self.settings.search.hnsw.min_recall:
                log.warning(
                    "HNSW recall@%d %.3f is below search.hnsw.min_recall %.2f; searching exactly",
                    storage.RECALL_K,
                    self.hnsw_recall,
                    self.settings.search.hnsw.min_recall,
                )
                self.exact = True
        return store

    def open_store_waiting_for_lock(self) -> VectorStore:
        """Open the store; while another process holds it, keep trying for a while.

        A hot reload starts the new worker beside the old one, which holds the lock until it
        is stopped, moments after the swap; the new worker must not fail for that.
        """
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                store = storage.open_store(self.settings, self.data_dir)
            except StoreLockedError:
                if time.monotonic() >= deadline:
                    self.lock_waiting = False
                    raise
                self.lock_waiting = True
                time.sleep(LOCK_POLL)
                continue
            self.lock_waiting = False
            return store

    def close(self) -> None:
        store = self._store.peek()
        if store is not None:
            with self._write_lock:
                store.close()

    def store(self) -> VectorStore:
        try:
            return self._store.wait(STORE_WAIT)
        except NotReadyError:
            if self.lock_waiting:
                raise StoreLockedError(
                    f"the store at {self.data_dir} is still open in another process (waiting "
                    f"up to {LOCK_WAIT:g}s for it, as during a hot reload); if another "
                    "supervisor uses this directory, stop it or set another RAG_DATA_DIR"
                ) from None
            raise
        except StoreLockedError:
            # The other process may have let go since: try again rather than stay broken.
            with self._reopen_lock:
                if self._store.state == "ready":
                    return self._store.wait(0)
                try:
                    store = storage.open_store(self.settings, self.data_dir)
                except StoreLockedError as exc:
                    self._store.reject(exc)
                    raise
                self._store.resolve(store)
                return store

    def embedder(self) -> Embedder:
        return self._model.wait(self.settings.embedding.ready_timeout)

    def ready_embedder(self) -> Embedder | None:
        """The embedder if the store and the model are both ready, without waiting."""
        return self._model.peek() if self._store.state == "ready" else None

    # ---- add --------------------------------------------------------------------------------

    def add(self, params: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        documents = parse_documents(params, self.settings)
        store = self.store()
        statuses: dict[str, str] = {}
        with self._write_lock:
            todo = ingest.plan(documents, store, statuses)
            # Only new content waits for the model: re-adding what is stored answers at once.
            written = ingest.write(todo, store, self.embedder()) if todo else 0
        return {
            "collection": self.settings.collection,
            "documents": [
                {"document_id": d.id, "status": statuses[d.position], "chunks": len(d.chunks)}
                for d in documents
            ],
            "added": sum(s == "added" for s in statuses.values()),
            "replaced": sum(s == "replaced" for s in statuses.values()),
            "unchanged": sum(s in ("unchanged", "duplicate") for s in statuses.values()),
            "chunks_written": written,
            "took_ms": _ms(started),
        }

    # ---- search -----------------------------------------------------------------------------

    def search(self, params: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        query, top_k, threshold, where = search_request(params, "query", self.settings)
        vector, hits = self._retrieve(query, top_k, threshold, where)
        result: dict[str, Any] = {
            "query": query,
            "results": hits,
            "count": len(hits),
            "top_k": top_k,
            "similarity_threshold": threshold,
            "search_mode": "exact" if self.exact else "hnsw",
        }
        if not hits:
            # An empty answer should say whether nothing matched or the threshold was too high:
            # question-style queries often score 0.45-0.7 against the passage that answers them.
            best = self.store().search(
                vector.tolist(), 1, where=where, exact=self.exact,
                hnsw_ef=self.settings.search.hnsw.ef,
            )  # fmt: skip
            if best:
                result["best_score"] = round(best[0].score, 4)
                result["hint"] = (
                    f"no chunk reached similarity_threshold {threshold:g} (the best scored "
                    f"{best[0].score:.2f}); pass a lower similarity_threshold, e.g. 0.4, "
                    "for question-style queries"
                )
        result["took_ms"] = _ms(started)
        return result

    def _retrieve(
        self, query: str, top_k: int, threshold: float, where: Filter | None
    ) -> tuple[npt.NDArray[np.float32], list[dict[str, Any]]]:
        store = self.store()
        vector = self.embedder().encode([query])[0]
        found = store.search(
            vector.tolist(),
            top_k,
            where=where,
            threshold=threshold,
            exact=self.exact,
            hnsw_ef=self.settings.search.hnsw.ef,
        )
        return vector, [_result(hit.score, hit.payload) for hit in found]

    # ---- query with context -----------------------------------------------------------------

    def query(self, params: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        question, top_k, threshold, where = search_request(params, "question", self.settings)
        answerer, budget = answer_request(params, self.settings, self._provider is not None)
        vector, hits = self._retrieve(question, top_k, threshold, where)
        result = compose_answer(
            question,
            vector,
            hits,
            threshold=threshold,
            budget=budget,
            provider=self._provider if answerer != "extractive" else None,
            encode=self.embedder().encode,
            max_sentences=self.settings.answer.max_sentences,
        )
        result["took_ms"] = _ms(started)
        return result

    # ---- delete and stats -------------------------------------------------------------------

    def delete(self, params: dict[str, Any]) -> dict[str, Any]:
        ids = delete_ids(params)
        store = self.store()
        deleted: list[tuple[str, int]] = []
        missing: list[str] = []
        with self._write_lock:
            for doc_id in ids:
                count = store.count(Filter(must=(Match(keys.DOCUMENT_ID, doc_id),)))
                if count:
                    deleted.append((doc_id, count))
                else:
                    missing.append(doc_id)
            if deleted:
                store.delete(
                    Filter(must=(MatchAny(keys.DOCUMENT_ID, tuple(i for i, _ in deleted)),))
                )
        return {
            "deleted": [{"document_id": i, "chunks": n} for i, n in deleted],
            "not_found": missing,
            "chunks_deleted": sum(n for _, n in deleted),
        }

    def stats(self) -> dict[str, Any]:
        store = self.store()
        info = store.info()
        settings = self.settings
        embedder = self._model.peek()
        model_error = self._model.error
        return {
            "collection": settings.collection,
            "documents": store.count(Filter(must=(Match(keys.CHUNK_INDEX, 0),))),
            "chunks": info.points,
            "store": {
                "kind": info.kind,
                "location": info.location,
                "persistent": settings.persistent,
                "indexed_vectors": info.indexed_vectors,
                "segments": info.segments,
                "payload_indexes": info.payload_indexes,
            },
            "embedding": {
                "model": settings.embedding.model,
                "dimensions": settings.embedding.dimensions,
                "state": self._model.state,
                "path": embedder.path if embedder is not None else None,
                "error": str(model_error) if model_error is not None else None,
            },
            "search": {
                "configured_mode": settings.search.mode,
                "mode": "exact" if self.exact else "hnsw",
                "hnsw_recall_at_10": self.hnsw_recall,
                "distance": settings.search.distance,
                "similarity_threshold": settings.search.similarity_threshold,
                "top_k": settings.search.top_k,
            },
            "chunking": {"size": settings.chunking.size, "overlap": settings.chunking.overlap},
            "filterable_fields": {"document_id": "keyword", **settings.field_types},
            "ai_provider": self._provider_info(),
        }

    def _provider_info(self) -> dict[str, Any]:
        if self._provider is None:
            return {"configured": False}
        return {
            "configured": True,
            "model": self._provider.model,
            "endpoint": self._provider.endpoint,
        }

    def health(self) -> dict[str, Any]:
        """Cheap: states only, no store or model calls. Waiting for the store's lock is healthy:
        it is what a hot reload's new worker does until the old one stops."""
        failed = self._store.state == "failed" or self._model.state == "failed"
        return {
            "healthy": not failed,
            # Ready to answer without waiting for the model; a hot reload swaps to a new worker
            # only once it is (the store may still wait for the old worker's lock: it is
            # released when that worker stops, after the swap).
            "ready": self._model.state == "ready"
            and (self._store.state == "ready" or self.lock_waiting),
            "store": "waiting for another process to close it"
            if self.lock_waiting
            else self._store.state,
            "embedding_model": self._model.state,
            "data_dir": self.data_dir if not self.settings.qdrant_url else None,
            "persistent": self.settings.persistent,
        }


def _result(score: float, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "document_id": payload.get(keys.DOCUMENT_ID),
        "chunk_index": payload.get(keys.CHUNK_INDEX),
        "score": round(score, SCORE_DIGITS),
        "text": payload.get(keys.TEXT, ""),
        "metadata": payload.get(keys.METADATA) or {},
    }


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
