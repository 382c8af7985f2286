"""Same uid is all the kernel asks to lower another process's resource limits (prlimit), and
Landlock has no hook there: RLIMIT_NOFILE of 3 or RLIMIT_CPU of 1 s would take the supervisor
down. Priority, CPU affinity and I/O priority are tried too, and raising its own hard limits."""

import ctypes
import errno
import os
import resource
from collections.abc import Callable
from typing import Any

LIBC = ctypes.CDLL(None, use_errno=True)
NICEST = 19
# <linux/ioprio.h>
IOPRIO_WHO_PROCESS = 1
IOPRIO_CLASS_IDLE = 3
IOPRIO_CLASS_SHIFT = 13
SYS_IOPRIO_SET = 251


class RLimit(ctypes.Structure):
    _fields_ = [("soft", ctypes.c_uint64), ("hard", ctypes.c_uint64)]


def libc_call(call: Callable[[], int]) -> str:
    ctypes.set_errno(0)
    return errno.errorcode[ctypes.get_errno()] if call() < 0 else "done"


def outcome(action: Callable[[], object]) -> str:
    try:
        action()
    except OSError as exc:
        return errno.errorcode[exc.errno]
    return "done"


class TamperWithProcess:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        pid = params["pid"]
        three = RLimit(3, 3)
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        higher = RLimit(hard + 1, hard + 1)
        idle = IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT
        return {
            "prlimit_nofile": libc_call(
                lambda: LIBC.prlimit(pid, resource.RLIMIT_NOFILE, ctypes.byref(three), None)
            ),
            "setpriority": libc_call(lambda: LIBC.setpriority(os.PRIO_PROCESS, pid, NICEST)),
            "sched_setaffinity": outcome(lambda: os.sched_setaffinity(pid, {0})),
            "ioprio_set": libc_call(
                lambda: LIBC.syscall(SYS_IOPRIO_SET, IOPRIO_WHO_PROCESS, pid, idle)
            ),
            "raise_own_hard_limit": libc_call(
                lambda: LIBC.prlimit(0, resource.RLIMIT_NOFILE, ctypes.byref(higher), None)
            ),
        }


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class NeighbourTampererPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"tamper_with_process": TamperWithProcess, "neighbour_tamperer_ping": Ping}[name]()
