import os
from typing import Any

MIB = 1024 * 1024


class Allocate:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        block = bytearray(params["mib"] * MIB)
        return {"allocated": len(block)}


class Hoard:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        hoard = []
        while True:
            hoard.append(bytearray(8 * MIB))


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class MemHogPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"allocate": Allocate, "hoard": Hoard, "memhog_ping": Ping}[name]()
