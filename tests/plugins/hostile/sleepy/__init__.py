import asyncio
import os
import time
from typing import Any


class SleepAsync:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(params["seconds"])
        return {"slept": params["seconds"]}


class BlockSync:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        time.sleep(params["seconds"])
        return {"slept": params["seconds"]}


class BlockAsync:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        time.sleep(params["seconds"])  # noqa: ASYNC251 - blocking the event loop is the point
        return {"slept": params["seconds"]}


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class SleepyPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {
            "sleep_async": SleepAsync,
            "block_sync": BlockSync,
            "block_async": BlockAsync,
            "sleepy_ping": Ping,
        }[name]()
