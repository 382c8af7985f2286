"""inotify reports every open, read and write of a watched file or directory. Landlock (ABI 7)
does not check inotify watches, so a plugin that cannot read /etc/shadow, or the supervisor's
files, can still learn when anyone touches them."""

import ctypes
import errno
import os
from typing import Any

LIBC = ctypes.CDLL(None, use_errno=True)
IN_ALL_EVENTS = 0xFFF


class WatchPath:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        fd = LIBC.inotify_init1(os.O_CLOEXEC)
        if fd < 0:
            return {"inotify_init1": errno.errorcode[ctypes.get_errno()]}
        try:
            ctypes.set_errno(0)
            if LIBC.inotify_add_watch(fd, params["path"].encode(), IN_ALL_EVENTS) < 0:
                return {"watch": errno.errorcode[ctypes.get_errno()]}
            return {"watch": "watching"}
        finally:
            os.close(fd)


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class WatcherPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"watch_path": WatchPath, "watcher_ping": Ping}[name]()
