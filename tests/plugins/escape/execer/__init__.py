"""exec replaces the confined worker's program: a shell, or a binary copied into a memfd (no
path for Landlock to check). Denied by seccomp; the worker must live on unchanged."""

import ctypes
import errno
import os
import shutil
import sys
from typing import Any

LIBC = ctypes.CDLL(None, use_errno=True)
SHELL = "/bin/sh"
# <asm/unistd_64.h>, <linux/fcntl.h>
SYS_EXECVEAT = 322
AT_EMPTY_PATH = 0x1000


def argv(*args: bytes) -> Any:
    return (ctypes.c_char_p * (len(args) + 1))(*args, None)


class ExecShell:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        os.execv(SHELL, [SHELL, "-c", "echo escaped"])
        return {"exec": "returned"}


class ExecShellRaw:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        ctypes.set_errno(0)
        LIBC.execv(SHELL.encode(), argv(SHELL.encode()))
        execv = errno.errorcode[ctypes.get_errno()]
        memfd = os.memfd_create("payload")
        try:
            # The interpreter: a binary the sandbox lets it read (/bin is not granted).
            interpreter = os.path.realpath(sys.executable)
            with open(interpreter, "rb") as binary, os.fdopen(os.dup(memfd), "wb") as copy:
                shutil.copyfileobj(binary, copy)
            ctypes.set_errno(0)
            LIBC.syscall(SYS_EXECVEAT, memfd, b"", argv(b"payload"), argv(), AT_EMPTY_PATH)
            execveat = errno.errorcode[ctypes.get_errno()]
        finally:
            os.close(memfd)
        return {"execv": execv, "execveat_memfd": execveat}


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class ExecerPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"exec_shell": ExecShell, "exec_shell_raw": ExecShellRaw, "execer_ping": Ping}[
            name
        ]()
