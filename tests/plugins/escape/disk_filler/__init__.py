"""Fills the disk from its writable work dir. RLIMIT_FSIZE bounds each file: a write past it
raises SIGXFSZ, which Python ignores (so the write fails with EFBIG) unless the plugin puts the
default action back. Nothing bounds how many files it writes."""

import asyncio
import errno
import os
import signal
import uuid
from typing import Any

MIB = 1 << 20
BLOCK = b"\x00" * MIB


def fill(path: str) -> dict[str, Any]:
    written = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while True:
            written += os.write(fd, BLOCK)
    except OSError as exc:
        return {"errno": errno.errorcode[exc.errno], "written_mib": written / MIB}
    finally:
        os.close(fd)


def new_file() -> str:
    return os.path.join(os.getcwd(), f"fill-{uuid.uuid4().hex[:8]}")


class FillOneFile:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return fill(new_file())


class FillWithSigxfsz:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        # Signal dispositions can only change on the main thread, where async tools run.
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
        return await asyncio.to_thread(fill, new_file())


class FillManyFiles:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        total = 0.0
        for _ in range(params["files"]):
            result = fill(new_file())
            total += result["written_mib"]
            if result["errno"] != "EFBIG":
                return {"total_mib": total, "errno": result["errno"]}
        return {"total_mib": total, "errno": None}


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class DiskFillerPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {
            "fill_one_file": FillOneFile,
            "fill_with_sigxfsz": FillWithSigxfsz,
            "fill_many_files": FillManyFiles,
            "disk_filler_ping": Ping,
        }[name]()
