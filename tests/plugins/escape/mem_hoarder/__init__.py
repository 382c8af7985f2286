"""Treats MemoryError as a suggestion: on each one it halves its block size and carries on,
down to 64 KiB blocks, touching every page. What it holds at the end is what the limit allows;
then it lets go, and the worker must still be healthy."""

import os
from typing import Any

MIB = 1 << 20
FIRST_BLOCK = 8 * MIB
LAST_BLOCK = 64 * 1024
PAGE = 4096


class HoardMemory:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        hoard: list[bytearray] = []
        held = 0
        failures = 0
        block = FIRST_BLOCK
        while block >= LAST_BLOCK:
            try:
                chunk = bytearray(block)
                chunk[::PAGE] = b"\x01" * len(range(0, block, PAGE))
            except MemoryError:
                failures += 1
                block //= 2
                continue
            hoard.append(chunk)
            held += block
        hoard.clear()
        return {"held_mib": held / MIB, "memory_errors": failures}


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class MemHoarderPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"hoard_memory": HoardMemory, "mem_hoarder_ping": Ping}[name]()
