"""Well-formed frames with forged content: an answer to a call never made (to confuse the
supervisor's bookkeeping of pending calls), and a request in the wrong direction (as if the
worker could call tools of other plugins through the supervisor). Both end this worker only."""

import asyncio
import json
import os
import socket
import stat
import struct
from typing import Any

PEERCRED = struct.Struct("3i")
HEADER = struct.Struct(">I")
NEVER_ASKED = 987654321
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


async def send_frame(message: dict[str, Any]) -> dict[str, Any]:
    payload = json.dumps(message).encode()
    fds = protocol_fds()
    if not fds:
        raise RuntimeError("no protocol socket found")
    for fd in fds:
        os.write(fd, HEADER.pack(len(payload)) + payload)
    await asyncio.sleep(LINGER)
    return {"fds": fds}


class ForgeResponse:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return await send_frame({"jsonrpc": "2.0", "id": NEVER_ASKED, "result": {"forged": True}})


class ForgeRequest:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        call = {"tool": "echo", "arguments": {"text": "from a worker"}}
        return await send_frame({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call})


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class WireForgerPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {
            "forge_response": ForgeResponse,
            "forge_request": ForgeRequest,
            "wire_forger_ping": Ping,
        }[name]()
