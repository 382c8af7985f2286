"""Opens a file outside the grant with every libc and system call that can, through ctypes, so
the Python audit hook is never consulted: only Landlock and seccomp answer."""

import ctypes
import errno
import os
from typing import Any

LIBC = ctypes.CDLL(None, use_errno=True)
AT_FDCWD = -100
# <asm/unistd_64.h>
SYS_NAME_TO_HANDLE_AT = 303
SYS_OPEN_BY_HANDLE_AT = 304
SYS_OPENAT2 = 437
MAX_HANDLE_SZ = 128


class OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def answer(result: int) -> str:
    if result < 0:
        return errno.errorcode[ctypes.get_errno()]
    os.close(result)
    return "opened"


def status(result: int) -> str:
    return errno.errorcode[ctypes.get_errno()] if result < 0 else "done"


def read_through_o_path(path: bytes) -> str:
    """O_PATH opens are not access checks; reading through such a descriptor must still fail."""
    fd = LIBC.open(path, os.O_PATH)
    if fd < 0:
        return errno.errorcode[ctypes.get_errno()]
    try:
        os.read(fd, 16)
    except OSError as exc:
        return errno.errorcode[exc.errno]
    finally:
        os.close(fd)
    return "read"


def reopen_from_parent(path: bytes) -> str:
    parent, _, name = path.rpartition(b"/")
    dir_fd = LIBC.open(parent or b"/", os.O_PATH | os.O_DIRECTORY)
    if dir_fd < 0:
        return errno.errorcode[ctypes.get_errno()]
    try:
        ctypes.set_errno(0)
        return answer(LIBC.openat(dir_fd, name, os.O_RDONLY))
    finally:
        os.close(dir_fd)


class OpenEveryWay:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        path = params["path"].encode()
        how = OpenHow(os.O_RDONLY, 0, 0)
        handle = ctypes.create_string_buffer(8 + MAX_HANDLE_SZ)
        ctypes.c_uint32.from_buffer(handle).value = MAX_HANDLE_SZ
        mount_id = ctypes.c_int(0)
        results: dict[str, str] = {}
        ctypes.set_errno(0)
        results["open"] = answer(LIBC.open(path, os.O_RDONLY))
        ctypes.set_errno(0)
        results["openat"] = answer(LIBC.openat(AT_FDCWD, path, os.O_RDONLY))
        ctypes.set_errno(0)
        results["openat2"] = answer(
            LIBC.syscall(SYS_OPENAT2, AT_FDCWD, path, ctypes.byref(how), ctypes.sizeof(how))
        )
        results["o_path_then_read"] = read_through_o_path(path)
        results["openat_from_parent"] = reopen_from_parent(path)
        ctypes.set_errno(0)
        results["name_to_handle_at"] = status(
            LIBC.syscall(SYS_NAME_TO_HANDLE_AT, AT_FDCWD, path, handle, ctypes.byref(mount_id), 0)
        )
        ctypes.set_errno(0)
        results["open_by_handle_at"] = answer(
            LIBC.syscall(SYS_OPEN_BY_HANDLE_AT, AT_FDCWD, handle, os.O_RDONLY)
        )
        return results


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class RawOpenerPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"open_every_way": OpenEveryWay, "raw_opener_ping": Ping}[name]()
