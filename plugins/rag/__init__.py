"""The bundled ``rag`` plugin: ingestion, semantic search and grounded answers with sources.

Embeddings come from a local sentence-transformers model (all-MiniLM-L6-v2 by default), vectors
live in Qdrant (the embedded Qdrant Edge engine, or a server at ``qdrant.url``), and answers are
composed from the retrieved text by an extractive answerer or an OpenAI-compatible endpoint.
The handshake does not wait for torch: the model loads in the background (see ``service``).
"""

from __future__ import annotations

import os
from typing import Any

from .service import RagService
from .settings import parse_settings
from .tools import TOOL_CLASSES

__all__ = ["RagPlugin"]


class RagPlugin:
    """Built by the worker with the whole plugin.yaml mapping (``${VAR}`` already resolved).

    The configuration is checked here, so a bad setting fails the plugin's start naming the
    key. The worker's current directory is its private work dir.
    """

    def __init__(self, manifest: dict[str, Any]) -> None:
        self.settings = parse_settings(manifest.get("configuration"))
        self.service = RagService(self.settings, work_dir=os.getcwd())

    def startup(self) -> None:
        self.service.start()

    def create_tool(self, name: str) -> Any:
        cls = TOOL_CLASSES.get(name)
        if cls is None:
            raise ValueError(f"unknown tool {name!r}; this plugin has {', '.join(TOOL_CLASSES)}")
        return cls(self.service)

    def health(self) -> dict[str, Any]:
        return self.service.health()

    def shutdown(self) -> None:
        self.service.close()
