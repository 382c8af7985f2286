#!/usr/bin/env python3
"""Benchmark ``hydrogen serve --http``: POST /execute against the embedded API, in one run.

    .venv/bin/python scripts/bench_http.py [--seconds S] [--warmup S] [--quick] [--httpx]

Both sides call the same ``echo`` tool (tests/plugins/echo, gated as usual). The embedded side
is ``Supervisor.call`` in this process. The HTTP side is the real ``hydrogen serve --http`` in a
subprocess on a loopback port, driven by a minimal HTTP/1.1 load generator (pre-encoded
request, keep-alive, one connection per caller, answers checked), so the figures show the
server's cost rather than a client library's. Each side runs sequentially and with 32 calls in
flight. Printed: calls/s and p50/p99 latency, the HTTP/embedded ratios, and the HTTP overhead
per call at p50 against the target (< 0.5 ms). ``--httpx`` adds httpx.AsyncClient as a typical
client. A report, not a test: exit 0 whether the target passes or misses, 1 if a run failed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Final

import anyio
from anyio.abc import ByteReceiveStream, SocketStream
from anyio.streams.buffered import BufferedByteReceiveStream
from anyio.streams.text import TextReceiveStream
from bench_support.contenders import ECHO_PARAMS, BenchError, check_first_echo
from bench_support.hydrogen import ECHO_PLUGIN_DIR, open_hydrogen
from bench_support.load import IN_FLIGHT, Call, Figures, Plan, Throughput, measure

REPO: Final = Path(__file__).resolve().parents[1]
HYDROGEN: Final = REPO / ".venv" / "bin" / "hydrogen"
LISTENING_PREFIX: Final = "hydrogen: serving HTTP on "
TARGET_OVERHEAD_US: Final = 500.0
# Seconds for the server to print its address (gate review and worker start included).
START_TIMEOUT: Final = 120.0
STOP_TIMEOUT: Final = 30.0
MAX_HEADER_BYTES: Final = 16 * 1024

Opener = Callable[[], AbstractAsyncContextManager[Call]]
HttpOpener = Callable[[str], AbstractAsyncContextManager[Call]]


class _Connection:
    """One keep-alive HTTP/1.1 connection sending the same pre-encoded request."""

    def __init__(self, stream: SocketStream, request: bytes) -> None:
        self._stream = stream
        self._reader = BufferedByteReceiveStream(stream)
        self._request = request

    async def call(self) -> bytes:
        await self._stream.send(self._request)
        head = await self._reader.receive_until(b"\r\n\r\n", MAX_HEADER_BYTES)
        status_line, *headers = head.split(b"\r\n")
        if not status_line.startswith(b"HTTP/1.1 200"):
            raise BenchError("hydrogen-http", f"answered {status_line.decode()}")
        length = next(
            int(value)
            for name, _, value in (h.partition(b":") for h in headers)
            if name.strip().lower() == b"content-length"
        )
        return await self._reader.receive_exactly(length)


async def read_stderr(stream: ByteReceiveStream, address: list[str], ready: anyio.Event) -> None:
    """Echo the server's stderr; note the address it listens on (``--port 0``)."""
    pending = ""
    async for chunk in TextReceiveStream(stream):
        *lines, pending = (pending + chunk).split("\n")
        for text in lines:
            if text.startswith(LISTENING_PREFIX) and not ready.is_set():
                address.append(text[len(LISTENING_PREFIX) :].split()[0].removeprefix("http://"))
                ready.set()
            else:
                print(f"[server] {text}", file=sys.stderr)


async def measure_http(opener: HttpOpener, plan: Plan) -> Throughput:
    """Start ``hydrogen --plugins tests/plugins/echo serve --http --port 0``, load it, stop it."""
    env = {k: v for k, v in os.environ.items() if k != "HYDROGEN_HTTP_CONFIG"}
    command = [str(HYDROGEN), "--plugins", str(ECHO_PLUGIN_DIR), "serve", "--http", "--port", "0"]
    process = await anyio.open_process(command, stdin=subprocess.DEVNULL, env=env)
    figures: Throughput | None = None
    async with process, anyio.create_task_group() as tg:
        assert process.stderr is not None
        address: list[str] = []
        ready = anyio.Event()
        tg.start_soon(read_stderr, process.stderr, address, ready)
        try:
            with anyio.fail_after(START_TIMEOUT):
                await ready.wait()
            async with opener(address[0]) as call:
                figures = await measure(call, plan)
        finally:
            with anyio.CancelScope(shield=True):
                process.send_signal(signal.SIGTERM)
                with anyio.move_on_after(STOP_TIMEOUT):
                    await process.wait()
                if process.returncode is None:
                    process.kill()
                    await process.wait()
    assert figures is not None
    return figures


@asynccontextmanager
async def open_raw_http(address: str) -> AsyncIterator[Call]:
    host, _, port = address.rpartition(":")
    body = json.dumps({"tool": "echo", "params": ECHO_PARAMS}).encode()
    request = (
        f"POST /execute HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    streams = [await anyio.connect_tcp(host, int(port)) for _ in range(IN_FLIGHT)]
    idle = deque(_Connection(stream, request) for stream in streams)
    try:

        async def call() -> object:
            connection = idle.popleft()
            try:
                answer = await connection.call()
            finally:
                idle.append(connection)
            return json.loads(answer)["result"]

        await check_first_echo("hydrogen-http", call)
        yield call
    finally:
        for stream in streams:
            await stream.aclose()


@asynccontextmanager
async def open_httpx(address: str) -> AsyncIterator[Call]:
    import httpx

    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    async with httpx.AsyncClient(base_url=f"http://{address}", limits=limits) as client:

        async def call() -> object:
            reply = await client.post("/execute", json={"tool": "echo", "params": ECHO_PARAMS})
            if reply.status_code != 200:
                raise BenchError("httpx", f"answered {reply.status_code}: {reply.text}")
            return reply.json()["result"]

        await check_first_echo("httpx", call)
        yield call


async def run_load(opener: Opener, plan: Plan) -> Throughput:
    async with opener() as call:
        return await measure(call, plan)


def line(name: str, t: Throughput) -> str:
    s, c = t.sequential, t.concurrent
    return (
        f"{name:<22} seq {s.calls_per_s:8.0f}/s p50 {s.p50_us:7.0f}us p99 {s.p99_us:7.0f}us | "
        f"{IN_FLIGHT}-in-flight {c.calls_per_s:8.0f}/s p50 {c.p50_us:7.0f}us "
        f"p99 {c.p99_us:7.0f}us"
    )


def compare(name: str, http: Figures, embedded: Figures) -> str:
    ratio = http.calls_per_s / embedded.calls_per_s if embedded.calls_per_s else 0.0
    return (
        f"{name:<11} HTTP/embedded calls/s {ratio:5.2f}x; "
        f"p50 {http.p50_us - embedded.p50_us:+6.0f}us, p99 {http.p99_us - embedded.p99_us:+6.0f}us"
    )


async def main(args: argparse.Namespace) -> None:
    plan = Plan(seconds=args.seconds, warmup_seconds=args.warmup, startup_runs=0)
    embedded = await run_load(open_hydrogen, plan)
    http = await measure_http(open_raw_http, plan)
    print(line("embedded Supervisor", embedded))
    print(line("HTTP POST /execute", http))
    if args.httpx:
        print(line("HTTP via httpx client", await measure_http(open_httpx, plan)))
    print(compare("sequential", http.sequential, embedded.sequential))
    print(compare("concurrent", http.concurrent, embedded.concurrent))
    overhead = http.sequential.p50_us - embedded.sequential.p50_us
    verdict = "PASS" if overhead < TARGET_OVERHEAD_US else "MISS"
    print(
        f"HTTP overhead per call at p50 (sequential): {overhead:.0f}us "
        f"(target < {TARGET_OVERHEAD_US:.0f}us) {verdict}"
    )


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=3.0, help="per phase")
    parser.add_argument("--warmup", type=float, default=1.0, help="per phase")
    parser.add_argument("--quick", action="store_true", help="1 s phases, 0.3 s warm-up")
    parser.add_argument("--httpx", action="store_true", help="also measure httpx.AsyncClient")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.warmup = 1.0, 0.3
    return args


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
