"""Process-level safety of the worker: die with the supervisor, keep descendants reapable."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from pathlib import Path
from typing import Final

import psutil

__all__ = ["die_with_parent", "join_cgroups", "kill_descendants"]

PR_SET_PDEATHSIG: Final = 1
PR_SET_CHILD_SUBREAPER: Final = 36

_libc = ctypes.CDLL(None, use_errno=True)


def _prctl(option: int, value: int) -> None:
    if _libc.prctl(option, value, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl({option}) failed: {os.strerror(err)}")


def die_with_parent(parent_pid: int) -> None:
    """SIGKILL this process when the supervisor dies, and adopt orphaned descendants.

    Being a subreaper keeps a grandchild that called setsid() inside this worker's tree, where
    ``kill_descendants`` and the supervisor can still find it.
    """
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    # The parent may have died before PDEATHSIG was armed; then nobody would ever kill us.
    if os.getppid() != parent_pid:
        os._exit(1)


def join_cgroups(paths: list[str]) -> None:
    """Move this process into the supervisor-made cgroups (v1 ``cgroup.procs`` files)."""
    for path in paths:
        Path(path, "cgroup.procs").write_text(str(os.getpid()))


def kill_descendants() -> None:
    try:
        children = psutil.Process().children(recursive=True)
    except (psutil.Error, OSError):
        # Under Landlock /proc is not readable; the supervisor's cgroup kill covers the tree.
        return
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.kill()
