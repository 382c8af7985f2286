"""Declares every kind of permission beyond the strict profile; admission refuses it, so this
code never runs."""

import os
from typing import Any


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class OverreacherPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"overreacher_ping": Ping}[name]()
