import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# Child: new session, fork, let the middle process die so the grandchild is orphaned, then
# publish the grandchild's pid atomically and linger.
ESCAPEE = """
import os, sys, time
os.setsid()
if os.fork():
    os._exit(0)
tmp = sys.argv[1] + ".tmp"
with open(tmp, "w") as f:
    f.write(str(os.getpid()))
os.rename(tmp, sys.argv[1])
time.sleep(600)
"""
PIDFILE_WAIT = 5.0


def spawn(pidfile: str) -> int:
    middle = subprocess.Popen([sys.executable, "-I", "-c", ESCAPEE, pidfile])
    middle.wait()
    path = Path(pidfile)
    deadline = time.monotonic() + PIDFILE_WAIT
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("escapee never wrote its pid file")
        time.sleep(0.01)
    return int(path.read_text())


class SpawnEscapee:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": spawn(params["pidfile"])}


class SpawnAndBlock:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        spawn(params["pidfile"])
        time.sleep(600)
        return {}


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class EscapeePlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {
            "spawn_escapee": SpawnEscapee,
            "spawn_and_block": SpawnAndBlock,
            "escapee_ping": Ping,
        }[name]()
