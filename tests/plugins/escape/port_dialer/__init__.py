"""Granted 127.0.0.1:29517 only: connects to other ports (the supervisor's own listeners) and
to the granted port on another address. The worker shares the host's network namespace, so
only Landlock's TCP port rules stand between it and every service on the machine."""

import ctypes
import errno
import os
import socket
import struct
from typing import Any

LIBC = ctypes.CDLL(None, use_errno=True)


def sockaddr_in(host: str, port: int) -> bytes:
    return struct.pack("=HH4s8x", socket.AF_INET, socket.htons(port), socket.inet_aton(host))


class DialPort:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        socket.create_connection((params["host"], params["port"]), timeout=2).close()
        return {"connect": "connected"}


class DialPortRaw:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        ctypes.set_errno(0)
        fd = LIBC.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
        if fd < 0:
            return {"socket": errno.errorcode[ctypes.get_errno()]}
        try:
            address = sockaddr_in(params["host"], params["port"])
            ctypes.set_errno(0)
            if LIBC.connect(fd, address, len(address)) < 0:
                return {"connect": errno.errorcode[ctypes.get_errno()]}
            return {"connect": "connected"}
        finally:
            os.close(fd)


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class PortDialerPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {
            "dial_port": DialPort,
            "dial_port_raw": DialPortRaw,
            "port_dialer_ping": Ping,
        }[name]()
