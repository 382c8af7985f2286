#!/usr/bin/env python3
"""Benchmark Hydrogen's Supervisor against a raw pipe-echo floor and the MCP Python SDK.

    .venv/bin/python scripts/bench.py [--seconds S] [--warmup S] [--startup-runs N]
                                      [--quick] [--json]

Measures, in one run: echo calls/s and p50/p99 latency, sequential and with 32 calls in flight,
for the floor (minimal anyio + msgspec parent/child over pipes), Hydrogen's embedded Supervisor
and the MCP SDK's stdio server and client; then the Supervisor's start-up time and idle RSS.
It is a report, not a test: exit status 0 whether targets PASS or MISS, 1 only if something
failed to run.
"""

from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from importlib import metadata
from typing import Final

import anyio
from bench_support.children import kill_leftover_children
from bench_support.contenders import BenchError
from bench_support.floor import open_floor
from bench_support.hydrogen import open_hydrogen
from bench_support.load import Call, Plan, measure
from bench_support.mcp_peer import open_mcp
from bench_support.report import Report, compare, render_json, render_table
from bench_support.startup import measure_startup

DEFAULT_SECONDS: Final = 3.0
DEFAULT_WARMUP_SECONDS: Final = 1.0
DEFAULT_STARTUP_RUNS: Final = 3
QUICK_SECONDS: Final = 0.5
QUICK_WARMUP_SECONDS: Final = 0.2
QUICK_STARTUP_RUNS: Final = 1
# The shell's convention for a process ended by SIGINT.
INTERRUPTED_EXIT_STATUS: Final = 130
VERSIONED_PACKAGES: Final = ("hydrogen-runtime", "mcp", "anyio", "msgspec")

Opener = Callable[[], AbstractAsyncContextManager[Call]]
# One at a time, in this order, so no contender competes with another for the CPUs.
CONTENDERS: Final[tuple[tuple[str, Opener], ...]] = (
    ("floor", open_floor),
    ("hydrogen", open_hydrogen),
    ("mcp", open_mcp),
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, help=f"per phase (default {DEFAULT_SECONDS})")
    parser.add_argument(
        "--warmup", type=float, help=f"per warm-up phase (default {DEFAULT_WARMUP_SECONDS})"
    )
    parser.add_argument(
        "--startup-runs", type=int, help=f"fresh start-ups (default {DEFAULT_STARTUP_RUNS})"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_SECONDS} s phases, {QUICK_WARMUP_SECONDS} s warm-up, "
        f"{QUICK_STARTUP_RUNS} start-up; explicit flags still win",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    return parser.parse_args(argv)


def plan_from(args: argparse.Namespace) -> Plan:
    seconds, warmup, runs = (
        (QUICK_SECONDS, QUICK_WARMUP_SECONDS, QUICK_STARTUP_RUNS)
        if args.quick
        else (DEFAULT_SECONDS, DEFAULT_WARMUP_SECONDS, DEFAULT_STARTUP_RUNS)
    )
    plan = Plan(
        seconds=seconds if args.seconds is None else args.seconds,
        warmup_seconds=warmup if args.warmup is None else args.warmup,
        startup_runs=runs if args.startup_runs is None else args.startup_runs,
    )
    if plan.seconds <= 0 or plan.warmup_seconds < 0 or plan.startup_runs < 1:
        raise SystemExit("bench: --seconds must be > 0, --warmup >= 0, --startup-runs >= 1")
    return plan


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in VERSIONED_PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def progress(message: str) -> None:
    # stderr, so --json output on stdout stays machine-readable.
    print(f"bench: {message}", file=sys.stderr, flush=True)


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(describe_error(e) for e in exc.exceptions)
    if isinstance(exc, BenchError):
        return exc.reason
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def run_bench(plan: Plan) -> Report:
    report = Report(plan=plan, versions=versions(), throughput={})
    # Each section is independent: one contender failing still leaves a report of the others.
    for name, opener in CONTENDERS:
        progress(f"{name}: warm-up, sequential, {plan.in_flight} in flight")
        try:
            async with opener() as call:
                report.throughput[name] = await measure(call, plan)
        except Exception as exc:
            report.failures.append(f"{name}: {describe_error(exc)}")
    progress(f"start-up: {plan.startup_runs} fresh Supervisor(s) with the system plugin")
    try:
        report.startup = await measure_startup(plan.startup_runs)
    except Exception as exc:
        report.failures.append(f"start-up: {describe_error(exc)}")
    report.failures += [f"left running, killed: {p}" for p in kill_leftover_children()]
    compare(report)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = anyio.run(run_bench, plan_from(args))
    except KeyboardInterrupt:
        # The contexts unwinding on the way here already stopped every helper process.
        progress("interrupted")
        return INTERRUPTED_EXIT_STATUS
    print(render_json(report) if args.json else render_table(report))
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
