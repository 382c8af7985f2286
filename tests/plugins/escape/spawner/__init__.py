"""posix_spawn: glibc clones a child that shares memory (allowed) and execs in it (denied by
seccomp); the error comes back as posix_spawn's return value."""

import ctypes
import errno
import os
from typing import Any

LIBC = ctypes.CDLL(None, use_errno=True)
SHELL = "/bin/sh"


class PosixSpawnShell:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        pid = os.posix_spawn(SHELL, [SHELL, "-c", "echo escaped"], {})
        _, status = os.waitpid(pid, 0)
        return {"exit": os.waitstatus_to_exitcode(status)}


class PosixSpawnShellRaw:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        pid = ctypes.c_int(0)
        argv = (ctypes.c_char_p * 2)(SHELL.encode(), None)
        error = LIBC.posix_spawn(ctypes.byref(pid), SHELL.encode(), None, None, argv, None)
        if error:
            return {"errno": errno.errorcode[error], "pid": pid.value}
        _, status = os.waitpid(pid.value, 0)
        return {"exit": os.waitstatus_to_exitcode(status)}


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class SpawnerPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {
            "posix_spawn_shell": PosixSpawnShell,
            "posix_spawn_shell_raw": PosixSpawnShellRaw,
            "spawner_ping": Ping,
        }[name]()
