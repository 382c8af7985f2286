"""Declares LD_PRELOAD and PYTHONPATH, hoping the host has them set; never admitted under a
profile that does not grant them, so this code never runs."""

import os
from typing import Any


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid(), "ld_preload": os.environ.get("LD_PRELOAD")}


class LoaderHijackerPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"loader_hijacker_ping": Ping}[name]()
