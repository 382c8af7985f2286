import os
import sys
import time
from typing import Any

PAGE = 4096


class Counter:
    bumps = 0


class Bump:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        Counter.bumps += 1
        return {"count": Counter.bumps}


class Count:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"count": Counter.bumps}


class Fail:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        raise ValueError(f"cannot handle {params!r}")


class Crash:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        sys.stderr.write(f"crashing on {params!r}\n")
        sys.stderr.flush()
        os._exit(5)


class Burn:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        block = bytearray(params["mb"] * 1024 * 1024)
        for offset in range(0, len(block), PAGE):
            block[offset] = 1
        deadline = time.thread_time() + params["ms"] / 1000
        spins = 0
        while time.thread_time() < deadline:
            spins += 1
        return {"spins": spins, "held": len(block)}


class LeakyPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {
            "leaky_bump": Bump,
            "leaky_count": Count,
            "leaky_fail": Fail,
            "leaky_crash": Crash,
            "leaky_burn": Burn,
        }[name]()
