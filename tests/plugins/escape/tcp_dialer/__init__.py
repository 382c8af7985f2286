"""Network none: tries to reach a TCP service on the host's loopback. seccomp refuses the socket
itself; behind it the worker's network namespace has no usable interface at all."""

import ctypes
import errno
import os
import socket
from typing import Any

LIBC = ctypes.CDLL(None, use_errno=True)


def raw_socket(family: int) -> str:
    ctypes.set_errno(0)
    fd = LIBC.socket(family, socket.SOCK_STREAM, 0)
    if fd < 0:
        return errno.errorcode[ctypes.get_errno()]
    os.close(fd)
    return "created"


class DialTcp:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            socket.create_connection(("127.0.0.1", params["port"]), timeout=2).close()
        except OSError as exc:
            if exc.errno is None:  # the audit hook's Denial: let the caller read it
                raise
            return {"errno": errno.errorcode[exc.errno]}
        return {"connected": True}


class DialTcpRaw:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"inet": raw_socket(socket.AF_INET), "inet6": raw_socket(socket.AF_INET6)}


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class TcpDialerPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"dial_tcp": DialTcp, "dial_tcp_raw": DialTcpRaw, "tcp_dialer_ping": Ping}[name]()
