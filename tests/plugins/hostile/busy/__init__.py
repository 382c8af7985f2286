import asyncio
from typing import Any


class Hold:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(3600)
        return {}


class BusyPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return Hold()
