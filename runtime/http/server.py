"""``hydrogen serve --http``: uvicorn, the Supervisor, alerts and (optionally) MCP, in one loop.

Order of events:

1. Check the configuration against the policy, then bind the socket (a port in use or a
   non-loopback address without tokens fails here, before any plugin starts).
2. Start answering HTTP at once: ``/health`` says ``starting`` while the gate reviews the
   plugins and the workers start; ``/tools`` and ``/execute`` wait until the Supervisor is up.
3. Enter the Supervisor; start the plugin watch, the alert engine, the webhook sender and the
   MCP session beside (``--stdio``).
4. On SIGINT or SIGTERM (or stdin EOF with ``--stdio``): stop accepting connections, give
   requests in flight ``drain_seconds`` to finish, cancel what is left, then leave the
   Supervisor, which stops every worker. A second signal skips the wait.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

import anyio
import uvicorn
from anyio.abc import TaskGroup

from runtime.alerts.engine import AlertEngine
from runtime.alerts.host import HostWatch, read_host, resolve_host
from runtime.alerts.sample import Sample, take_sample
from runtime.alerts.webhook import WebhookSender
from runtime.errors import ConfigError, HydrogenError
from runtime.host.hangup import reload_on_hangup
from runtime.host.result_cache import ResultCache
from runtime.host.supervisor import Supervisor
from runtime.http.app import AppParts, create_app
from runtime.http.auth import Identity, TokenTable, check_bind, check_roles, is_loopback
from runtime.http.calls import CallService
from runtime.http.config import HttpConfig
from runtime.http.metrics import HttpMetrics
from runtime.http.plugin_watch import PluginWatch
from runtime.http.view import SupervisorView

__all__ = ["LISTENING_PREFIX", "ServeOptions", "serve_http"]

log = logging.getLogger("hydrogen.http")

# Printed on stderr once the socket is bound; scripts read the port from it (``--port 0``).
LISTENING_PREFIX: Final = "hydrogen: serving HTTP on "
LISTEN_BACKLOG: Final = 1024
# Idle keep-alive connections are closed after this many seconds (uvicorn's default is 5).
KEEP_ALIVE_SECONDS: Final = 30


@dataclass(frozen=True)
class ServeOptions:
    host: str
    port: int
    config: HttpConfig
    # The role of requests without a token (only when no tokens are configured) and of MCP.
    role: str | None = None
    stdio: bool = False
    version: str = ""


def serve_http(supervisor: Supervisor, options: ServeOptions) -> int:
    """Serve until a signal (or stdin EOF with ``stdio``); returns the exit status."""
    check_bind(options.host, options.config)
    check_roles(options.config, SupervisorView(supervisor).defined_roles())
    sock = listen(options.host, options.port)
    fds = None
    if options.stdio:
        from runtime.mcp.stdio import take_stdio

        fds = take_stdio()
    try:
        anyio.run(_serve, supervisor, options, sock, fds)
    except BaseExceptionGroup as group:
        # The task group wraps what failed; a lone HydrogenError (the Supervisor could not
        # start) is reported as such, not as a group with a traceback.
        sole = _sole_exception(group)
        if isinstance(sole, HydrogenError):
            raise sole from None
        raise
    finally:
        sock.close()
    return 0


def _sole_exception(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    inner = group.exceptions
    if len(inner) != 1:
        return None
    return _sole_exception(inner[0]) if isinstance(inner[0], BaseExceptionGroup) else inner[0]


def listen(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(LISTEN_BACKLOG)
        except BaseException:
            sock.close()
            raise
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
            f"choose another address with --host/--port"
        ) from exc
    return sock


class _Uvicorn(uvicorn.Server):
    """uvicorn without its own signal handlers: this module owns SIGINT and SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _Server:
    """The parts of one server, built from the options, before the Supervisor is entered."""

    def __init__(self, supervisor: Supervisor, options: ServeOptions) -> None:
        config = options.config
        self.supervisor = supervisor
        self.options = options
        self.view = SupervisorView(supervisor)
        self.metrics = HttpMetrics()
        self.cache = ResultCache(
            max_entries=config.cache.max_entries,
            max_bytes=config.cache.max_bytes,
            max_entry_bytes=config.cache.max_entry_bytes,
        )
        self.watch = PluginWatch()
        self.alerts = AlertEngine(config.alerts)
        self.webhook = (
            WebhookSender(config.alerts.webhook, user_agent=f"hydrogen/{options.version}")
            if config.alerts.webhook is not None
            else None
        )
        if self.webhook is not None:
            self.alerts.add_listener(self.webhook.submit)
        calls = CallService(
            supervisor,
            self.view,
            self.cache,
            observe=self.metrics.observe_call,
            on_denied=lambda: self.metrics.deny("policy"),
        )
        tokens = TokenTable(config.tokens)
        self.metrics.watch(
            lambda: supervisor.status() if self.watch.entered.is_set() else None,
            cache=self.cache,
            alerts=self.alerts,
            webhook=self.webhook,
            load_seconds=lambda: self.watch.load_seconds,
        )
        self.app = create_app(
            AppParts(
                supervisor=supervisor,
                calls=calls,
                metrics=self.metrics,
                tokens=tokens,
                anonymous=Identity(role=options.role, label="anonymous"),
                config=config,
                watch=self.watch,
                alerts=self.alerts,
                version=options.version,
            )
        )
        self.uvicorn = _Uvicorn(
            uvicorn.Config(
                self.app,
                lifespan="off",
                log_config=None,
                access_log=False,
                ws="none",
                proxy_headers=False,
                server_header=False,
                timeout_keep_alive=KEEP_ALIVE_SECONDS,
                # uvicorn counts whole seconds here.
                timeout_graceful_shutdown=max(1, round(config.drain_seconds)),
            )
        )

    def sampler(self, host: HostWatch) -> Callable[[], Sample]:
        watch_host = self.options.config.alerts.host.enabled and bool(host.thresholds)

        def sample() -> Sample:
            return take_sample(
                self.supervisor.status(),
                at=time.monotonic(),
                denials=self.metrics.denials,
                host=read_host(host) if watch_host else None,
            )

        return sample


async def _serve(
    supervisor: Supervisor, options: ServeOptions, sock: socket.socket, fds: tuple[int, int] | None
) -> None:
    server = _Server(supervisor, options)
    stop = anyio.Event()
    http_done = anyio.Event()
    _announce(sock, options)
    async with anyio.create_task_group() as tg:
        tg.start_soon(_stop_on_signals, stop, server.uvicorn)
        tg.start_soon(reload_on_hangup, supervisor)
        tg.start_soon(_run_uvicorn, server.uvicorn, sock, http_done, stop)
        try:
            async with supervisor:
                for problem in supervisor.problems:
                    log.warning("problem: %s", problem)
                server.watch.entered.set()
                async with anyio.create_task_group() as helpers:
                    _start_helpers(helpers, server, fds, stop)
                    await stop.wait()
                    server.uvicorn.should_exit = True
                    await http_done.wait()
                    helpers.cancel_scope.cancel()
        finally:
            # Also when entering the Supervisor failed: the HTTP side must not outlive it.
            server.uvicorn.should_exit = True
            with anyio.CancelScope(shield=True):
                await http_done.wait()
            tg.cancel_scope.cancel()


def _start_helpers(
    helpers: TaskGroup, server: _Server, fds: tuple[int, int] | None, stop: anyio.Event
) -> None:
    rule = server.options.config.alerts.host
    host = resolve_host(rule, server.view.plugin_configuration(rule.plugin))
    server.alerts.host = host
    helpers.start_soon(server.watch.run, server.supervisor)
    helpers.start_soon(server.alerts.run, server.sampler(host))
    if server.webhook is not None:
        helpers.start_soon(server.webhook.run)
    if fds is not None:
        from runtime.http.mcp_beside import serve_mcp_beside

        options = server.options
        helpers.start_soon(
            lambda: serve_mcp_beside(
                server.supervisor, fds, role=options.role, version=options.version, stop=stop
            )
        )


async def _run_uvicorn(
    server: uvicorn.Server, sock: socket.socket, done: anyio.Event, stop: anyio.Event
) -> None:
    try:
        await server.serve(sockets=[sock])
    finally:
        done.set()
        stop.set()


async def _stop_on_signals(stop: anyio.Event, server: uvicorn.Server) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            name = signal.Signals(signum).name
            if stop.is_set():
                log.warning("received %s again: not waiting for requests in flight", name)
                server.force_exit = True
                continue
            log.warning("received %s: stopping", name)
            stop.set()


def _announce(sock: socket.socket, options: ServeOptions) -> None:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    if options.config.tokens:
        access = f"{len(options.config.tokens)} bearer token(s) required"
    elif is_loopback(options.host):
        access = "loopback only, no tokens"
    else:
        access = "no tokens"  # unreachable: check_bind refused this
    print(f"{LISTENING_PREFIX}http://{shown}:{port} ({access})", file=sys.stderr, flush=True)
