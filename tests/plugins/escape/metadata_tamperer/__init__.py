"""Landlock (ABI 7) does not cover chmod, utime or xattrs, and the worker is uid 0, which owns
every root file: making /etc/shadow world-readable or a binary setuid needs nothing else."""

import errno
import os
from collections.abc import Callable
from typing import Any

WORLD_WRITABLE = 0o666


def outcome(action: Callable[[], object]) -> str:
    try:
        action()
    except OSError as exc:
        return errno.errorcode[exc.errno]
    return "done"


class TamperMetadata:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        path = params["path"]
        return {
            "chmod": outcome(lambda: os.chmod(path, WORLD_WRITABLE)),
            "utime": outcome(lambda: os.utime(path, (0, 0))),
            "setxattr": outcome(lambda: os.setxattr(path, "user.hydrogen", b"escaped")),
        }


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class MetadataTampererPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"tamper_metadata": TamperMetadata, "metadata_tamperer_ping": Ping}[name]()
