"""Parent side of the start-up figure: run ``startup_probe`` a few times, keep the medians."""

from __future__ import annotations

import statistics
from typing import Final

import anyio
import msgspec

from bench_support.children import SCRIPTS_DIR, module_command
from bench_support.startup_probe import FIRST_CALL_TOOL, StartupSample

__all__ = ["Startup", "measure_startup"]

# A cold start of Python, the supervisor and one worker; far above the expected ~0.2 s.
PROBE_TIMEOUT_SECONDS: Final = 60.0
# Tenths of a millisecond: finer is timer noise.
SECONDS_DIGITS: Final = 4


class Startup(msgspec.Struct, frozen=True):
    runs: int
    first_call_tool: str
    ready_s: float
    first_call_s: float
    first_call_min_s: float
    supervisor_rss_bytes: int
    worker_rss_bytes: int


async def measure_startup(runs: int) -> Startup:
    samples = [await _run_probe() for _ in range(runs)]
    return Startup(
        runs=runs,
        first_call_tool=FIRST_CALL_TOOL,
        ready_s=round(statistics.median(s.ready_s for s in samples), SECONDS_DIGITS),
        first_call_s=round(statistics.median(s.first_call_s for s in samples), SECONDS_DIGITS),
        first_call_min_s=round(min(s.first_call_s for s in samples), SECONDS_DIGITS),
        supervisor_rss_bytes=int(statistics.median(s.supervisor_rss_bytes for s in samples)),
        worker_rss_bytes=int(statistics.median(s.worker_rss_bytes for s in samples)),
    )


async def _run_probe() -> StartupSample:
    # run_process kills the probe if the timeout cancels it; stderr goes to the terminal.
    with anyio.fail_after(PROBE_TIMEOUT_SECONDS):
        done = await anyio.run_process(
            module_command("startup_probe"), cwd=SCRIPTS_DIR, stderr=None
        )
    return msgspec.json.decode(done.stdout, type=StartupSample)
