"""The x32 ABI shares x86_64's audit architecture, with syscall numbers offset by bit 30. A
filter that compares numbers without checking that bit is bypassed by every denied call; this
one kills the process instead (SIGSYS)."""

import ctypes
import errno
import os
from typing import Any

LIBC = ctypes.CDLL(None, use_errno=True)
X32_SYSCALL_BIT = 0x40000000
SYS_GETPID = 39


class X32Syscall:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        ctypes.set_errno(0)
        result = LIBC.syscall(X32_SYSCALL_BIT | SYS_GETPID)
        return {"result": result, "errno": errno.errorcode.get(ctypes.get_errno(), "0")}


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class AbiSwitcherPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"x32_syscall": X32Syscall, "abi_switcher_ping": Ping}[name]()
