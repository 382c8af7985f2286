"""The guardian: empties a worker's cgroup when the supervisor dies without stopping it.

PR_SET_PDEATHSIG kills the worker when the supervisor dies, but not what the plugin started: a
grandchild that called setsid() is reparented to init and would live on. So, before any plugin
code or confinement exists, the worker forks this small guardian. It holds the read end of a
lifeline pipe whose write end only the supervisor has; when the supervisor is gone, however it
went, the read returns EOF and the guardian SIGKILLs every other member of the cgroup, then
removes the cgroup. On a normal stop the supervisor kills the cgroup, guardian included.

Forked before Landlock, the guardian is outside the plugin's sandbox domain, so the plugin's
signal scoping forbids it to kill the guardian; it also keeps the capabilities a kill needs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from runtime.host.reaper import KILL_ROUND_PAUSE, KILL_ROUNDS, ProcessTree

__all__ = ["start_guardian"]


def start_guardian(lifeline_fd: int, cgroups: list[Path]) -> int:
    """Fork the guardian and return its pid; the worker closes its copy of the lifeline."""
    pid = os.fork()
    if pid:
        os.close(lifeline_fd)
        return pid
    status = 0
    try:
        _become_quiet()
        _wait_for_eof(lifeline_fd)
        ProcessTree(cgroups[0]).kill_all(spare=os.getpid())
        _step_out_and_remove(cgroups)
    except BaseException:
        status = 1
    finally:
        os._exit(status)


def _become_quiet() -> None:
    """Let go of the protocol socket (fds 0 and 1) and the stderr pipe (fd 2).

    Holding none of the worker's stdio means the supervisor sees EOF on both exactly when the
    worker dies, and reads the worker's last stderr line for its crash report.
    """
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(signum, signal.SIG_IGN)


def _wait_for_eof(fd: int) -> None:
    while os.read(fd, 64):
        pass


def _step_out_and_remove(cgroups: list[Path]) -> None:
    me = str(os.getpid())
    for group in cgroups:
        # A cgroup with a member cannot be removed: step out to the parent first.
        with contextlib.suppress(OSError):
            (group.parent / "cgroup.procs").write_text(me)
        # Killed members leave asynchronously; a few short retries cover the stragglers.
        for _ in range(KILL_ROUNDS):
            try:
                group.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(KILL_ROUND_PAUSE)
