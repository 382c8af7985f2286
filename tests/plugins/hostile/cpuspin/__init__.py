import os
from typing import Any


class Spin:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        n = 0
        while True:
            n += 1


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class CpuSpinPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"spin": Spin, "cpuspin_ping": Ping}[name]()
