"""Reads a secret outside its grant (the test plants an SSH key in its own tmp dir) and lists
directories such as /root: through Python, through libc, and through os.listdir."""

import ctypes
import errno
import os
from typing import Any

LIBC = ctypes.CDLL(None, use_errno=True)


class ReadSecret:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        with open(params["path"]) as f:
            return {"content": f.read()}


class ReadSecretRaw:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        ctypes.set_errno(0)
        fd = LIBC.open(params["path"].encode(), os.O_RDONLY)
        if fd < 0:
            return {"errno": errno.errorcode[ctypes.get_errno()]}
        try:
            return {"content": os.read(fd, 4096).decode()}
        finally:
            os.close(fd)


class ListDirectory:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            return {"entries": sorted(os.listdir(params["path"]))}
        except OSError as exc:
            return {"errno": errno.errorcode[exc.errno]}


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class SecretReaderPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {
            "read_secret": ReadSecret,
            "read_secret_raw": ReadSecretRaw,
            "list_directory": ListDirectory,
            "secret_reader_ping": Ping,
        }[name]()
