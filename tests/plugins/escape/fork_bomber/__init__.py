"""A fork bomb. Forking needs no exec, so seccomp allows it and the subprocess permission (which
the audit hook checks on os.fork) is bypassed through libc. RLIMIT_NPROC means nothing to uid 0:
the pids cgroup's pids.max is what ends it. Children park in pause() so the machine is not
also starved of CPU; the supervisor kills the whole cgroup when it stops the plugin.

libc is called through ctypes.PyDLL, which keeps the GIL across the call, so each child starts
with the GIL held by its only thread and can go on running Python.
"""

import ctypes
import errno
import os
from typing import Any

PYLIBC = ctypes.PyDLL(None, use_errno=True)


def bomb() -> tuple[int, int]:
    forked = 0
    while True:
        ctypes.set_errno(0)
        pid = PYLIBC.fork()
        if pid == 0:
            while PYLIBC.fork() >= 0:
                pass
            while True:
                PYLIBC.pause()
        if pid < 0:
            return forked, ctypes.get_errno()
        forked += 1


class ForkPython:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        return {"forked": True}


class ForkBomb:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        forked, error = bomb()
        return {"forked": forked, "errno": errno.errorcode[error]}


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class ForkBomberPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"fork_python": ForkPython, "fork_bomb": ForkBomb, "fork_bomber_ping": Ping}[name]()
