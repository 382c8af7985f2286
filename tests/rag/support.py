"""Helpers of the rag tests: supervisors over the bundled plugin, corpus loading, recall."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from runtime import Supervisor
from tests.conftest import BUNDLED_PLUGINS, PROFILES_DIR
from tests.rag.corpus import QUERIES, documents_payload

__all__ = [
    "PLUGIN_DIR",
    "ingest_corpus",
    "rag_environ",
    "recall_at",
    "supervisor",
]

PLUGIN_DIR: Final = BUNDLED_PLUGINS / "rag"
# Every variable the plugin reads, so a developer's own settings never leak into a test.
RAG_VARIABLES: Final = (
    "RAG_DATA_DIR",
    "RAG_MODEL_PATH",
    "QDRANT_URL",
    "QDRANT_API_KEY",
    "RAG_AI_BASE_URL",
    "RAG_AI_MODEL",
    "RAG_AI_API_KEY",
)


def rag_environ(data_dir: Path | None, **extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k not in RAG_VARIABLES}
    if data_dir is not None:
        environ["RAG_DATA_DIR"] = str(data_dir)
    return environ | extra


def supervisor(environ: Mapping[str, str], **kwargs: Any) -> Supervisor:
    """The bundled rag plugin under the real ml profile, gated as in production."""
    return Supervisor([PLUGIN_DIR], profiles_dir=PROFILES_DIR, environ=environ, **kwargs)


async def ingest_corpus(sup: Supervisor) -> dict[str, Any]:
    return await sup.call("rag_add_document", {"documents": documents_payload()})


async def recall_at(
    sup: Supervisor, k: int, queries: Sequence[tuple[str, str]] = QUERIES, **params: Any
) -> float:
    """Share of queries whose expected document is among the top ``k`` results."""
    found = 0
    for query, expected in queries:
        result = await sup.call("rag_search_documents", {"query": query, "top_k": k, **params})
        found += expected in {hit["document_id"] for hit in result["results"]}
    return found / len(queries)
