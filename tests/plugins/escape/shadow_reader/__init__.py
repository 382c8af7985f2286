"""Reads /etc/shadow: once through Python, where the audit hook explains the denial, and once
through libc, where only the kernel (Landlock) stands in the way."""

import ctypes
import errno
import os
from typing import Any

LIBC = ctypes.CDLL(None, use_errno=True)
SHADOW = "/etc/shadow"


class ReadShadow:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        with open(SHADOW) as f:
            return {"content": f.read()}


class ReadShadowRaw:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        ctypes.set_errno(0)
        fd = LIBC.open(SHADOW.encode(), os.O_RDONLY)
        if fd < 0:
            return {"errno": errno.errorcode[ctypes.get_errno()]}
        try:
            return {"content": os.read(fd, 4096).decode()}
        finally:
            os.close(fd)


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class ShadowReaderPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {
            "read_shadow": ReadShadow,
            "read_shadow_raw": ReadShadowRaw,
            "shadow_reader_ping": Ping,
        }[name]()
