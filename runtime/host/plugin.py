"""One plugin's life in the supervisor: start, serve calls, restart with backoff, quarantine.

``PluginRuntime.supervise()`` is the plugin's owner task. It starts a ``Worker`` incarnation,
marks the plugin active, waits for the incarnation to end, and decides what happens next: an
intentional kill restarts at once, a crash restarts after backoff, too many crashes in a window
quarantine the plugin. Calls always go to ``self.worker`` as it is when they are dispatched,
so swapping the worker (a restart now, a hot reload later) never touches calls in flight.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import anyio
import msgspec

from runtime.errors import (
    CallError,
    DuplicateToolError,
    FrameTooLargeError,
    InvalidParamsError,
    ManifestError,
    PluginBusyError,
    PluginCrashedError,
    PluginStartError,
    PluginUnavailableError,
    ProtocolError,
    ToolFailedError,
    ToolTimeoutError,
)
from runtime.host.lifecycle import State, check_transition
from runtime.host.metrics import ToolMetrics
from runtime.host.worker import EXIT_STATUS_WAIT, Worker, build_environment
from runtime.manifest.model import DEFAULT_TOOL_TIMEOUT, Manifest
from runtime.manifest.variables import resolve_configuration
from runtime.protocol.messages import CALL, HEALTH, CallParams, ErrorCode, HealthResult, ToolSpec
from runtime.rpc.connection import ConnectionClosed, RemoteError
from runtime.sandbox.grants import build_confinement
from runtime.sandbox.profile import DEFAULT_DISK_MB, MIB, Profile

if TYPE_CHECKING:
    import jsonschema

__all__ = ["PluginRuntime", "ProgressCallback"]

# Seconds a timed-out call has to acknowledge its cancellation before the worker is killed.
CANCEL_GRACE: Final = 2.0
# Crash-loop breaker: this many unplanned exits inside the window quarantine the plugin.
CRASH_LIMIT: Final = 5
CRASH_WINDOW: Final = 60.0
RESTART_BACKOFF_BASE: Final = 0.25
RESTART_BACKOFF_MAX: Final = 10.0
# Seconds for shutdown hooks (cleanup()/shutdown()) on a graceful stop, then for the exit.
SHUTDOWN_HOOK_TIMEOUT: Final = 5.0
STOP_EXIT_GRACE: Final = 2.0

ProgressCallback = Callable[[float, float | None, str | None], None]
_SETTLED: Final = frozenset(
    {State.ACTIVE, State.QUARANTINED, State.DISABLED, State.REFUSED, State.STOPPED, State.STOPPING}
)


class PluginRuntime:
    def __init__(
        self,
        manifest: Manifest,
        profile: Profile | None,
        *,
        environ: Mapping[str, str],
        workdir: Path,
        register_tools: Callable[[PluginRuntime, list[str]], None],
        allow_degraded: bool = False,
        on_active: Callable[[PluginRuntime], None] | None = None,
        code_root: Path | None = None,
        probation: bool = False,
    ) -> None:
        self.manifest = manifest
        # What workers import and the gate reviews: the version's private snapshot (snapshot.py);
        # ``manifest`` keeps the operator's path for messages.
        self.code = (
            manifest
            if code_root is None
            else msgspec.structs.replace(manifest, path=code_root / manifest.path.name)
        )
        self.digest = ""
        # A reload candidate: if its first worker never becomes active, it gives up at once
        # (the version it would replace keeps serving) instead of restarting with backoff.
        self.probation = probation
        self._ever_active = False
        self.profile = profile
        self.name = manifest.name
        # What the worker is confined to: the declaration with ${VAR} network entries resolved
        # (set by the supervisor at admission; the manifest keeps what was written).
        self.permissions = manifest.permissions
        self._environ = environ
        self.workdir = workdir
        self._register_tools = register_tools
        self._allow_degraded = allow_degraded
        self._on_active = on_active
        self.state = State.DISCOVERED
        self.reason = ""
        self._terminal = False
        self._changed = anyio.Event()
        self._start_wanted = anyio.Event()
        self.worker: Worker | None = None
        self.tools: dict[str, ToolSpec] = {}
        self._validators: dict[str, jsonschema.protocols.Validator] = {}
        self.metrics: dict[str, ToolMetrics] = {t.name: ToolMetrics() for t in manifest.tools}
        self._crashes: deque[float] = deque()
        self.restarts = 0
        self.in_flight = 0
        self.queued = 0
        self._slots = anyio.Semaphore(manifest.concurrency.max_in_flight)
        self._stopping = False
        self._idle: anyio.Event | None = None

    # ---- state ------------------------------------------------------------------------------

    def _set_state(self, new: State, reason: str = "", *, terminal: bool = False) -> None:
        check_transition(self.name, self.state, new)
        self.state, self.reason, self._terminal = new, reason, terminal
        self._changed.set()
        self._changed = anyio.Event()

    def fail(self, reason: str) -> None:
        """Put a plugin that never started into a terminal error (bad profile, name clash)."""
        self._set_state(State.ERROR, reason, terminal=True)

    def refuse(self, reason: str) -> None:
        """Admission said no (permissions beyond the profile's grants, later the gate)."""
        self._set_state(State.REFUSED, reason, terminal=True)

    @property
    def settled(self) -> bool:
        return (
            self.state in _SETTLED
            or self._terminal
            or (self.state == State.DISCOVERED and not self.manifest.auto_start)
        )

    async def wait_settled(self) -> None:
        while not self.settled:
            await self._changed.wait()

    # ---- the owner task ---------------------------------------------------------------------

    async def supervise(self) -> None:
        if not self.manifest.enabled:
            self._set_state(State.DISABLED, "enabled: false in plugin.yaml", terminal=True)
            return
        if self._terminal:
            return
        if not self.manifest.auto_start:
            await self._start_wanted.wait()
        while not self._stopping:
            self._set_state(State.LOADING)
            if not await self._run_incarnation():
                return
            if self._stopping:
                return
            worker = self.worker
            assert worker is not None
            if self.probation and not self._ever_active:
                self._set_state(
                    State.ERROR, f"did not start: {worker.describe_end()}", terminal=True
                )
                return
            if worker.killed_on_purpose:
                self.restarts += 1
                continue
            now = time.monotonic()
            self._crashes.append(now)
            while self._crashes and now - self._crashes[0] > CRASH_WINDOW:
                self._crashes.popleft()
            detail = worker.describe_end()
            if len(self._crashes) >= CRASH_LIMIT:
                self._set_state(State.ERROR, detail)
                self._set_state(
                    State.QUARANTINED,
                    f"{len(self._crashes)} crashes within {CRASH_WINDOW:g}s; last: {detail}",
                    terminal=True,
                )
                return
            self._set_state(State.ERROR, f"restarting after crash: {detail}")
            self.restarts += 1
            await anyio.sleep(
                min(RESTART_BACKOFF_BASE * 2 ** (len(self._crashes) - 1), RESTART_BACKOFF_MAX)
            )

    async def _run_incarnation(self) -> bool:
        """Run one worker to its end. False when the plugin must not be restarted."""
        assert self.profile is not None
        try:
            resolved = resolve_configuration(self.manifest, self._environ)
        except ManifestError as exc:
            self._set_state(State.ERROR, str(exc), terminal=True)
            return False
        env = build_environment(self.manifest, self._environ, self.workdir)
        confinement = build_confinement(
            self.permissions,
            self.workdir,
            self.profile.path,
            required=not self._allow_degraded,
            disk_bytes=(self.profile.disk_mb or DEFAULT_DISK_MB) * MIB,
        )
        worker = Worker(self.code, resolved, self.profile, env, self.workdir, confinement)
        self.worker = worker  # even a failed start is described from it
        failures: list[PluginStartError] = []
        try:
            async with anyio.create_task_group() as tg:
                await tg.start(worker.run)
                self._activate(worker)
        except* PluginStartError as group:
            failures = [e for e in group.exceptions if isinstance(e, PluginStartError)]
        if failures and not failures[0].retryable:
            self._set_state(State.ERROR, failures[0].reason, terminal=True)
            return False
        if failures:
            worker.end_reason = worker.end_reason or failures[0].reason
        return True

    def _activate(self, worker: Worker) -> None:
        """Check the handshake against the manifest, then route calls to ``worker``."""
        assert worker.info is not None
        served = {t.name: t for t in worker.info.tools}
        declared = [t.name for t in self.manifest.tools]
        if declared and set(declared) != set(served):
            missing = sorted(set(declared) - set(served))
            extra = sorted(set(served) - set(declared))
            worker.finish("tool list does not match plugin.yaml")
            raise PluginStartError(
                self.name,
                f"worker serves tools that differ from plugin.yaml "
                f"(missing: {missing}, undeclared: {extra})",
            )
        # Imported here, not at module import: jsonschema costs ~30 ms to import, and a front
        # end (MCP) answers its handshake before any worker is up.
        import jsonschema

        validators: dict[str, jsonschema.protocols.Validator] = {}
        for name, spec in served.items():
            cls = jsonschema.validators.validator_for(spec.input_schema)
            try:
                cls.check_schema(spec.input_schema)
            except jsonschema.SchemaError as exc:
                worker.finish("invalid tool schema")
                raise PluginStartError(
                    self.name, f"tool {name!r} has an invalid JSON Schema: {exc.message}"
                ) from exc
            validators[name] = cls(spec.input_schema)
        if not declared:
            try:
                self._register_tools(self, sorted(served))
            except DuplicateToolError as exc:
                worker.finish("tool name claimed by another plugin")
                raise PluginStartError(self.name, str(exc)) from exc
        for name in served:
            self.metrics.setdefault(name, ToolMetrics())
        self.tools, self._validators = served, validators
        self.worker = worker
        self._ever_active = True
        self._set_state(State.LOADED)
        self._set_state(State.ACTIVE)
        if self._on_active is not None:
            self._on_active(self)

    # ---- calls ------------------------------------------------------------------------------

    def tool_timeout(self, tool: str) -> float:
        entry = self.manifest.tool(tool)
        return entry.timeout if entry is not None else DEFAULT_TOOL_TIMEOUT

    async def call(
        self,
        tool: str,
        params: dict[str, Any],
        timeout: float | None,
        on_progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        limit = self.tool_timeout(tool)
        effective = limit if timeout is None else min(timeout, limit)
        if (
            self.in_flight >= self.manifest.concurrency.max_in_flight
            and self.queued >= self.manifest.concurrency.max_queued
        ):
            raise PluginBusyError(
                tool=tool, plugin=self.name, in_flight=self.in_flight, queued=self.queued
            )
        deadline = anyio.current_time() + effective
        try:
            # Fast path without a checkpoint: a free slot costs no event-loop iteration.
            self._slots.acquire_nowait()
        except anyio.WouldBlock:
            self.queued += 1
            try:
                await self._slots.acquire()
            finally:
                self.queued -= 1
        self.in_flight += 1
        try:
            worker = await self._wait_active(tool)
            self._validate(tool, params)
            remaining = deadline - anyio.current_time()
            return await self._dispatch(worker, tool, params, remaining, effective, on_progress)
        finally:
            self.in_flight -= 1
            self._slots.release()
            if self._idle is not None and not self.in_flight and not self.queued:
                self._idle.set()

    async def wait_idle(self) -> None:
        """Until no call is in flight or queued here (a retiring version drains this way)."""
        while self.in_flight or self.queued:
            self._idle = anyio.Event()
            await self._idle.wait()

    async def check_health(self, timeout: float) -> tuple[str, bool]:
        """Ask the active worker's ``health`` hook: ("", ready) when healthy, else (what was
        wrong, False). A plugin that warms up in the background (a model loading) answers
        ``{"ready": false}`` until it can serve without making callers wait."""
        worker = self.worker
        if self.state != State.ACTIVE or worker is None or worker.conn is None:
            return f"not active ({self.state}{': ' + self.reason if self.reason else ''})", False
        try:
            with anyio.fail_after(timeout):
                answer = await worker.conn.request(HEALTH, {})
        except TimeoutError:
            return f"the health check did not answer within {timeout:g}s", False
        except (RemoteError, ConnectionClosed, ProtocolError) as exc:
            return f"the health check failed: {exc}", False
        try:
            result = msgspec.json.decode(answer, type=HealthResult)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return f"the health check answered nonsense: {exc}", False
        if not result.ok:
            return f"the plugin reports itself unhealthy: {result.detail}", False
        reported = result.detail.get("plugin")
        return "", not (isinstance(reported, dict) and reported.get("ready") is False)

    async def _wait_active(self, tool: str) -> Worker:
        worker = self.worker
        if self.state == State.ACTIVE and worker is not None and worker.serving:
            return worker  # the common case, without a timeout scope
        if self.state == State.DISCOVERED and not self.manifest.auto_start:
            self._start_wanted.set()
        start_timeout = self.profile.start_timeout if self.profile else 0.0
        with anyio.move_on_after(start_timeout + RESTART_BACKOFF_MAX):
            while True:
                worker = self.worker
                if self.state == State.ACTIVE and worker is not None and worker.serving:
                    return worker
                if (
                    self._terminal
                    or self._stopping
                    or self.state
                    in (State.QUARANTINED, State.DISABLED, State.REFUSED, State.STOPPED)
                ):
                    break
                await self._changed.wait()
        raise PluginUnavailableError(
            tool=tool,
            plugin=self.name,
            state=str(self.state),
            reason=self.reason or "did not become active in time",
        )

    def _validate(self, tool: str, params: dict[str, Any]) -> None:
        validator = self._validators.get(tool)
        if validator is None:
            raise PluginUnavailableError(
                tool=tool,
                plugin=self.name,
                state=str(self.state),
                reason="the worker does not serve this tool",
            )
        if validator.is_valid(params):
            return
        from jsonschema.exceptions import best_match

        error = best_match(validator.iter_errors(params))
        assert error is not None
        field = "params" + "".join(
            f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path
        )
        raise InvalidParamsError(tool=tool, plugin=self.name, field=field, reason=error.message)

    async def _dispatch(
        self,
        worker: Worker,
        tool: str,
        params: dict[str, Any],
        remaining: float,
        timeout: float,
        on_progress: ProgressCallback | None,
    ) -> dict[str, Any]:
        conn = worker.conn
        assert conn is not None
        try:
            pending = conn.start_request(CALL, CallParams(tool, params))
        except FrameTooLargeError as exc:
            raise InvalidParamsError(
                tool=tool,
                plugin=self.name,
                field="params",
                reason=f"encoded params are {exc.size} bytes; the frame limit is {exc.limit}",
            ) from None
        except ConnectionClosed:
            raise PluginCrashedError(
                tool=tool, plugin=self.name, detail=worker.describe_end()
            ) from None
        if on_progress is not None:
            worker.progress_listeners[pending.id] = lambda p: on_progress(
                p.progress, p.total, p.message
            )
        answered = False
        try:
            with anyio.move_on_after(remaining):
                try:
                    raw = await pending.wait()
                except RemoteError as exc:
                    raise _translate(exc, tool, self.name) from None
                except (ConnectionClosed, ProtocolError):
                    with anyio.move_on_after(EXIT_STATUS_WAIT):
                        await worker.exited.wait()
                    raise PluginCrashedError(
                        tool=tool, plugin=self.name, detail=worker.describe_end()
                    ) from None
                answered = True
                result: dict[str, Any] = msgspec.json.decode(raw)
                return result
            raise ToolTimeoutError(tool=tool, plugin=self.name, timeout=timeout)
        finally:
            worker.progress_listeners.pop(pending.id, None)
            if not answered and not pending.answered and worker.conn is conn:
                worker.abandon_call(
                    pending, CANCEL_GRACE, f"tool {tool!r} ignored cancellation after its deadline"
                )

    # ---- stop -------------------------------------------------------------------------------

    async def stop(self) -> None:
        """Graceful stop: shutdown hooks, EOF, a short wait, then the whole tree is killed."""
        self._stopping = True
        self._start_wanted.set()
        worker = self.worker
        if self.state in (
            State.LOADING,
            State.LOADED,
            State.ACTIVE,
            State.ERROR,
            State.QUARANTINED,
        ):
            self._set_state(State.STOPPING)
        if worker is not None and worker.conn is not None and not worker.exited.is_set():
            worker.killed_on_purpose = True
            # Shutdown hooks only make sense after a handshake: before it, the worker reads
            # nothing but ``initialize`` and the request would just use up the timeout.
            if worker.info is not None:
                with (
                    anyio.move_on_after(SHUTDOWN_HOOK_TIMEOUT),
                    contextlib.suppress(RemoteError, ConnectionClosed, ProtocolError),
                ):
                    await worker.conn.request("shutdown", {})
            with anyio.move_on_after(STOP_EXIT_GRACE):
                await worker.conn.aclose()
                await worker.exited.wait()
            worker.finish("stopped by the supervisor")
        if (
            self.state == State.STOPPING
            or self.state in (State.DISABLED, State.REFUSED)
            or self.state == State.DISCOVERED
        ):
            self._set_state(State.STOPPED)


def _translate(exc: RemoteError, tool: str, plugin: str) -> CallError:
    """Worker error objects -> the caller's exception types. The one place this happens."""
    error = exc.error
    data = error.data if isinstance(error.data, dict) else {}
    if error.code == ErrorCode.INVALID_PARAMS:
        return InvalidParamsError(tool=tool, plugin=plugin, field="params", reason=error.message)
    return ToolFailedError(
        tool=tool,
        plugin=plugin,
        error_type=str(data.get("type", f"error {error.code}")),
        message=error.message,
        traceback=str(data.get("traceback", "")),
    )
