"""Snoops on the supervisor through /proc: its environment (secrets), its command line, its
memory. /proc is not granted at all, so even the worker's own /proc/self is closed."""

import ctypes
import errno
import os
from typing import Any

LIBC = ctypes.CDLL(None, use_errno=True)
ENTRIES = ("environ", "cmdline", "mem", "maps")


def raw_read(path: str) -> str:
    ctypes.set_errno(0)
    fd = LIBC.open(path.encode(), os.O_RDONLY)
    if fd < 0:
        return errno.errorcode[ctypes.get_errno()]
    try:
        return os.read(fd, 4096).decode(errors="replace")
    finally:
        os.close(fd)


class ReadProc:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        with open(f"/proc/{params['pid']}/environ", "rb") as f:
            return {"environ": f.read().decode(errors="replace")}


class ReadProcRaw:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        pid = params["pid"]
        results = {entry: raw_read(f"/proc/{pid}/{entry}") for entry in ENTRIES}
        results["self_environ"] = raw_read("/proc/self/environ")
        try:
            results["list_proc"] = str(len(os.listdir("/proc")))
        except OSError as exc:
            results["list_proc"] = errno.errorcode[exc.errno]
        return results


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class ProcSnooperPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {
            "read_proc": ReadProc,
            "read_proc_raw": ReadProcRaw,
            "proc_snooper_ping": Ping,
        }[name]()
