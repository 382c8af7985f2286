"""The five tools: thin adapters from the worker's calling convention to ``RagService``.

Each ``execute`` but search's is a plain function, so the worker runs it in its thread pool:
embedding and the store block, and must not hold up the worker's event loop (cancellation, other
calls). Search hands itself to the torch thread directly (``SearchDocumentsTool.execute``).
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

import anyio.to_thread

from .service import RagService

__all__ = ["TOOL_CLASSES"]

_STRING: Final = {"type": "string", "minLength": 1}
_ID: Final = {**_STRING, "description": "Your id; default: derived from the text."}
_METADATA: Final = {"type": "object", "description": "Flat key: value metadata."}
_FILTERS: Final = {
    "type": "object",
    "description": (
        "Metadata conditions, all of which must hold: {field: value} equals, {field: [a, b]} "
        "any of, {field: {gte, gt, lte, lt}} a range. Fields: document_id and "
        "configuration.filterable_fields."
    ),
}


class _Tool:
    name: str = ""
    description: str = ""

    def __init__(self, service: RagService) -> None:
        self._service = service

    def get_schema(self) -> dict[str, Any]:
        raise NotImplementedError


class AddDocumentTool(_Tool):
    name = "rag_add_document"
    description = (
        "Add one document (text, id, metadata) or many (documents: [...]): preprocessed, "
        "chunked with overlap, embedded and stored. Re-adding the same content changes nothing."
    )

    def get_schema(self) -> dict[str, Any]:
        document = {
            "type": "object",
            "additionalProperties": False,
            "required": ["text"],
            "properties": {
                "id": _ID,
                "text": {**_STRING, "description": "The document's text."},
                "metadata": _METADATA,
            },
        }
        chunking = self._service.settings.chunking
        return {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "documents": {"type": "array", "minItems": 1, "items": document},
                "text": {**_STRING, "description": "One document's text (instead of documents)."},
                "id": _ID,
                "metadata": _METADATA,
                "chunk_size": {"type": "integer", "minimum": 100, "maximum": 8000,
                               "default": chunking.size,
                               "description": "Characters per chunk."},
                "chunk_overlap": {"type": "integer", "minimum": 0, "maximum": 4000,
                                  "default": chunking.overlap,
                                  "description": "Characters shared by consecutive chunks."},
            },
        }  # fmt: skip

    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._service.add(params)


def _search_properties(service: RagService) -> dict[str, Any]:
    search = service.settings.search
    return {
        "top_k": {"type": "integer", "minimum": 1, "maximum": 100, "default": search.top_k},
        "similarity_threshold": {
            "type": "number", "minimum": -1, "maximum": 1,
            "default": search.similarity_threshold,
            "description": "Leave out chunks whose cosine similarity to the query is lower.",
        },
        "filters": _FILTERS,
    }  # fmt: skip


class SearchDocumentsTool(_Tool):
    name = "rag_search_documents"
    description = (
        "Semantic search: the chunks most similar to the query, with score, text, metadata "
        "and document id, above a similarity threshold and matching metadata filters."
    )

    def get_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "additionalProperties": False,
            "required": ["query"],
            "properties": {"query": _STRING, **_search_properties(self._service)},
        }

    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        """Once everything is loaded, the search runs on the torch thread straight from the
        event loop: one thread hand-off instead of two (pool thread, then torch thread), about
        half a millisecond of a 7-10 ms search here. Until then it waits in a pool thread."""
        embedder = self._service.ready_embedder()
        if embedder is None:
            return await anyio.to_thread.run_sync(self._service.search, params)
        return await asyncio.wrap_future(embedder.submit(self._service.search, params))


class QueryWithContextTool(_Tool):
    name = "rag_query_with_context"
    description = (
        "Answer a question from the stored documents: retrieve, assemble a context within a "
        "budget, generate a cited answer, and return it with the sources and scores it used."
    )

    def get_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "additionalProperties": False,
            "required": ["question"],
            "properties": {
                "question": _STRING,
                **_search_properties(self._service),
                "context_budget": {
                    "type": "integer", "minimum": 200, "maximum": 200_000,
                    "default": self._service.settings.answer.context_budget_chars,
                    "description": "Characters of retrieved text the answer may draw on.",
                },
                "answerer": {
                    "enum": ["auto", "extractive", "ai_provider"], "default": "auto",
                    "description": "auto: the AI provider if configured, else extractive.",
                },
            },
        }  # fmt: skip

    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._service.query(params)


class DeleteDocumentTool(_Tool):
    name = "rag_delete_document"
    description = "Delete documents (every chunk of them) by id."

    def get_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "document_id": _STRING,
                "document_ids": {"type": "array", "items": _STRING, "minItems": 1,
                                 "maxItems": 1000},
            },
        }  # fmt: skip

    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._service.delete(params)


class CollectionStatsTool(_Tool):
    name = "rag_collection_stats"
    description = (
        "Documents and chunks stored, where and how (embedded or remote Qdrant, search mode, "
        "indexes), and the state of the embedding model and AI provider."
    )

    def get_schema(self) -> dict[str, Any]:
        return {"type": "object", "additionalProperties": False, "properties": {}}

    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._service.stats()


TOOL_CLASSES: Final[dict[str, type[_Tool]]] = {
    cls.name: cls
    for cls in (
        AddDocumentTool,
        SearchDocumentsTool,
        QueryWithContextTool,
        DeleteDocumentTool,
        CollectionStatsTool,
    )
}
