"""A new user namespace hands back a full capability set (inside it), which is the first step
of most container escapes; setns would rejoin the host's network namespace; chroot and mount
would rearrange the filesystem Landlock reasons about."""

import ctypes
import errno
import os
from typing import Any

LIBC = ctypes.CDLL(None, use_errno=True)
# A clone that succeeded must not return into this thread's Python state without the GIL.
PYLIBC = ctypes.PyDLL(None, use_errno=True)
# <linux/sched.h>
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
SIGCHLD = 17
# <asm/unistd_64.h>
SYS_CLONE = 56
SYS_CLONE3 = 435
# <linux/capability.h>
CAPABILITY_VERSION_3 = 0x20080522


class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]  # fmt: skip


def answer(result: int) -> str:
    return errno.errorcode[ctypes.get_errno()] if result < 0 else "done"


def clone(flags: int) -> str:
    ctypes.set_errno(0)
    pid = PYLIBC.syscall(SYS_CLONE, ctypes.c_long(flags | SIGCHLD), None, None, None, None)
    if pid == 0:
        PYLIBC._exit(0)
    if pid > 0:
        os.waitpid(pid, 0)
    return answer(pid)


def effective_capabilities() -> int:
    header = CapHeader(CAPABILITY_VERSION_3, 0)
    data = (CapData * 2)()
    if LIBC.capget(ctypes.byref(header), data) != 0:
        return -1
    return data[0].effective | data[1].effective << 32


class HopNamespaces:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        results = {}
        for name, flags in (
            ("user", CLONE_NEWUSER),
            ("mount", CLONE_NEWNS),
            ("pid", CLONE_NEWPID),
            ("net", CLONE_NEWNET),
        ):
            ctypes.set_errno(0)
            results[f"unshare_{name}"] = answer(LIBC.unshare(flags))
        results["clone_newuser"] = clone(CLONE_NEWUSER)
        ctypes.set_errno(0)
        results["clone3"] = answer(LIBC.syscall(SYS_CLONE3, None, 0))
        pidfd = os.pidfd_open(params["pid"])
        try:
            ctypes.set_errno(0)
            results["setns"] = answer(LIBC.setns(pidfd, CLONE_NEWNET))
        finally:
            os.close(pidfd)
        ctypes.set_errno(0)
        results["chroot"] = answer(LIBC.chroot(b"."))
        ctypes.set_errno(0)
        results["mount"] = answer(LIBC.mount(b"none", b".", b"tmpfs", 0, None))
        results["effective_capabilities"] = effective_capabilities()
        return results


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class NamespaceHopperPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"hop_namespaces": HopNamespaces, "namespace_hopper_ping": Ping}[name]()
