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

import anyio

from runtime.worker.hygiene import die_with_parent, join_cgroups, kill_descendants
from runtime.worker.server import WorkerServer
from runtime.worker.stdio import protect_stdio

__all__ = ["main"]


async def _serve(sock: socket.socket) -> None:
    await WorkerServer(sock).run()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="runtime.worker")
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--cgroup", action="append", default=[])
    args = parser.parse_args(argv)
    join_cgroups(args.cgroup)
    die_with_parent(args.parent)
    sock = protect_stdio()
    status = 0
    try:
        anyio.run(_serve, sock)
    except BaseException:
        traceback.print_exc()
        status = 1
    finally:
        kill_descendants()
        sys.stderr.flush()
    # Threads running sync tools cannot be joined; leave without waiting for them.
    os._exit(status)
