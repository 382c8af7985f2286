#!/usr/bin/env python3
"""Benchmark ``hydrogen serve --stdio`` against the MCP Python SDK's own stdio server.

    .venv/bin/python scripts/bench_mcp.py [--seconds S] [--warmup S] [--startup-runs N]

Both servers are driven by the same SDK client (``ClientSession`` over ``stdio_client``) with
the same ``echo`` tool (Hydrogen: tests/plugins/echo, gated as usual): tools/call calls/s and
p50/p99, sequential and with 32 in flight; then spawn -> initialize + tools/list time (Hydrogen
with the bundled plugins). A report, not a test: exit 0 whether targets pass or miss.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Final

import anyio
from bench_support.children import SCRIPTS_DIR, module_command
from bench_support.contenders import ECHO_PARAMS, BenchError, check_first_echo
from bench_support.load import Call, Plan, Throughput, measure
from bench_support.mcp_peer import open_mcp
from mcp import ClientSession, StdioServerParameters, stdio_client

REPO: Final = Path(__file__).resolve().parents[1]
HYDROGEN: Final = REPO / ".venv" / "bin" / "hydrogen"
ECHO_PLUGINS: Final = REPO / "tests" / "plugins" / "echo"
BUNDLED_PLUGINS: Final = REPO / "plugins"
TARGET_RATIO: Final = 2.0
TARGET_SPAWN_MS: Final = 150.0

Opener = Callable[[], AbstractAsyncContextManager[Call]]


def hydrogen_params(plugins: Path) -> StdioServerParameters:
    return StdioServerParameters(
        command=str(HYDROGEN), args=["--plugins", str(plugins), "serve", "--stdio"]
    )


def sdk_params() -> StdioServerParameters:
    command, *args = module_command("mcp_echo_server")
    return StdioServerParameters(command=command, args=args, cwd=SCRIPTS_DIR)


@asynccontextmanager
async def open_hydrogen_mcp() -> AsyncIterator[Call]:
    async with (
        stdio_client(hydrogen_params(ECHO_PLUGINS), errlog=sys.stderr) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()

        async def call() -> object:
            result = await session.call_tool("echo", ECHO_PARAMS)
            if result.is_error:
                raise BenchError("hydrogen-mcp", f"echo failed: {result.content!r}")
            return result.structured_content

        await check_first_echo("hydrogen-mcp", call)
        yield call


async def spawn_to_list_ms(params: StdioServerParameters) -> float:
    started = time.perf_counter()
    async with (
        stdio_client(params, errlog=sys.stderr) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        listed = await session.list_tools()
        elapsed = (time.perf_counter() - started) * 1000
        if not listed.tools:
            raise BenchError("spawn", "tools/list returned no tools")
    return elapsed


async def run_load(opener: Opener, plan: Plan) -> Throughput:
    async with opener() as call:
        return await measure(call, plan)


async def median_spawn(params: StdioServerParameters, runs: int) -> float:
    return statistics.median([await spawn_to_list_ms(params) for _ in range(runs)])


def line(name: str, t: Throughput) -> str:
    s, c = t.sequential, t.concurrent
    return (
        f"{name:<14} seq {s.calls_per_s:8.0f}/s p50 {s.p50_us:7.0f}us p99 {s.p99_us:7.0f}us | "
        f"32-in-flight {c.calls_per_s:8.0f}/s p50 {c.p50_us:7.0f}us p99 {c.p99_us:7.0f}us"
    )


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


async def main(args: argparse.Namespace) -> None:
    plan = Plan(seconds=args.seconds, warmup_seconds=args.warmup, startup_runs=args.startup_runs)
    ours = await run_load(open_hydrogen_mcp, plan)
    theirs = await run_load(open_mcp, plan)
    print(line("hydrogen-mcp", ours))
    print(line("sdk-mcp", theirs))
    for phase in ("sequential", "concurrent"):
        a, b = getattr(ours, phase).calls_per_s, getattr(theirs, phase).calls_per_s
        ratio = a / b if b else float("inf")
        print(
            f"{phase:<11} calls/s ratio {ratio:5.2f}x (target >= {TARGET_RATIO:g}x) "
            f"{verdict(ratio >= TARGET_RATIO)}"
        )
    ours_spawn = await median_spawn(hydrogen_params(BUNDLED_PLUGINS), args.startup_runs)
    theirs_spawn = await median_spawn(sdk_params(), args.startup_runs)
    print(
        f"spawn -> initialize + tools/list (median of {args.startup_runs}): "
        f"hydrogen (bundled plugins) {ours_spawn:.0f} ms "
        f"(target < {TARGET_SPAWN_MS:g} ms) {verdict(ours_spawn < TARGET_SPAWN_MS)}; "
        f"sdk echo server {theirs_spawn:.0f} ms"
    )


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--startup-runs", type=int, default=5)
    return parser.parse_args(argv)


def run(argv: list[str]) -> int:
    args = parse(argv)
    try:
        anyio.run(main, args)
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))
