"""Kill a worker together with every process it ever started, including setsid() escapees.

Strongest available mechanism first: a cgroup v1 ``pids`` group the worker joins before any
plugin code runs (membership survives setsid, double forks and the worker's own death, and
``pids.max`` bounds fork bombs). Without cgroups (not root, no v1 hierarchy) the worker is a
child subreaper, so its descendants stay in its process tree, and the tree is killed from psutil.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Final

import psutil

__all__ = ["CGROUP_V1_MEMORY", "CGROUP_V1_PIDS", "ProcessTree", "sweep_stale_groups"]

CGROUP_V1_PIDS: Final = Path("/sys/fs/cgroup/pids")
CGROUP_V1_MEMORY: Final = Path("/sys/fs/cgroup/memory")
# The memory cgroup counts what RLIMIT_DATA cannot: shared memory (/dev/shm, memfd), page cache
# and the whole tree of descendants. It sits this far above the profile's data limit so the
# rlimit's clean MemoryError comes first and the OOM kill is the backstop.
MEMORY_CGROUP_HEADROOM: Final = 256 * 1024 * 1024
# Rounds of "list members, SIGKILL them" before giving up on a group that keeps forking.
KILL_ROUNDS: Final = 200
KILL_ROUND_PAUSE: Final = 0.005
DEFAULT_PIDS_MAX: Final = 512


class ProcessTree:
    def __init__(self, cgroup: Path | None, memory_cgroup: Path | None = None) -> None:
        self.cgroup = cgroup
        self.memory_cgroup = memory_cgroup
        self.pid: int | None = None

    @classmethod
    def create(
        cls, plugin: str, pids_max: int = DEFAULT_PIDS_MAX, memory_bytes: int | None = None
    ) -> ProcessTree:
        """Make fresh cgroups for one worker incarnation, or fall back to tree tracking."""
        name = f"{plugin}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        pids = _make_group(CGROUP_V1_PIDS / "hydrogen" / name, "pids.max", str(pids_max))
        if pids is None:
            return cls(None)
        memory = None
        if memory_bytes is not None:
            limit = str(memory_bytes + MEMORY_CGROUP_HEADROOM)
            memory = _make_group(
                CGROUP_V1_MEMORY / "hydrogen" / name, "memory.limit_in_bytes", limit
            )
        return cls(pids, memory)

    @property
    def cgroups(self) -> list[Path]:
        """The worker joins these; the first is the one whose members are killed."""
        return [g for g in (self.cgroup, self.memory_cgroup) if g is not None]

    @property
    def mechanism(self) -> str:
        if self.cgroup is None:
            return "subreaper+psutil"
        return "cgroup-v1-pids+memory" if self.memory_cgroup else "cgroup-v1-pids"

    def members(self) -> list[int]:
        if self.cgroup is not None:
            try:
                text = (self.cgroup / "cgroup.procs").read_text()
            except OSError:
                return []
            return [int(line) for line in text.split()]
        if self.pid is None:
            return []
        try:
            root = psutil.Process(self.pid)
            return [self.pid, *(p.pid for p in root.children(recursive=True))]
        except psutil.Error:
            return []

    def kill_all(self, *, spare: int | None = None) -> None:
        """SIGKILL every member (but ``spare``, the caller itself when it is one) until none is
        left. Blocking; call from a worker thread."""
        if self.pid is not None:
            # The worker leads its own process group; this catches members before cgroup join.
            with contextlib.suppress(OSError):
                os.killpg(self.pid, signal.SIGKILL)
        for _ in range(KILL_ROUNDS):
            members = [pid for pid in self.members() if pid != spare]
            if not members:
                return
            for pid in members:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(KILL_ROUND_PAUSE)
            if self.cgroup is None:
                return  # without a cgroup a dead worker's tree can no longer be listed

    def remove(self) -> None:
        for group in self.cgroups:
            with contextlib.suppress(OSError):
                group.rmdir()


def sweep_stale_groups() -> int:
    """Remove empty per-worker cgroups left by supervisors that no longer exist.

    A group is named ``<plugin>-<supervisor pid>-<random>``; if that pid is gone and the group
    has no member, nothing can still use it. Returns how many were removed.
    """
    removed = 0
    for base in (CGROUP_V1_PIDS / "hydrogen", CGROUP_V1_MEMORY / "hydrogen"):
        try:
            groups = [p for p in base.iterdir() if p.is_dir()]
        except OSError:
            continue
        for group in groups:
            parts = group.name.rsplit("-", 2)
            if len(parts) != 3 or not parts[1].isdigit() or psutil.pid_exists(int(parts[1])):
                continue
            try:
                if (group / "cgroup.procs").read_text().split():
                    continue
                group.rmdir()
                removed += 1
            except OSError:
                continue
    return removed


def _make_group(path: Path, limit_file: str, value: str) -> Path | None:
    try:
        path.mkdir(parents=True)
        (path / limit_file).write_text(value)
    except OSError:
        with contextlib.suppress(OSError):
            path.rmdir()
        return None
    return path
