"""clone(CLONE_PARENT) makes the new process a child of the caller's parent: the supervisor. It
is then outside the worker's process tree (a psutil walk from the worker misses it), and when it
exits it stays a zombie of the supervisor, which never waits for children it did not start."""

import ctypes
import errno
import os
from typing import Any

PYLIBC = ctypes.PyDLL(None, use_errno=True)
SYS_CLONE = 56
CLONE_PARENT = 0x00008000
SIGCHLD = 17


class CloneSibling:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        ctypes.set_errno(0)
        pid = PYLIBC.syscall(
            SYS_CLONE, ctypes.c_long(CLONE_PARENT | SIGCHLD), None, None, None, None
        )
        if pid == 0:
            PYLIBC._exit(0)
        if pid < 0:
            return {"clone": errno.errorcode[ctypes.get_errno()]}
        return {"clone": "done", "pid": pid}


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class ParentClonerPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"clone_sibling": CloneSibling, "parent_cloner_ping": Ping}[name]()
