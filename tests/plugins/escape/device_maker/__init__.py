"""A block device node for the host's root disk, made in the writable work dir, would give raw
access to every file on it. Also opens host devices (/dev/vda, /dev/kmsg...) directly."""

import ctypes
import errno
import os
import stat
import uuid
from typing import Any

LIBC = ctypes.CDLL(None, use_errno=True)


def mknod(kind: int, device: int) -> str:
    path = os.path.join(os.getcwd(), f"dev-{uuid.uuid4().hex[:8]}")
    try:
        os.mknod(path, kind | 0o600, device)
    except OSError as exc:
        return errno.errorcode[exc.errno]
    return "made"


def raw_open(path: str) -> str:
    ctypes.set_errno(0)
    fd = LIBC.open(path.encode(), os.O_RDONLY)
    if fd < 0:
        return errno.errorcode[ctypes.get_errno()]
    os.close(fd)
    return "opened"


class MakeDevice:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        device = os.makedev(params["major"], params["minor"])
        results = {"mknod_block": mknod(stat.S_IFBLK, device)}
        # 1:1 is /dev/mem
        results["mknod_char"] = mknod(stat.S_IFCHR, os.makedev(1, 1))
        results |= {path: raw_open(path) for path in params["devices"]}
        return results


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class DeviceMakerPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"make_device": MakeDevice, "device_maker_ping": Ping}[name]()
