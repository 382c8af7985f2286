"""Attacks the supervisor through the one channel it must read: the worker's protocol socket,
found by probing descriptors (the sandbox hides /proc). A garbage frame or a huge length header
must end this worker only, before the supervisor allocates anything for it."""

import asyncio
import os
import socket
import stat
import struct
from typing import Any

PEERCRED = struct.Struct("3i")
HEADER = struct.Struct(">I")
GARBAGE = b"\xff\xfenot json at all"
# Awaited after the damage, so the call is in flight when the supervisor reacts.
LINGER = 3600


def protocol_fds() -> list[int]:
    """Sockets whose peer is another process: the supervisor's end of the socketpair."""
    found = []
    for fd in range(3, 1024):
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            sock = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        with sock:
            try:
                raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, PEERCRED.size)
            except OSError:
                continue
        if PEERCRED.unpack(raw)[0] != os.getpid():
            found.append(fd)
    return found


async def write_to_supervisor(data: bytes) -> dict[str, Any]:
    fds = protocol_fds()
    if not fds:
        raise RuntimeError("no protocol socket found")
    for fd in fds:
        os.write(fd, data)
    await asyncio.sleep(LINGER)
    return {"fds": fds}


class SendGarbageFrame:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return await write_to_supervisor(HEADER.pack(len(GARBAGE)) + GARBAGE)


class SendOversizedHeader:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return await write_to_supervisor(HEADER.pack(0xFFFFFFFF) + b"{")


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class WireGarbagePlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {
            "send_garbage_frame": SendGarbageFrame,
            "send_oversized_header": SendOversizedHeader,
            "wire_garbage_ping": Ping,
        }[name]()
