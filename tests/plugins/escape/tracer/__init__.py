"""Reaches into another process: ptrace it, read its memory with process_vm_readv, copy one of
its file descriptors with pidfd_getfd, compare its files with kcmp. All through ctypes."""

import ctypes
import errno
import os
from typing import Any

LIBC = ctypes.CDLL(None, use_errno=True)
# <linux/ptrace.h>
PTRACE_TRACEME = 0
PTRACE_ATTACH = 16
PTRACE_SEIZE = 0x4206
# <asm/unistd_64.h>
SYS_KCMP = 312
SYS_PIDFD_GETFD = 438
KCMP_FILE = 0


class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def answer(result: int) -> str:
    return errno.errorcode[ctypes.get_errno()] if result < 0 else "done"


class TraceProcess:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        pid = params["pid"]
        buffer = ctypes.create_string_buffer(64)
        local = IoVec(ctypes.cast(buffer, ctypes.c_void_p), len(buffer))
        # Any address will do: the call is refused before the remote address is looked at.
        remote = IoVec(ctypes.cast(buffer, ctypes.c_void_p), len(buffer))
        results = {}
        for name, request in (("attach", PTRACE_ATTACH), ("seize", PTRACE_SEIZE)):
            ctypes.set_errno(0)
            results[f"ptrace_{name}"] = answer(LIBC.ptrace(request, pid, None, None))
        ctypes.set_errno(0)
        results["ptrace_traceme"] = answer(LIBC.ptrace(PTRACE_TRACEME, 0, None, None))
        ctypes.set_errno(0)
        results["process_vm_readv"] = answer(
            LIBC.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
        )
        pidfd = os.pidfd_open(pid)
        try:
            ctypes.set_errno(0)
            stolen = LIBC.syscall(SYS_PIDFD_GETFD, pidfd, 0, 0)
            results["pidfd_getfd"] = answer(stolen)
            if stolen >= 0:
                os.close(stolen)
        finally:
            os.close(pidfd)
        ctypes.set_errno(0)
        results["kcmp"] = answer(LIBC.syscall(SYS_KCMP, os.getpid(), pid, KCMP_FILE, 0, 0))
        return results


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class TracerPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"trace_process": TraceProcess, "tracer_ping": Ping}[name]()
