"""Run a command with a MongoDB server: ``python -m runtime.devservices [options] -- COMMAND...``

COMMAND gets ``MONGODB_URI``: ``$MONGODB_URI`` when set, else an embedded mongod started for it
and stopped (by its pid) when COMMAND ends, however it ends. The demo collection the mongodb
plugin's examples query is seeded first when missing (``--no-seed`` to skip). The exit status
is COMMAND's. The main job uses it as::

    python -m runtime.devservices -- hydrogen --plugins plugins demo
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from types import FrameType

from runtime.devservices.demo import DEMO_DOCUMENTS, ensure_demo_collection
from runtime.devservices.mongod import MONGODB_URI_VAR, DevServiceError, mongodb_server

# 128 + SIGTERM, as a shell reports a command ended by it.
TERMINATED_STATUS = 128 + signal.SIGTERM


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runtime.devservices", description=__doc__)
    parser.add_argument("--no-seed", action="store_true", help="do not seed the demo collection")
    parser.add_argument("--documents", type=int, default=DEMO_DOCUMENTS, help="demo orders")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given: python -m runtime.devservices -- COMMAND [ARGS...]")
    # SIGTERM becomes an exception, so the context managers below stop mongod on the way out.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        with mongodb_server() as uri:
            if not args.no_seed:
                ensure_demo_collection(uri, documents=args.documents)
            environ = {**os.environ, MONGODB_URI_VAR: uri}
            return subprocess.run(command, env=environ, check=False).returncode
    except DevServiceError as exc:
        print(f"devservices: {exc}", file=sys.stderr)
        return 1


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(TERMINATED_STATUS)


if __name__ == "__main__":
    raise SystemExit(main())
