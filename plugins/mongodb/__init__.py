"""The bundled ``mongodb`` plugin: index creation and recommendations, collection analytics."""

from __future__ import annotations

from typing import Any, Final

import pymongo

from .tools.client import ClientPool
from .tools.context import ToolContext
from .tools.create_index import CreateIndexTool
from .tools.recommend import RecommendIndexesTool
from .tools.settings import parse_settings
from .tools.stats import CollectionStatsTool

__all__ = ["CollectionStatsTool", "CreateIndexTool", "MongoDBPlugin", "RecommendIndexesTool"]

Tool = CreateIndexTool | RecommendIndexesTool | CollectionStatsTool
TOOLS: Final[dict[str, type[Tool]]] = {
    CreateIndexTool.name: CreateIndexTool,
    RecommendIndexesTool.name: RecommendIndexesTool,
    CollectionStatsTool.name: CollectionStatsTool,
}


class MongoDBPlugin:
    """Built by the worker with the whole plugin.yaml mapping.

    The configuration is validated here, so a bad URI or timeout fails the plugin's start with
    the field named. The client is created at start-up (pymongo connects in the background) and
    shared by every tool: one connection pool per worker.
    """

    def __init__(self, manifest: dict[str, Any]) -> None:
        self.settings = parse_settings(manifest)
        self.pool = ClientPool(self.settings)
        self._context = ToolContext(self.settings, self.pool)

    def create_tool(self, name: str) -> Tool:
        tool = TOOLS.get(name)
        if tool is None:
            raise ValueError(f"unknown tool {name!r}; this plugin has {', '.join(TOOLS)}")
        return tool(self._context)

    def startup(self) -> None:
        self.pool.get()

    def shutdown(self) -> None:
        self.pool.close()

    def health(self) -> dict[str, Any]:
        """No round trip: what the client's monitors already know."""
        return {
            "healthy": True,
            "uri": self.settings.shown_uri,
            "pymongo_version": pymongo.version,
            "servers": self.pool.servers(),
            "pool": {k: v for k, v in self.settings.client_kwargs.items() if k != "appname"},
        }
