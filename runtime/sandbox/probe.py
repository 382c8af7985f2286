"""Which confinement layers this machine can put in force, found out once per supervisor process.

Anything that changes process state (Landlock, a network namespace, dropping capabilities) is
tried for real in a throwaway ``python -I`` child, in the worker's order, and each layer is
checked to bite afterwards; read-only facts (seccomp, cgroups, uid) are read here. The child
skips ``runtime/__init__`` (which imports the supervisor) so the probe costs tens of ms.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Final

import msgspec

from runtime.errors import SandboxError
from runtime.sandbox import capabilities, landlock, netns
from runtime.sandbox._libc import libc
from runtime.sandbox.paths import RUNTIME_PACKAGE, essential_read_paths

__all__ = ["LayerSupport", "probe"]

# <linux/prctl.h>
PR_GET_SECCOMP: Final = 21
SECCOMP_ACTIONS: Final = Path("/proc/sys/kernel/seccomp/actions_avail")
CGROUP_V1_PIDS: Final = Path("/sys/fs/cgroup/pids")
CGROUP_V1_MEMORY: Final = Path("/sys/fs/cgroup/memory")
# A file only a live v1 controller creates in a new group.
CGROUP_V1_PIDS_FILE: Final = "pids.max"
CGROUP_V1_MEMORY_FILE: Final = "memory.limit_in_bytes"
# Seconds for the child to start Python, confine itself and answer.
PROBE_TIMEOUT: Final = 15.0

CHILD_LAYERS: Final = ("netns", "landlock", "capabilities")
_CHILD: Final = """
import sys, types
package = types.ModuleType("runtime")
package.__path__ = [sys.argv[1]]
sys.modules["runtime"] = package
from runtime.sandbox.probe import _confine_self
_confine_self()
"""


class LayerSupport(msgspec.Struct, frozen=True, kw_only=True):
    """What can be enforced here. ``problems`` says why each missing layer is missing."""

    landlock_abi: int
    landlock: bool
    netns: bool
    seccomp: bool
    seccomp_actions: tuple[str, ...]
    cgroup_v1_pids: bool
    cgroup_v1_memory: bool
    capabilities: bool
    root: bool
    problems: tuple[str, ...] = ()


@functools.cache
def probe() -> LayerSupport:
    problems: list[str] = []
    confined = _probe_in_child(problems)
    seccomp, actions = _seccomp(problems)
    return LayerSupport(
        landlock_abi=landlock.abi_version(),
        landlock=confined.get("landlock", False),
        netns=confined.get("netns", False),
        seccomp=seccomp,
        seccomp_actions=actions,
        cgroup_v1_pids=_cgroup_writable(CGROUP_V1_PIDS, CGROUP_V1_PIDS_FILE, problems),
        cgroup_v1_memory=_cgroup_writable(CGROUP_V1_MEMORY, CGROUP_V1_MEMORY_FILE, problems),
        capabilities=confined.get("capabilities", False),
        root=os.geteuid() == 0,
        problems=tuple(problems),
    )


def _probe_in_child(problems: list[str]) -> dict[str, bool]:
    command = [sys.executable, "-I", "-c", _CHILD, str(RUNTIME_PACKAGE)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=PROBE_TIMEOUT, check=False, env={}
        )
        answer = json.loads(done.stdout)
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
        problems.append(f"{', '.join(CHILD_LAYERS)}: probe child failed: {exc}")
        return {}
    if done.returncode != 0 or not isinstance(answer, dict):
        problems.append(
            f"{', '.join(CHILD_LAYERS)}: probe child exited {done.returncode}: "
            f"{done.stderr.strip()[-500:]}"
        )
        return {}
    problems += [f"{layer}: {why}" for layer, why in answer.items() if why]
    return {layer: not why for layer, why in answer.items()}


def _confine_self() -> None:
    """Child side: apply each layer as the worker would, check it bites, print what failed."""
    failures: dict[str, str] = {}
    try:
        netns.isolate_network()
    except SandboxError as exc:
        failures["netns"] = str(exc)
    try:
        report = landlock.restrict(landlock.LandlockRules(read=tuple(essential_read_paths())))
        if not report.fs:
            failures["landlock"] = f"not enforced: {', '.join(report.unhandled)}"
        elif _can_list("/"):
            failures["landlock"] = "restrict_self returned but / is still readable"
    except SandboxError as exc:
        failures["landlock"] = str(exc)
    try:
        capabilities.drop_all()
        left = capabilities.current()
        # Only root (CAP_SETPCAP) can empty the bounding set; for others it guards nothing.
        if left.effective or left.permitted or (os.geteuid() == 0 and left.bounding):
            failures["capabilities"] = f"capabilities left after drop_all: {left}"
    except SandboxError as exc:
        failures["capabilities"] = str(exc)
    print(json.dumps({name: failures.get(name, "") for name in CHILD_LAYERS}))


def _can_list(path: str) -> bool:
    try:
        os.listdir(path)
    except PermissionError:
        return False
    return True


def _seccomp(problems: list[str]) -> tuple[bool, tuple[str, ...]]:
    ctypes.set_errno(0)
    if libc.prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0:
        problems.append(f"seccomp: prctl(PR_GET_SECCOMP) failed: {os.strerror(ctypes.get_errno())}")
        return False, ()
    try:
        return True, tuple(SECCOMP_ACTIONS.read_text().split())
    except OSError:
        return True, ()


def _cgroup_writable(root: Path, controller_file: str, problems: list[str]) -> bool:
    """Make and remove a group: proves a live, writable v1 controller, leaves nothing behind."""
    group = root / f"hydrogen-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        group.mkdir()
    except OSError as exc:
        problems.append(f"cgroup {root}: cannot create a group: {exc.strerror}")
        return False
    try:
        if (group / controller_file).exists():
            return True
        problems.append(f"cgroup {root}: no {controller_file} (not a v1 controller)")
        return False
    finally:
        with contextlib.suppress(OSError):
            group.rmdir()
