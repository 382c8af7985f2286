"""Move the protocol off fds 0 and 1 before any plugin code can touch them.

After ``protect_stdio()`` the protocol lives on a private, non-inheritable descriptor; fd 1 is a
copy of stderr and fd 0 is /dev/null. A stray ``print()``, a C extension writing to stdout, or a
child process inheriting fds 0-2 can therefore never inject bytes into the wire.
"""

from __future__ import annotations

import os
import socket
import stat
import sys

__all__ = ["protect_stdio"]


def protect_stdio() -> socket.socket:
    """Return the protocol socket, with fds 0 and 1 made harmless."""
    if not stat.S_ISSOCK(os.fstat(0).st_mode):
        raise SystemExit(
            "hydrogen worker: stdin must be the supervisor's socket; "
            "start workers through the supervisor, not by hand"
        )
    private = os.dup(0)  # dup() results are non-inheritable in Python
    sys.stdout.flush()
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    # Python-level streams follow the fds; rebind sys.stdout to the (now stderr) fd 1.
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 - lives as long as the process
    sys.stdout = sys.stderr
    return socket.socket(fileno=private)
