"""Once one UNIX socket is granted, seccomp must allow socket(AF_UNIX) for every path: only the
connect itself can tell the granted socket from the host's others. Abstract sockets are scoped
by Landlock (ABI 6+); the worker shares the host's network namespace, where they live."""

import ctypes
import errno
import os
import socket
import struct
from typing import Any

LIBC = ctypes.CDLL(None, use_errno=True)
SUN_PATH_MAX = 108


def raw_connect(address: bytes) -> dict[str, Any]:
    fd = LIBC.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0)
    if fd < 0:
        return {"socket": errno.errorcode[ctypes.get_errno()]}
    try:
        sockaddr = struct.pack("=H", socket.AF_UNIX) + address
        ctypes.set_errno(0)
        if LIBC.connect(fd, sockaddr, len(sockaddr)) < 0:
            return {"connect": errno.errorcode[ctypes.get_errno()]}
        return {"connect": "connected"}
    finally:
        os.close(fd)


class DialUnixPath:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(params["path"])
        return {"connect": "connected"}


class DialUnixPathRaw:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return raw_connect(params["path"].encode().ljust(SUN_PATH_MAX, b"\0"))


class DialAbstractRaw:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return raw_connect(b"\0" + params["name"].encode())


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class UnixHopperPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {
            "dial_unix_path": DialUnixPath,
            "dial_unix_path_raw": DialUnixPathRaw,
            "dial_abstract_raw": DialAbstractRaw,
            "unix_hopper_ping": Ping,
        }[name]()
