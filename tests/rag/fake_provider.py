"""A tiny OpenAI-compatible chat completions server on loopback, for the provider tests.

A real HTTP server on a real socket (http.server on its own thread): the plugin's client talks
to it through the sandbox exactly as it would to a hosted endpoint. It answers from what it was
sent, quoting the first sentence of passage [1] with its citation, so a test can tell that the
context reached it; it records every request, and answers HTTP 500 to a question containing
``FAILURE_MARKER``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

__all__ = ["FAILURE_MARKER", "FakeProvider", "fake_provider"]

FAILURE_MARKER: Final = "please-fail-provider"
MODEL: Final = "fake-gpt"
_PASSAGE_ONE: Final = re.compile(r"^\[1\] (.+?[.!?])(?:\s|$)", re.MULTILINE)


@dataclass
class FakeProvider:
    base_url: str
    requests: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def fake_provider() -> Iterator[FakeProvider]:
    provider = FakeProvider(base_url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            provider.requests.append(
                {"path": self.path, "headers": dict(self.headers), "body": body}
            )
            user = body["messages"][-1]["content"]
            if self.path != "/v1/chat/completions":
                self._reply(404, {"error": {"message": f"no route {self.path}"}})
            elif FAILURE_MARKER in user:
                self._reply(500, {"error": {"message": "the model is overloaded"}})
            else:
                match = _PASSAGE_ONE.search(user)
                quote = match.group(1) if match else "The documents do not answer this."
                message = {"role": "assistant", "content": f"{quote} [1]"}
                self._reply(200, {"model": body["model"], "choices": [{"message": message}]})

        def _reply(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: the test reads provider.requests instead

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    provider.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, name="fake-provider", daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
