"""Writes outside its grant (the test's tmp dir, the canary's private work dir, /etc): creates
a file, a directory, truncates and removes an existing file. Only open() is seen by the audit
hook; mkdir, truncate and unlink go straight to the kernel."""

import ctypes
import errno
import os
from collections.abc import Callable
from typing import Any

LIBC = ctypes.CDLL(None, use_errno=True)


def outcome(action: Callable[[], object]) -> str:
    try:
        action()
    except OSError as exc:
        return errno.errorcode[exc.errno]
    return "done"


def raw_create(path: str) -> str:
    ctypes.set_errno(0)
    fd = LIBC.open(path.encode(), os.O_WRONLY | os.O_CREAT, 0o644)
    if fd < 0:
        return errno.errorcode[ctypes.get_errno()]
    os.close(fd)
    return "done"


class WriteOutside:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        with open(params["path"], "w") as f:
            f.write("escaped\n")
        return {"written": True}


class WriteOutsideRaw:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        path, victim = params["path"], params["victim"]
        return {
            "create": raw_create(path),
            "mkdir": outcome(lambda: os.mkdir(path + ".d")),
            "truncate": outcome(lambda: os.truncate(victim, 0)),
            "unlink": outcome(lambda: os.unlink(victim)),
        }


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class OutsideWriterPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {
            "write_outside": WriteOutside,
            "write_outside_raw": WriteOutsideRaw,
            "outside_writer_ping": Ping,
        }[name]()
