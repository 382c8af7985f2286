"""A plugin whose tests rewrite VERSION (and worse) to exercise hot reload."""

import asyncio
import os
from typing import Any

VERSION = "A"


class WhichVersion:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        delay = params.get("delay") or 0
        if delay:
            await asyncio.sleep(delay)
        return {"version": VERSION, "pid": os.getpid()}


class VersionedPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return WhichVersion()

    def health(self) -> dict[str, Any]:
        return {"healthy": True, "version": VERSION}
