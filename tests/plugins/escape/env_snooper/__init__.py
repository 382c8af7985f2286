"""What of the supervisor's environment reaches the worker: its own environment, its import
path (PYTHONPATH, sitecustomize), and the supervisor's /proc/<pid>/environ read directly."""

import ctypes
import errno
import os
import sys
from typing import Any

LIBC = ctypes.CDLL(None, use_errno=True)


def parent_environ() -> str:
    ctypes.set_errno(0)
    fd = LIBC.open(f"/proc/{os.getppid()}/environ".encode(), os.O_RDONLY)
    if fd < 0:
        return errno.errorcode[ctypes.get_errno()]
    try:
        return os.read(fd, 1 << 16).decode(errors="replace")
    finally:
        os.close(fd)


class ReadEnvironment:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        site = sys.modules.get("sitecustomize")
        return {
            "environ": dict(os.environ),
            "sys_path": list(sys.path),
            "sitecustomize": getattr(site, "__file__", None),
            "isolated": sys.flags.isolated,
            "parent_environ": parent_environ(),
        }


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class EnvSnooperPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"read_environment": ReadEnvironment, "env_snooper_ping": Ping}[name]()
