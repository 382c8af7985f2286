import asyncio
import os
import socket
import stat
import struct
from typing import Any

_PEERCRED = struct.Struct("3i")


def _protocol_fds() -> list[int]:
    """Sockets whose peer is another process: the supervisor's end of the socketpair.

    The event loop's self-pipe is a socketpair too, but this process made it, so its peer
    credentials carry our own pid.
    """
    found = []
    # Probe descriptors directly: the sandbox hides /proc, but fstat on our own fds still works.
    for fd in range(3, 1024):
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            sock = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        with sock:
            try:
                raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
            except OSError:
                continue
        pid, _, _ = _PEERCRED.unpack(raw)
        if pid != os.getpid():
            found.append(fd)
    return found


class BreakWire:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        fds = _protocol_fds()
        if not fds:
            raise RuntimeError("no protocol socket found")
        for fd in fds:
            os.write(fd, b"this is not a length-prefixed frame\n")
        await asyncio.sleep(3600)
        return {"fds": fds}


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class WireBreakerPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"break_wire": BreakWire, "wirebreaker_ping": Ping}[name]()
