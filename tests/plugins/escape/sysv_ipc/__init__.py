"""System V IPC has no paths, so Landlock never sees it, and its objects belong to the host's
IPC namespace: a uid-0 worker may attach any root-owned segment (the supervisor's, a database's)
and create segments, queues and semaphores that outlive the worker and its cgroup."""

import ctypes
import errno
import os
from typing import Any

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.shmat.restype = ctypes.c_void_p
SHMAT_FAILED = ctypes.c_void_p(-1).value
IPC_PRIVATE = 0
IPC_CREAT_0600 = 0o1600
SEGMENT_BYTES = 1 << 20
READ_BYTES = 64


def answer(result: int) -> str:
    return errno.errorcode[ctypes.get_errno()] if result < 0 else "created"


class AttachSegment:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        ctypes.set_errno(0)
        address = LIBC.shmat(params["shmid"], None, 0)
        results: dict[str, Any] = {}
        if address in (None, SHMAT_FAILED):
            results["shmat"] = errno.errorcode[ctypes.get_errno()]
        else:
            results["shmat"] = ctypes.string_at(address, READ_BYTES).rstrip(b"\0").decode()
            LIBC.shmdt(ctypes.c_void_p(address))
        ctypes.set_errno(0)
        results["shmget"] = answer(LIBC.shmget(IPC_PRIVATE, SEGMENT_BYTES, IPC_CREAT_0600))
        ctypes.set_errno(0)
        results["msgget"] = answer(LIBC.msgget(IPC_PRIVATE, IPC_CREAT_0600))
        ctypes.set_errno(0)
        results["semget"] = answer(LIBC.semget(IPC_PRIVATE, 1, IPC_CREAT_0600))
        return results


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class SysvIpcPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"attach_segment": AttachSegment, "sysv_ipc_ping": Ping}[name]()
