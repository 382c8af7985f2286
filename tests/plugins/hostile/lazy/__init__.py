import os
from typing import Any


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class LazyPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return Ping()
