"""Exhausts its descriptor table and keeps it exhausted. RLIMIT_NOFILE stops it with EMFILE;
the worker already holds every descriptor it needs to keep serving."""

import errno
import os
from typing import Any

HOARD: list[int] = []


class HoardFds:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        opened = 0
        try:
            while True:
                HOARD.append(os.open(os.devnull, os.O_RDONLY))
                opened += 1
        except OSError as exc:
            return {"errno": errno.errorcode[exc.errno], "opened": opened, "held": len(HOARD)}


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class FdHoarderPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"hoard_fds": HoardFds, "fd_hoarder_ping": Ping}[name]()
