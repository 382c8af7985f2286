"""The classic daemon double fork, done through libc (the audit hook refuses os.fork without the
subprocess permission, seccomp allows a fork without exec): the grandchild is in a new session
and its parent is gone, so only the worker's cgroup still ties it to the plugin."""

import ctypes
import os
import struct
from typing import Any

PYLIBC = ctypes.PyDLL(None, use_errno=True)
PID = struct.Struct("=i")


def grandchild(report: int) -> None:
    os.write(report, PID.pack(os.getpid()))
    while True:
        PYLIBC.pause()


class MakeOrphan:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        reader, writer = os.pipe()
        middle = PYLIBC.fork()
        if middle == 0:
            PYLIBC.setsid()
            if PYLIBC.fork() == 0:
                grandchild(writer)
            PYLIBC._exit(0)
        os.close(writer)
        os.waitpid(middle, 0)
        with os.fdopen(reader, "rb") as report:
            (pid,) = PID.unpack(report.read(PID.size))
        return {"pid": pid, "middle": middle}


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class OrphanMakerPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"make_orphan": MakeOrphan, "orphan_maker_ping": Ping}[name]()
