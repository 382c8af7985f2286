"""Shared memory escapes RLIMIT_DATA, and memory no longer mapped escapes RLIMIT_AS: memfds of
32 MiB each, touched through a mapping that is dropped again, hold their pages in the kernel.
Only the memory cgroup, which charges those pages to the worker, can stop this."""

import errno
import mmap
import os
from multiprocessing import shared_memory
from typing import Any

BLOCK = 32 << 20
PAGE = 4096


class ShmOpenBomb:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            segment = shared_memory.SharedMemory(create=True, size=BLOCK)
        except OSError as exc:
            return {"errno": errno.errorcode[exc.errno]}
        segment.close()
        segment.unlink()
        return {"created": True}


class MemfdBomb:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        kept: list[int] = []
        while True:
            fd = os.memfd_create("hoard")
            kept.append(fd)
            os.ftruncate(fd, BLOCK)
            with mmap.mmap(fd, BLOCK, flags=mmap.MAP_SHARED) as region:
                region[::PAGE] = b"\x01" * (BLOCK // PAGE)


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class ShmBomberPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {
            "shm_open_bomb": ShmOpenBomb,
            "memfd_bomb": MemfdBomb,
            "shm_bomber_ping": Ping,
        }[name]()
