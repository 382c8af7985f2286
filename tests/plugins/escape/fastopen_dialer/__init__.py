"""TCP Fast Open: sendto()/sendmsg() with MSG_FASTOPEN on an unconnected TCP socket connects
inside the send, without connect(2), which is the only call Landlock's TCP rule checks."""

import ctypes
import errno
import os
import socket
import struct
from typing import Any

LIBC = ctypes.CDLL(None, use_errno=True)
PAYLOAD = b"fast-open"


class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_char_p), ("len", ctypes.c_size_t)]


class MsgHdr(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("namelen", ctypes.c_uint32),
        ("iov", ctypes.POINTER(IoVec)),
        ("iovlen", ctypes.c_size_t),
        ("control", ctypes.c_void_p),
        ("controllen", ctypes.c_size_t),
        ("flags", ctypes.c_int),
    ]


def sockaddr_in(port: int) -> bytes:
    return struct.pack("=HH4s8x", socket.AF_INET, socket.htons(port), socket.inet_aton("127.0.0.1"))


def send_on_fresh_socket(port: int, use_sendmsg: bool) -> str:
    fd = LIBC.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
    if fd < 0:
        return errno.errorcode[ctypes.get_errno()]
    try:
        address = sockaddr_in(port)
        ctypes.set_errno(0)
        if use_sendmsg:
            iov = IoVec(PAYLOAD, len(PAYLOAD))
            header = MsgHdr(address, len(address), ctypes.pointer(iov), 1, None, 0, 0)
            sent = LIBC.sendmsg(fd, ctypes.byref(header), socket.MSG_FASTOPEN)
        else:
            sent = LIBC.sendto(
                fd, PAYLOAD, len(PAYLOAD), socket.MSG_FASTOPEN, address, len(address)
            )
        return errno.errorcode[ctypes.get_errno()] if sent < 0 else "sent"
    finally:
        os.close(fd)


class DialFastOpen:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.sendto(PAYLOAD, socket.MSG_FASTOPEN, ("127.0.0.1", params["port"]))
        return {"sendto": "sent"}


class DialFastOpenRaw:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "sendto": send_on_fresh_socket(params["port"], use_sendmsg=False),
            "sendmsg": send_on_fresh_socket(params["port"], use_sendmsg=True),
        }


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class FastOpenDialerPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {
            "dial_fastopen": DialFastOpen,
            "dial_fastopen_raw": DialFastOpenRaw,
            "fastopen_dialer_ping": Ping,
        }[name]()
