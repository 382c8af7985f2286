"""A loopback HTTP server that answers OSV's query API from the local advisory database.

pip-audit's OSV service (``pip_audit/_service/osv.py``) sends one request per dependency::

    POST /v1/query  {"package": {"name": "requests", "ecosystem": "PyPI"}, "version": "2.19.0"}

and reads ``{"vulns": [<OSV record>, ...]}``, or ``{}`` when nothing matches, as api.osv.dev
answers. Matching happens here (``runtime.gate.osv``); pip-audit then reads each record's id,
aliases, summary or details, and the ``fixed`` events of the ``ECOSYSTEM`` range whose
package name equals the canonical name. So each record is served with that package's name in
canonical form and with event versions pip-audit could not parse removed (one such version
would crash pip-audit and leave the whole batch unaudited).

Anything the server cannot answer truthfully (another ecosystem, a purl or commit query, an
invalid version, a malformed body) is an HTTP 400, never an empty answer: pip-audit then fails
and the dependency audit reports the dependency as unaudited.

``answer_query`` is the whole protocol (bytes in, status and bytes out); ``OsvServer`` only
carries it over HTTP on 127.0.0.1, on a free port, in one background thread it owns.
"""

from __future__ import annotations

import logging
import socketserver
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Final

import msgspec
from packaging.utils import canonicalize_name

from runtime.gate.advisories import Advisories
from runtime.gate.osv import PYPI, Advisory, Affected, Range, parse_version

__all__ = ["QUERY_PATH", "OsvServer", "answer_query"]

log = logging.getLogger(__name__)

QUERY_PATH: Final = "/v1/query"
LOOPBACK: Final = "127.0.0.1"
# pip-audit's query is ~100 bytes; anything near this is not pip-audit.
MAX_QUERY_BYTES: Final = 64 * 1024
# Seconds a client may hold a connection without sending, so stopping never waits long.
CLIENT_TIMEOUT: Final = 10.0
# How often the serving loop checks for a stop request (the stop latency).
POLL_INTERVAL: Final = 0.02
STOP_TIMEOUT: Final = 5.0


class _QueryPackage(msgspec.Struct, frozen=True):
    name: str | None = None
    ecosystem: str | None = None
    purl: str | None = None


class _Query(msgspec.Struct, frozen=True):
    package: _QueryPackage | None = None
    version: str | None = None
    commit: str | None = None


_query_decoder = msgspec.json.Decoder(_Query)


class _Unanswerable(Exception):
    pass


def answer_query(advisories: Advisories, body: bytes) -> tuple[HTTPStatus, bytes]:
    """The HTTP status and JSON body api.osv.dev would send for ``POST /v1/query`` ``body``."""
    try:
        name, version_text = _parse(body)
    except _Unanswerable as exc:
        return HTTPStatus.BAD_REQUEST, msgspec.json.encode({"code": 3, "message": str(exc)})
    if version_text is None:
        found = [a for a in advisories.for_package(name) if a.withdrawn is None]
    else:
        version = parse_version(version_text)
        if version is None:
            message = f"version {version_text!r} is not a PEP 440 version"
            return HTTPStatus.BAD_REQUEST, msgspec.json.encode({"code": 3, "message": message})
        found = advisories.affecting(name, version)
    if not found:
        return HTTPStatus.OK, b"{}"
    return HTTPStatus.OK, msgspec.json.encode({"vulns": [_served(a, name) for a in found]})


def _parse(body: bytes) -> tuple[str, str | None]:
    try:
        query = _query_decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise _Unanswerable(f"not an OSV query: {exc}") from exc
    package = query.package
    if query.commit is not None or package is None or package.purl is not None:
        raise _Unanswerable("only queries by package name, ecosystem and version are served")
    if package.ecosystem != PYPI or not package.name:
        raise _Unanswerable(f"only the {PYPI} ecosystem is served, with a package name")
    return canonicalize_name(package.name), query.version


def _served(advisory: Advisory, canonical_name: str) -> Advisory:
    affected = tuple(
        _canonical(entry, canonical_name) if entry.is_pypi(canonical_name) else entry
        for entry in advisory.affected
    )
    return msgspec.structs.replace(advisory, affected=affected)


def _canonical(entry: Affected, canonical_name: str) -> Affected:
    ranges = tuple(
        msgspec.structs.replace(
            r,
            events=tuple(
                e
                for e in r.events
                if all(
                    v == "0" or parse_version(v) is not None
                    for v in (e.introduced, e.fixed, e.last_affected, e.limit)
                    if v is not None
                )
            ),
        )
        if r.type == "ECOSYSTEM"
        else r
        for r in entry.ranges
    )
    package = msgspec.structs.replace(entry.package, name=canonical_name)
    return msgspec.structs.replace(entry, package=package, ranges=_nonempty(ranges))


def _nonempty(ranges: tuple[Range, ...]) -> tuple[Range, ...]:
    return tuple(r for r in ranges if r.events)


class _HttpServer(ThreadingHTTPServer):
    # Handler threads are joined on close, so none outlives the server.
    daemon_threads = False
    block_on_close = True

    def __init__(self, advisories: Advisories) -> None:
        super().__init__((LOOPBACK, 0), _Handler)
        self.advisories = advisories
        self.queries = 0
        self.lock = threading.Lock()

    def server_bind(self) -> None:
        # HTTPServer.server_bind asks DNS for the host's name (getfqdn), which can hang offline.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    timeout = CLIENT_TIMEOUT

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != QUERY_PATH:
            self._send(HTTPStatus.NOT_FOUND, b'{"code": 5, "message": "not found"}')
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._send(HTTPStatus.LENGTH_REQUIRED, b'{"code": 3, "message": "length required"}')
            return
        if not 0 <= length <= MAX_QUERY_BYTES:
            self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b'{"code": 3, "message": "too large"}')
            return
        status, body = answer_query(self.server.advisories, self.rfile.read(length))
        with self.server.lock:
            self.server.queries += 1
        self._send(status, body)

    def do_GET(self) -> None:
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, b'{"code": 12, "message": "use POST"}')

    def _send(self, status: HTTPStatus, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("osv server: " + format, *args)


class OsvServer:
    """``with OsvServer(advisories) as server:`` serves on ``server.url`` until the block ends."""

    def __init__(self, advisories: Advisories) -> None:
        self.advisories = advisories
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The URL to pass to ``pip-audit --osv-url``."""
        if self._httpd is None:
            raise RuntimeError("the OSV server is not running")  # a bug of the caller
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}{QUERY_PATH}"

    @property
    def queries(self) -> int:
        """How many queries were answered so far."""
        return self._httpd.queries if self._httpd is not None else 0

    def __enter__(self) -> OsvServer:
        self._httpd = _HttpServer(self.advisories)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL},
            name="hydrogen-osv-server",
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop serving, close the socket and join every thread. Idempotent."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        httpd.shutdown()
        httpd.server_close()
        thread.join(STOP_TIMEOUT)
        self._thread = None
