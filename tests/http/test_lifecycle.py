"""Shutting down cleanly, and MCP on stdio beside HTTP over one set of workers."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.http.support import ECHO, HTTPKIT, STATE_WAIT, HttpServer, wait_until

pytestmark = pytest.mark.integration


def workers_of(server: HttpServer) -> list[psutil.Process]:
    return psutil.Process(server.proc.pid).children(recursive=True)


def all_gone(processes: list[psutil.Process]) -> bool:
    _gone, alive = psutil.wait_procs(processes, timeout=STATE_WAIT)
    return not alive


def in_flight(server: HttpServer, plugin: str) -> float:
    with server.client() as client:
        text = client.get("/metrics").text
    prefix = f'hydrogen_plugin_in_flight_calls{{plugin="{plugin}"}} '
    return next(float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix))


def test_sigterm_lets_the_call_in_flight_finish_then_stops_every_worker(tmp_path: Path) -> None:
    with HttpServer(tmp_path, ECHO, HTTPKIT) as server:
        server.wait_settled()
        workers = workers_of(server)
        assert workers, "the plugins' workers should be running"
        replies: list[httpx.Response] = []

        def call() -> None:
            with server.client() as client:
                replies.append(
                    client.post("/execute", json={"tool": "nap", "params": {"seconds": 1.5}})
                )

        caller = threading.Thread(target=call)
        caller.start()
        wait_until(lambda: in_flight(server, "httpkit") == 1, "the nap call in flight")
        code = server.stop(signal.SIGTERM)
        caller.join(timeout=STATE_WAIT)

    assert code == 0
    [reply] = replies
    assert reply.status_code == 200
    assert reply.json()["result"] == {"slept": 1.5}
    assert all_gone(workers)
    assert any("received SIGTERM: stopping" in line for line in server.lines)


def test_sigint_stops_the_server_and_every_worker(tmp_path: Path) -> None:
    with HttpServer(tmp_path, ECHO) as server:
        server.wait_settled()
        workers = workers_of(server)

        assert server.stop(signal.SIGINT) == 0

    assert all_gone(workers)


def mcp(proc: subprocess.Popen[bytes], request_id: int, method: str, params: dict[str, Any]) -> Any:
    assert proc.stdin is not None
    assert proc.stdout is not None
    message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
    proc.stdin.write(json.dumps(message).encode() + b"\n")
    proc.stdin.flush()
    while True:
        reply = json.loads(proc.stdout.readline())
        if reply.get("id") == request_id:
            return reply["result"]


def test_mcp_on_stdio_and_http_share_one_worker_and_stdin_eof_stops_both(tmp_path: Path) -> None:
    with HttpServer(tmp_path, HTTPKIT, extra=("--stdio",), stdin=True) as server:
        proc = server.proc
        initialized = mcp(
            proc,
            1,
            "initialize",
            {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t"}},
        )
        assert proc.stdin is not None
        proc.stdin.write(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}\n')
        proc.stdin.flush()
        over_mcp = mcp(proc, 2, "tools/call", {"name": "tick", "arguments": {"via": "mcp"}})
        with server.client() as client:
            over_http = client.post("/execute", json={"tool": "tick", "params": {"via": "http"}})
        workers = workers_of(server)
        proc.stdin.close()
        code = proc.wait(timeout=STATE_WAIT)

    assert initialized["serverInfo"]["name"] == "hydrogen"
    first = over_mcp["structuredContent"]["n"]
    assert over_http.json()["result"]["n"] == first + 1  # the same worker counted both
    assert code == 0
    assert all_gone(workers)
