"""Worker entry point: ``python -I -m runtime.worker --parent PID [--cgroup DIR]...``.

Runs in a fresh session with an allow-listed environment and only fds 0-2. Steps, in order:
join the cgroups, arm PDEATHSIG, move the protocol off stdio, then serve. Limits and the plugin
import happen inside ``initialize`` (see ``runtime.worker.server``).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import traceback
from pathlib import Path

import anyio

from runtime.worker.guardian import start_guardian
from runtime.worker.hygiene import die_with_parent, join_cgroups, kill_descendants
from runtime.worker.server import WorkerServer
from runtime.worker.stdio import protect_stdio

__all__ = ["main"]


async def _serve(sock: socket.socket, guardian_pid: int | None) -> None:
    await WorkerServer(sock, guardian_pid=guardian_pid).run()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="runtime.worker")
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--cgroup", action="append", default=[])
    parser.add_argument("--lifeline", type=int)
    args = parser.parse_args(argv)
    join_cgroups(args.cgroup)
    die_with_parent(args.parent)
    guardian_pid = None
    if args.lifeline is not None and args.cgroup:
        # Still single-threaded and unconfined: the only safe moment to fork the guardian.
        guardian_pid = start_guardian(args.lifeline, [Path(g) for g in args.cgroup])
    sock = protect_stdio()
    status = 0
    try:
        anyio.run(_serve, sock, guardian_pid)
    except BaseException:
        traceback.print_exc()
        status = 1
    finally:
        kill_descendants()
        sys.stderr.flush()
    # Threads running sync tools cannot be joined; leave without waiting for them.
    os._exit(status)
