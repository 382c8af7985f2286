"""Path-based UNIX sockets (a Docker or database socket) are files that Landlock (ABI 7) does not
check on connect, and they live outside any network namespace: seccomp refuses the socket."""

import errno
import os
import socket
from typing import Any


class DialUnix:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.connect(params["path"])
        except OSError as exc:
            if exc.errno is None:  # the audit hook's Denial: let the caller read it
                raise
            return {"errno": errno.errorcode[exc.errno]}
        return {"connect": "connected"}


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class UnixDialerPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"dial_unix": DialUnix, "unix_dialer_ping": Ping}[name]()
