"""UDP is not covered by Landlock (ABI 7): only the network namespace (network none) and seccomp
can stop a datagram. Sent through libc, past the audit hook."""

import ctypes
import errno
import os
import socket
import struct
from typing import Any

LIBC = ctypes.CDLL(None, use_errno=True)
PAYLOAD = b"exfiltrated"


class SendUdp:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        ctypes.set_errno(0)
        fd = LIBC.socket(socket.AF_INET, socket.SOCK_DGRAM, 0)
        if fd < 0:
            return {"socket": errno.errorcode[ctypes.get_errno()]}
        try:
            address = struct.pack(
                "=HH4s8x",
                socket.AF_INET,
                socket.htons(params["port"]),
                socket.inet_aton("127.0.0.1"),
            )
            ctypes.set_errno(0)
            if LIBC.sendto(fd, PAYLOAD, len(PAYLOAD), 0, address, len(address)) < 0:
                return {"socket": "created", "sendto": errno.errorcode[ctypes.get_errno()]}
            return {"socket": "created", "sendto": "sent"}
        finally:
            os.close(fd)


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class UdpSenderPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"send_udp": SendUdp, "udp_sender_ping": Ping}[name]()
