"""The load driver: warm a contender up, then time it sequentially and with N calls in flight.

A contender is just ``call()``, an awaitable doing one echo round trip. Every phase runs for a
fixed wall-clock duration rather than a fixed count, so slow and fast contenders get equally
long samples and a stall shows up as fewer calls instead of a hang.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import Final

import anyio
import msgspec

__all__ = ["IN_FLIGHT", "Call", "Figures", "Plan", "Throughput", "measure"]

Call = Callable[[], Awaitable[object]]

IN_FLIGHT: Final = 32
# Extra time a phase may take past its duration before it counts as hung: the calls already in
# flight at the deadline must finish, and none of them should take anywhere near this long.
PHASE_GRACE_SECONDS: Final = 30.0


class Plan(msgspec.Struct, frozen=True):
    seconds: float
    warmup_seconds: float
    startup_runs: int
    in_flight: int = IN_FLIGHT


class Figures(msgspec.Struct, frozen=True):
    calls: int
    seconds: float
    calls_per_s: float
    p50_us: float
    p99_us: float


class Throughput(msgspec.Struct, frozen=True):
    sequential: Figures
    concurrent: Figures


async def measure(call: Call, plan: Plan) -> Throughput:
    # Warm-up fills caches, lets the worker's allocator settle and grows every buffer and
    # task pool to its in-flight size before anything is recorded.
    await _bounded(run_sequential(call, plan.warmup_seconds), plan.warmup_seconds)
    await _bounded(run_concurrent(call, plan.warmup_seconds, plan.in_flight), plan.warmup_seconds)
    sequential = await _bounded(run_sequential(call, plan.seconds), plan.seconds)
    concurrent = await _bounded(run_concurrent(call, plan.seconds, plan.in_flight), plan.seconds)
    return Throughput(sequential, concurrent)


async def _bounded(phase: Awaitable[Figures], seconds: float) -> Figures:
    limit = seconds + PHASE_GRACE_SECONDS
    try:
        with anyio.fail_after(limit):
            return await phase
    except TimeoutError as exc:
        raise TimeoutError(f"a {seconds:g} s phase was still running after {limit:g} s") from exc


async def run_sequential(call: Call, seconds: float) -> Figures:
    clock = time.perf_counter
    latencies: list[float] = []
    started = now = clock()
    deadline = started + seconds
    while now < deadline:
        await call()
        # One clock read per call: the end of this call is the start of the next.
        end = clock()
        latencies.append(end - now)
        now = end
    return summarise(latencies, now - started)


async def run_concurrent(call: Call, seconds: float, in_flight: int) -> Figures:
    clock = time.perf_counter
    latencies: list[float] = []
    started = clock()
    deadline = started + seconds

    async def caller() -> None:
        now = clock()
        while now < deadline:
            await call()
            end = clock()
            latencies.append(end - now)
            now = end

    async with anyio.create_task_group() as tg:
        for _ in range(in_flight):
            tg.start_soon(caller)
    return summarise(latencies, clock() - started)


def summarise(latencies: list[float], elapsed: float) -> Figures:
    ordered = sorted(latencies)
    return Figures(
        calls=len(ordered),
        seconds=round(elapsed, 3),
        calls_per_s=round(len(ordered) / elapsed, 1) if elapsed > 0 else 0.0,
        p50_us=round(percentile(ordered, 0.50) * 1e6, 1),
        p99_us=round(percentile(ordered, 0.99) * 1e6, 1),
    )


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted sample; 0 for an empty one."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]
