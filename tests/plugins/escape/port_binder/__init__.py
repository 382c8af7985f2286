"""A plugin that listens is a backdoor into the host's network namespace. bind(2) is one way to
get a port; listen(2) on an unbound socket is another: the kernel picks an ephemeral port."""

import ctypes
import errno
import os
import socket
import struct
from typing import Any

LIBC = ctypes.CDLL(None, use_errno=True)
BACKLOG = 8


def sockaddr_in(port: int) -> bytes:
    return struct.pack("=HH4s8x", socket.AF_INET, socket.htons(port), socket.inet_aton("127.0.0.1"))


def on_fresh_socket(action: str, port: int = 0) -> dict[str, Any]:
    fd = LIBC.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
    if fd < 0:
        return {"errno": errno.errorcode[ctypes.get_errno()]}
    try:
        ctypes.set_errno(0)
        if action == "bind":
            address = sockaddr_in(port)
            result = LIBC.bind(fd, address, len(address))
        else:
            result = LIBC.listen(fd, BACKLOG)
        if result < 0:
            return {"errno": errno.errorcode[ctypes.get_errno()]}
        with socket.socket(fileno=os.dup(fd)) as sock:
            return {"listening_on": sock.getsockname()[1]}
    finally:
        os.close(fd)


class BindPort:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", params["port"]))
        return {"bound": True}


class BindPortRaw:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "bind_port": on_fresh_socket("bind", params["port"]),
            "bind_any_port": on_fresh_socket("bind", 0),
            "listen_unbound": on_fresh_socket("listen"),
        }


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class PortBinderPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"bind_port": BindPort, "bind_port_raw": BindPortRaw, "port_binder_ping": Ping}[
            name
        ]()
