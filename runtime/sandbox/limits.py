"""Apply a profile's rlimits to the current process. Called by the worker before plugin import."""

from __future__ import annotations

import resource
from typing import Final

from runtime.protocol.messages import Limits

__all__ = ["CPU_KILL_GRACE", "apply_limits"]

# Seconds between SIGXCPU (soft limit, catchable) and SIGKILL (hard limit).
CPU_KILL_GRACE: Final = 2


def _set(which: int, value: int) -> None:
    _, hard = resource.getrlimit(which)
    # Never try to raise a hard limit someone above us already lowered; that would fail anyway.
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value))


def apply_limits(limits: Limits) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if limits.cpu_seconds is not None:
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        soft = limits.cpu_seconds
        new_hard = soft + CPU_KILL_GRACE
        if hard != resource.RLIM_INFINITY:
            soft, new_hard = min(soft, hard), min(new_hard, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, new_hard))
    if limits.memory_bytes is not None:
        _set(resource.RLIMIT_DATA, limits.memory_bytes)
    if limits.address_space_bytes is not None:
        _set(resource.RLIMIT_AS, limits.address_space_bytes)
    if limits.open_files is not None:
        _set(resource.RLIMIT_NOFILE, limits.open_files)
    if limits.file_size_bytes is not None:
        _set(resource.RLIMIT_FSIZE, limits.file_size_bytes)
