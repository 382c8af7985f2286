"""A disk quota for the worker's private work dir: a size-limited tmpfs in its own mount namespace.

RLIMIT_FSIZE bounds one file, not how many a plugin writes; on the host's disk a plugin could
fill it. The worker unshares a mount namespace (so nothing it mounts is visible outside, and
everything it mounted vanishes with its last process: a SIGKILLed supervisor leaks no mount),
then mounts a tmpfs of ``disk_bytes`` over its work dir: ENOSPC past the quota, pages charged to
the worker's memory cgroup, nosuid, nodev and noexec. Needs CAP_SYS_ADMIN, so it runs before
capabilities are dropped; the work dir then starts empty for each worker incarnation.
"""

from __future__ import annotations

import ctypes
import os
from typing import Final

from runtime.errors import SandboxError
from runtime.sandbox._libc import libc, require_single_thread

__all__ = ["mount_private_workdir"]

LAYER: Final = "disk quota"
CLONE_NEWNS: Final = 0x00020000
# <sys/mount.h>
MS_NOSUID: Final = 0x2
MS_NODEV: Final = 0x4
MS_NOEXEC: Final = 0x8
MS_REC: Final = 0x4000
MS_PRIVATE: Final = 1 << 18


def mount_private_workdir(path: str, disk_bytes: int) -> None:
    """Give this process a private tmpfs of ``disk_bytes`` at ``path``; then chdir into it."""
    require_single_thread(LAYER)
    _check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    # Without this, mounts could propagate back to the host's namespace (shared propagation).
    _check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    options = f"size={disk_bytes},mode=0700".encode()
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    _check(libc.mount(b"tmpfs", os.fsencode(path), b"tmpfs", flags, options), f"mount {path}")
    # The old cwd still points at the directory under the mount.
    os.chdir(path)


def _check(result: int, what: str) -> None:
    if result != 0:
        raise SandboxError(LAYER, f"{what} failed", errno=ctypes.get_errno())
