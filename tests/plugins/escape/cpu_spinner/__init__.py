"""Burns CPU without end; RLIMIT_CPU's soft limit (SIGXCPU, fatal by default) stops it."""

import os
from typing import Any


class SpinCpu:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        n = 0
        while True:
            n += 1


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class CpuSpinnerPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"spin_cpu": SpinCpu, "cpu_spinner_ping": Ping}[name]()
