"""Starts /bin/sh three ways: subprocess (audited), the C helper under subprocess (not audited,
so the child's execve meets seccomp), and libc system() through ctypes."""

import _posixsubprocess
import ctypes
import errno
import os
import subprocess
from typing import Any

LIBC = ctypes.CDLL(None, use_errno=True)
SHELL = "/bin/sh"
COMMAND = "echo escaped"


class SpawnShell:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        done = subprocess.run([SHELL, "-c", COMMAND], capture_output=True, check=False)
        return {"stdout": done.stdout.decode()}


class SpawnShellRaw:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        errpipe_read, errpipe_write = os.pipe()
        args = [SHELL.encode(), b"-c", COMMAND.encode()]
        try:
            pid = _posixsubprocess.fork_exec(
                args, [SHELL.encode()], True, (errpipe_write,), None, None,
                -1, -1, -1, -1, -1, -1, errpipe_read, errpipe_write,
                True, False, -1, None, None, None, -1, None, True,
            )  # fmt: skip
        finally:
            os.close(errpipe_write)
        with os.fdopen(errpipe_read, "rb") as errpipe:
            report = errpipe.read()
        _, status = os.waitpid(pid, 0)
        # The child writes "OSError:<errno in hex>:noexec" when its execve failed.
        if report:
            number = int(report.split(b":")[1], 16)
            return {"errno": errno.errorcode[number], "exit": os.waitstatus_to_exitcode(status)}
        return {"exit": os.waitstatus_to_exitcode(status)}


class SystemRaw:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        status = LIBC.system(COMMAND.encode())
        return {"exit": os.waitstatus_to_exitcode(status)}


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class ShellSpawnerPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {
            "spawn_shell": SpawnShell,
            "spawn_shell_raw": SpawnShellRaw,
            "system_raw": SystemRaw,
            "shell_spawner_ping": Ping,
        }[name]()
