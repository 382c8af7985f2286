"""Real servers for the HTTP tests: ``hydrogen serve --http`` as a subprocess, a webhook receiver.

The server listens on a free loopback port (``--port 0``) and says which on stderr; its stderr
is drained by a thread into ``lines``, so a test can wait for a log line. Waits are bounded and
poll another process's state; none of them is a pace.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

import httpx
import yaml

from runtime.http.server import LISTENING_PREFIX
from tests.conftest import REPO_ROOT, TEST_PLUGINS

__all__ = [
    "BUSY",
    "CRASHLOOP",
    "ECHO",
    "HTTPKIT",
    "STATE_WAIT",
    "HttpServer",
    "WebhookReceiver",
    "wait_until",
]

HYDROGEN: Final = REPO_ROOT / ".venv" / "bin" / "hydrogen"
ECHO: Final = TEST_PLUGINS / "echo"
HTTPKIT: Final = Path(__file__).resolve().parent / "plugins" / "httpkit"
CRASHLOOP: Final = TEST_PLUGINS / "hostile" / "crashloop"
# One call at a time and one waiting; ``hold`` waits until cancelled.
BUSY: Final = TEST_PLUGINS / "hostile" / "busy"
TEST_PROFILES: Final = REPO_ROOT / "tests" / "profiles"
# Seconds: bounds on things another process does (start, restart, shut down); generous,
# because a bound is a failure report, not a pace.
STATE_WAIT: Final = 20.0
POLL_INTERVAL: Final = 0.05


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = STATE_WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g}s: {what}")
        time.sleep(POLL_INTERVAL)


class HttpServer:
    """``hydrogen --plugins ... serve --http --port 0`` with the test profiles, gate off."""

    def __init__(
        self,
        tmp: Path,
        *plugins: Path,
        config: dict[str, Any] | None = None,
        policy: dict[str, Any] | None = None,
        audit_log: Path | None = None,
        extra: tuple[str, ...] = (),
        host: str = "127.0.0.1",
        stdin: bool = False,
    ) -> None:
        """``stdin``: give the server pipes on stdin and stdout (for ``--stdio``)."""
        self.audit_log = audit_log
        args = [str(HYDROGEN)]
        for plugin in plugins:
            args += ["--plugins", str(plugin)]
        if policy is not None:
            policy_path = tmp / "policy.yaml"
            policy_path.write_text(yaml.safe_dump(policy))
            args += ["--policy", str(policy_path)]
        if audit_log is not None:
            args += ["--audit-log", str(audit_log)]
        args += ["serve", "--http", "--host", host, "--port", "0", *extra]
        if config is not None:
            config_path = tmp / "http.yaml"
            config_path.write_text(yaml.safe_dump(config))
            config_path.chmod(0o600)
            args += ["--http-config", str(config_path)]
        env = dict(os.environ)
        env["HYDROGEN_GATE"] = "off"
        env["HYDROGEN_PROFILES"] = str(TEST_PROFILES)
        env.pop("HYDROGEN_HTTP_CONFIG", None)
        pipe = subprocess.PIPE if stdin else None
        self.proc = subprocess.Popen(
            args, stdin=pipe, stdout=pipe, stderr=subprocess.PIPE, env=env, text=False
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        line = self.wait_for_line(lambda line: line.startswith(LISTENING_PREFIX), "listening")
        self.url = line[len(LISTENING_PREFIX) :].split()[0]

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            with self._changed:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for_line(self, predicate: Callable[[str], bool], what: str) -> str:
        deadline = time.monotonic() + STATE_WAIT
        with self._changed:
            while True:
                for line in self.lines:
                    if predicate(line):
                        return line
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(f"server exited before {what}: {self.lines}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no {what} line within {STATE_WAIT:g}s: {self.lines}")
                self._changed.wait(remaining)

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=STATE_WAIT)

    def wait_settled(self, token: str | None = None) -> dict[str, Any]:
        """Poll /health until start-up has settled; its last answer."""
        report: dict[str, Any] = {}
        with self.client(token) as client:

            def settled() -> bool:
                nonlocal report
                report = client.get("/health").json()
                return bool(report["status"] != "starting")

            wait_until(settled, "the server's plugins settled")
        return report

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal the server and wait for it to exit; its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=STATE_WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"the server ignored {signal.Signals(sig).name}") from None
        finally:
            self._reader.join(timeout=STATE_WAIT)
            for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                if pipe is not None and not pipe.closed:
                    pipe.close()
        return code

    def __enter__(self) -> HttpServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class WebhookReceiver:
    """An HTTP server in a thread that records every JSON body POSTed to it."""

    def __init__(self, statuses: Iterator[int] | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = next(statuses, 200) if statuses is not None else 200
                with receiver._changed:
                    if status == 200:
                        receiver.events.append(json.loads(body))
                        receiver.headers.append(dict(self.headers))
                    receiver._changed.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        deadline = time.monotonic() + STATE_WAIT
        with self._changed:
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no webhook event {what}: {self.events}")
                self._changed.wait(remaining)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
