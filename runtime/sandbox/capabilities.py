"""Capabilities of the current process: drop every one of them, for good.

A worker started by a root supervisor is uid 0 with a full capability set; uid 0 without
capabilities cannot mount, chroot, unshare, setns, ptrace or signal other users' processes, load
modules or bypass file permissions of other users. Order matters: the ambient set and the
bounding set are emptied while CAP_SETPCAP is still held, securebits are locked so no execve can
give root its capabilities back, then the effective, permitted and inheritable sets are zeroed.
"""

from __future__ import annotations

import ctypes
import errno
from typing import Final

import msgspec

from runtime.errors import SandboxError
from runtime.sandbox._libc import libc, prctl, require_single_thread, set_no_new_privs

__all__ = ["CapabilitySets", "current", "drop_all", "last_cap"]

LAYER: Final = "capabilities"

# <linux/prctl.h>
PR_GET_KEEPCAPS: Final = 7
PR_SET_KEEPCAPS: Final = 8
PR_CAPBSET_READ: Final = 23
PR_CAPBSET_DROP: Final = 24
PR_GET_SECUREBITS: Final = 27
PR_SET_SECUREBITS: Final = 28
PR_CAP_AMBIENT: Final = 47
PR_CAP_AMBIENT_CLEAR_ALL: Final = 4

# <linux/securebits.h>
SECBIT_NOROOT: Final = 1 << 0
SECBIT_NOROOT_LOCKED: Final = 1 << 1
SECBIT_KEEP_CAPS_LOCKED: Final = 1 << 5
SECBIT_NO_CAP_AMBIENT_RAISE: Final = 1 << 6
SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED: Final = 1 << 7
LOCKED_SECUREBITS: Final = (
    SECBIT_NOROOT
    | SECBIT_NOROOT_LOCKED
    | SECBIT_KEEP_CAPS_LOCKED
    | SECBIT_NO_CAP_AMBIENT_RAISE
    | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED
)

# <linux/capability.h>
_LINUX_CAPABILITY_VERSION_3: Final = 0x20080522
_LINUX_CAPABILITY_U32S_3: Final = 2
CAP_SETPCAP: Final = 8
# Capability numbers are bits of a 64-bit set; the bounding-set walk stops here at the latest.
CAP_NUMBER_LIMIT: Final = 64


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


_CapDataV3 = _CapData * _LINUX_CAPABILITY_U32S_3


class CapabilitySets(msgspec.Struct, frozen=True):
    """The calling thread's capability sets as 64-bit masks (bit n = capability n)."""

    effective: int
    permitted: int
    inheritable: int
    bounding: int


def current() -> CapabilitySets:
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = _CapDataV3()
    ctypes.set_errno(0)
    if libc.capget(ctypes.byref(header), data) != 0:
        raise SandboxError(LAYER, "capget failed", errno=ctypes.get_errno())

    def join(field: str) -> int:
        return int(getattr(data[0], field)) | int(getattr(data[1], field)) << 32

    bounding = sum(1 << cap for cap in range(last_cap() + 1) if prctl(LAYER, PR_CAPBSET_READ, cap))
    return CapabilitySets(join("effective"), join("permitted"), join("inheritable"), bounding)


def last_cap() -> int:
    """The highest capability this kernel knows (``/proc/sys/kernel/cap_last_cap``).

    Asked of prctl rather than /proc, which Landlock may already hide when this runs.
    """
    for cap in range(CAP_NUMBER_LIMIT):
        ctypes.set_errno(0)
        if libc.prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0:
            return cap - 1
    return CAP_NUMBER_LIMIT - 1


def drop_all() -> None:
    """Empty every capability set of this process and its future children; irreversible.

    Raises ``SandboxError`` naming the step and errno. Without CAP_SETPCAP (not root) the bounding
    set and securebits cannot change; no_new_privs and empty sets still keep them out of reach.
    """
    require_single_thread(LAYER)
    _clear_ambient()
    # Already off after a first call, which also locked it: setting it again would be EPERM.
    if prctl(LAYER, PR_GET_KEEPCAPS):
        prctl(LAYER, PR_SET_KEEPCAPS, 0)
    if current().effective >> CAP_SETPCAP & 1:
        for cap in range(last_cap() + 1):
            prctl(LAYER, PR_CAPBSET_DROP, cap)
        # OR in: bits someone above us locked cannot be cleared (EPERM), only kept.
        prctl(LAYER, PR_SET_SECUREBITS, prctl(LAYER, PR_GET_SECUREBITS) | LOCKED_SECUREBITS)
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    empty = _CapDataV3()
    ctypes.set_errno(0)
    if libc.capset(ctypes.byref(header), empty) != 0:
        raise SandboxError(LAYER, "capset to empty sets failed", errno=ctypes.get_errno())
    set_no_new_privs(LAYER)


def _clear_ambient() -> None:
    ctypes.set_errno(0)
    if libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        if err != errno.EINVAL:  # EINVAL: a kernel before ambient capabilities (4.3)
            raise SandboxError(LAYER, "clearing the ambient set failed", errno=err)
