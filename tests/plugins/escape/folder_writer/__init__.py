"""Tries to make its code persistent: a new module in its own (read-only) plugin folder, its own
__init__.py truncated, and a line appended to a module of the runtime every worker imports."""

import ctypes
import errno
import os
from typing import Any

LIBC = ctypes.CDLL(None, use_errno=True)
HERE = os.path.dirname(os.path.abspath(__file__))
PAYLOAD = b"import os  # planted\n"


def raw_write(path: str, flags: int) -> str:
    ctypes.set_errno(0)
    fd = LIBC.open(path.encode(), os.O_WRONLY | flags, 0o644)
    if fd < 0:
        return errno.errorcode[ctypes.get_errno()]
    try:
        os.write(fd, PAYLOAD)
    finally:
        os.close(fd)
    return "written"


class PlantInOwnFolder:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        with open(os.path.join(HERE, "planted.py"), "w") as f:
            f.write(PAYLOAD.decode())
        return {"planted": True}


class PlantRaw:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "new_module": raw_write(os.path.join(HERE, "planted.py"), os.O_CREAT),
            "own_init": raw_write(os.path.join(HERE, "__init__.py"), os.O_TRUNC),
            "runtime_module": raw_write(params["runtime_module"], os.O_APPEND),
        }


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class FolderWriterPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {
            "plant_in_own_folder": PlantInOwnFolder,
            "plant_raw": PlantRaw,
            "folder_writer_ping": Ping,
        }[name]()
