"""The libc calls the confinement layers share: ``syscall``, ``prctl``, and their errors.

Every layer here changes only the calling thread (Landlock domains, capability sets, the
bounding set and namespaces are per-thread), so each refuses to run once a second thread exists.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Final

from runtime.errors import SandboxError

__all__ = [
    "PR_SET_NO_NEW_PRIVS",
    "libc",
    "prctl",
    "require_single_thread",
    "set_no_new_privs",
    "syscall",
]

# <linux/prctl.h>
PR_SET_NO_NEW_PRIVS: Final = 38

libc: Final = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.prctl.restype = ctypes.c_int
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def syscall(number: int, *args: object) -> tuple[int, int]:
    """``(result, errno)``; errno is 0 unless the result is negative.

    ``syscall`` is variadic and reads every argument as a long, so plain ints are widened here
    (ctypes would pass them as 32-bit ints); pointers and ``None`` pass through.
    """
    wide = [ctypes.c_long(arg) if isinstance(arg, int) else arg for arg in args]
    ctypes.set_errno(0)
    result = int(libc.syscall(ctypes.c_long(number), *wide))
    return result, (ctypes.get_errno() if result < 0 else 0)


def prctl(layer: str, option: int, arg2: int = 0, arg3: int = 0) -> int:
    """``prctl(option, arg2, arg3, 0, 0)``; raises ``SandboxError`` naming ``layer`` on failure."""
    ctypes.set_errno(0)
    result = int(libc.prctl(option, arg2, arg3, 0, 0))
    if result < 0:
        raise SandboxError(
            layer, f"prctl({option}, {arg2}, {arg3}) failed", errno=ctypes.get_errno()
        )
    return result


def set_no_new_privs(layer: str) -> None:
    """No later execve can gain privileges (setuid bits, file capabilities); irreversible."""
    prctl(layer, PR_SET_NO_NEW_PRIVS, 1)


def require_single_thread(layer: str) -> None:
    """The layer would confine only this thread; every other thread would stay free."""
    count = threading.active_count()
    if count != 1:
        raise SandboxError(
            layer,
            f"must be applied while the process has one thread, found {count} "
            f"(confine before starting threads or importing the plugin)",
        )
