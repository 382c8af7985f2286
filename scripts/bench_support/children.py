"""Where the bench's helper processes live, how they are started, stopped and accounted for."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final

import anyio
import psutil
from anyio.abc import Process

__all__ = [
    "REPO_ROOT",
    "SCRIPTS_DIR",
    "STOP_GRACE_SECONDS",
    "kill_leftover_children",
    "module_command",
    "stop_process",
]

SCRIPTS_DIR: Final = Path(__file__).resolve().parents[1]
REPO_ROOT: Final = SCRIPTS_DIR.parent
# A helper that has not exited this long after its stdin closed is stuck, not slow.
STOP_GRACE_SECONDS: Final = 5.0


def module_command(module: str) -> list[str]:
    """Run a bench_support module; callers pass ``cwd=SCRIPTS_DIR`` so ``-m`` can find it."""
    return [sys.executable, "-m", f"bench_support.{module}"]


async def stop_process(process: Process) -> None:
    """Close stdin (the helpers exit on EOF), then kill after the grace period."""
    if process.stdin is not None:
        await process.stdin.aclose()
    with anyio.move_on_after(STOP_GRACE_SECONDS):
        await process.wait()
    if process.returncode is None:
        process.kill()
    await process.aclose()


def kill_leftover_children() -> list[str]:
    """Kill any process this run started that is still alive; describe each one killed."""
    leftovers: list[str] = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
            leftovers.append(f"pid {child.pid} ({' '.join(child.cmdline())[:120]})")
            child.kill()
        except psutil.NoSuchProcess:
            continue
    return leftovers
