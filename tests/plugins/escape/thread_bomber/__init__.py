"""A thread bomb. With the default 8 MiB stacks RLIMIT_DATA would stop it early (thread stacks
are private writable memory); with 64 KiB stacks only the pids cgroup, which counts threads,
can. The threads park forever; the supervisor kills them with the worker."""

import os
import threading
from typing import Any

SMALL_STACK = 64 * 1024
PARKED = threading.Event()


class ThreadBomb:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        threading.stack_size(SMALL_STACK)
        started = 0
        try:
            while True:
                threading.Thread(target=PARKED.wait, daemon=True).start()
                started += 1
        except RuntimeError as exc:
            return {"threads": started, "error": str(exc)}
        finally:
            threading.stack_size(0)


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class ThreadBomberPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"thread_bomb": ThreadBomb, "thread_bomber_ping": Ping}[name]()
