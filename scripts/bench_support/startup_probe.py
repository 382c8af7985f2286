"""Child side of the start-up figure: start a Supervisor with the system plugin, print JSON.

Runs in a fresh process so the supervisor's RSS is that of a host importing only Hydrogen, not
of the bench with the MCP SDK and pydantic loaded. Prints one JSON object on stdout.
Run as ``python -m bench_support.startup_probe`` from the scripts directory.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Final

import anyio
import msgspec

from bench_support.children import REPO_ROOT
from runtime import Supervisor

__all__ = ["FIRST_CALL_PARAMS", "FIRST_CALL_TOOL", "StartupSample"]

SYSTEM_PLUGIN: Final = "system"
SYSTEM_PLUGIN_DIR: Final = REPO_ROOT / "plugins" / SYSTEM_PLUGIN
# The cheapest of the system tools: health_check samples CPU over an interval, and listing
# installed packages reads hundreds of files; neither is start-up cost.
FIRST_CALL_TOOL: Final = "system_info"
FIRST_CALL_PARAMS: Final[dict[str, Any]] = {"include_packages": False}
# Lets the first call's garbage be collected and its buffers released before RSS is read.
IDLE_SETTLE_SECONDS: Final = 0.5


class StartupSample(msgspec.Struct, frozen=True):
    ready_s: float
    first_call_s: float
    supervisor_rss_bytes: int
    worker_rss_bytes: int


class ProbeError(Exception):
    pass


async def probe() -> StartupSample:
    started = time.perf_counter()
    async with Supervisor(plugin_dirs=[SYSTEM_PLUGIN_DIR]) as supervisor:
        ready = time.perf_counter() - started
        await supervisor.call(FIRST_CALL_TOOL, FIRST_CALL_PARAMS)
        first_call = time.perf_counter() - started
        await anyio.sleep(IDLE_SETTLE_SECONDS)
        status = supervisor.status()
    resources = status["plugins"][SYSTEM_PLUGIN]["resources"]
    if resources is None:
        raise ProbeError(f"no resource sample for the {SYSTEM_PLUGIN} worker: {status}")
    return StartupSample(
        ready_s=ready,
        first_call_s=first_call,
        supervisor_rss_bytes=status["supervisor"]["rss_bytes"],
        worker_rss_bytes=resources["rss_bytes"],
    )


def main() -> None:
    sample = anyio.run(probe)
    sys.stdout.buffer.write(msgspec.json.encode(sample) + b"\n")


if __name__ == "__main__":
    main()
