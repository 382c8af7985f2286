import asyncio
import logging
import os
from pathlib import Path
from typing import Any

from runtime.plugin_api import report_progress

log = logging.getLogger("mcpkit")


class Slow:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        report_progress(0, None, "started")  # tells a test the call reached the worker
        await asyncio.sleep(params["seconds"])
        if params.get("marker"):
            Path(params["marker"]).write_text("finished")  # noqa: ASYNC240 - tiny, and the point
        return {"slept": params["seconds"]}


class Progress:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        steps = params["steps"]
        for step in range(1, steps + 1):
            report_progress(step, steps, f"step {step}")
            await asyncio.sleep(0.01)
        return {"steps": steps}


class Chatty:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        log.debug("chatty debug")
        log.info("chatty info")
        log.warning("chatty warning")
        log.error("chatty error")
        return {"logged": 4}


class Fail:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        raise ValueError("mcpkit failed on purpose")


class Crash:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        os._exit(3)


class McpKitPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"slow": Slow, "progress": Progress, "chatty": Chatty, "fail": Fail, "crash": Crash}[
            name
        ]()
