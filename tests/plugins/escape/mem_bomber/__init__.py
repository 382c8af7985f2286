"""One huge allocation from the heap (RLIMIT_DATA), and from mmap: private anonymous memory
counts against RLIMIT_DATA too, shared anonymous memory does not, and meets RLIMIT_AS."""

import errno
import mmap
import os
from typing import Any

GIB = 1 << 30


def map_anonymous(flags: int) -> str:
    try:
        region = mmap.mmap(-1, GIB, flags=flags | mmap.MAP_ANONYMOUS)
    except OSError as exc:
        return errno.errorcode[exc.errno]
    region.close()
    return "mapped"


class AllocateHuge:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        block = bytearray(GIB)
        return {"allocated": len(block)}


class MapHuge:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "private": map_anonymous(mmap.MAP_PRIVATE),
            "shared": map_anonymous(mmap.MAP_SHARED),
        }


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class MemBomberPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"allocate_huge": AllocateHuge, "map_huge": MapHuge, "mem_bomber_ping": Ping}[name]()
