"""One worker incarnation as the supervisor sees it: spawn, handshake, serve, die.

``Worker.run()`` owns the incarnation's tasks (protocol reader/writer, stderr drain, exit watch)
and returns only when the process is gone and its whole tree has been killed. Anything that ends
the incarnation (EOF, a protocol error, the process exiting, ``kill()``) ends all of it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import anyio
import anyio.to_thread
from anyio.abc import Process, TaskStatus

from runtime.errors import PluginStartError, ProtocolError
from runtime.host.reaper import ProcessTree
from runtime.manifest.model import Manifest
from runtime.protocol.framing import DEFAULT_MAX_FRAME_SIZE
from runtime.protocol.messages import (
    CANCEL,
    INITIALIZE,
    LOG,
    PROGRESS,
    SUPPORTED_VERSIONS,
    CancelParams,
    Confinement,
    InitializeParams,
    InitializeResult,
    LogParams,
    Notification,
    ProgressParams,
    decode_params,
)
from runtime.rpc.connection import Connection, ConnectionClosed, PendingCall, RemoteError
from runtime.sandbox.profile import Profile

__all__ = ["Worker", "build_environment"]

# Lines of worker stderr kept to explain a crash.
STDERR_TAIL_LINES: Final = 20
# A single stderr line longer than this is cut; the drain must never buffer without bound.
STDERR_MAX_LINE: Final = 8192
STDERR_CHUNK: Final = 65536
# Seconds to wait for the exit status after the socket closed, to name it in errors.
EXIT_STATUS_WAIT: Final = 1.0
# nice(1) value of every worker; the supervisor keeps 0 (see _spawn). 5 gives the supervisor
# about three times a worker's share of a contended core.
WORKER_NICENESS: Final = 5
SAFE_PATH: Final = "/usr/local/bin:/usr/bin:/bin"
# Models ship inside site-packages; a worker must never reach for a hub at run time.
FIXED_ENV: Final = {
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "PYTHONUNBUFFERED": "1",
}

log = logging.getLogger("hydrogen.worker")


def build_environment(
    manifest: Manifest, environ: Mapping[str, str], workdir: Path
) -> dict[str, str]:
    """Environment from scratch: fixed safe values plus only the variables the plugin declares."""
    env = dict(FIXED_ENV)
    env["PATH"] = f"{Path(sys.executable).parent}:{SAFE_PATH}"
    env["HOME"] = env["TMPDIR"] = str(workdir)
    for name in manifest.permissions.env:
        if name in environ:
            env[name] = environ[name]
    return env


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "the worker closed its protocol socket"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        hint = {
            "SIGKILL": " (killed: memory or CPU limit, or by the supervisor)",
            "SIGXCPU": " (CPU time limit of its sandbox profile reached)",
        }.get(name, "")
        return f"worker exited on {name}{hint}"
    return f"worker exited with status {returncode}"


class Worker:
    def __init__(
        self,
        manifest: Manifest,
        resolved: dict[str, Any],
        profile: Profile,
        env: dict[str, str],
        workdir: Path,
        confinement: Confinement,
    ) -> None:
        self.manifest = manifest
        self.confinement = confinement
        self._resolved = resolved
        self.profile = profile
        self._env = env
        self._workdir = workdir
        self.plugin = manifest.name
        self.tree = ProcessTree.create(manifest.name, memory_bytes=profile.limits.memory_bytes)
        self.process: Process | None = None
        self.conn: Connection | None = None
        self.info: InitializeResult | None = None
        self.stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self.exited = anyio.Event()
        self.returncode: int | None = None
        self.end_reason = ""
        self._cancel_run: anyio.CancelScope | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        # True when the supervisor ended this incarnation on purpose (timeout, stop).
        self.killed_on_purpose = False
        # Set the moment this incarnation starts to end, before the state machine catches up,
        # so no new call is routed to a worker that is going away.
        self.ending = False
        self._lifeline = -1
        self.progress_listeners: dict[int, Any] = {}
        self.plugin_log = logging.getLogger(f"hydrogen.plugin.{manifest.name}")

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def describe_exit(self) -> str:
        """How the incarnation ended, without the stderr tail ``describe_end`` adds."""
        return self.end_reason or describe_exit(self.returncode)

    @property
    def serving(self) -> bool:
        """Handshaken and not on its way out: safe to route a new call to."""
        return self.info is not None and not self.ending and not self.exited.is_set()

    def describe_end(self) -> str:
        detail = self.describe_exit()
        tail = [line for line in self.stderr_tail if line.strip()][-3:]
        return f"{detail}; last stderr: {' | '.join(tail)}" if tail else detail

    async def run(self, *, task_status: TaskStatus[None]) -> None:
        """Spawn, handshake (then report started), serve until the end, clean up everything."""
        failure: PluginStartError | None = None
        started = False
        try:
            async with anyio.create_task_group() as tg:
                self._cancel_run = tg.cancel_scope
                self._tg = tg
                try:
                    await self._spawn(tg)
                    with anyio.fail_after(self.profile.start_timeout):
                        self.info = await self._handshake()
                except TimeoutError:
                    failure = PluginStartError(
                        self.plugin,
                        f"no handshake within {self.profile.start_timeout:g}s "
                        f"(raise limits.start_timeout in {self.profile.path})",
                        retryable=True,
                    )
                except PluginStartError as exc:
                    failure = exc
                if failure is not None:
                    tg.cancel_scope.cancel()
                else:
                    started = True
                    task_status.started()
        finally:
            with anyio.CancelScope(shield=True):
                await self._reap()
        if not started and failure is None:
            # The incarnation ended under the handshake (the worker died or broke the protocol,
            # and finish() cancelled it) before the handshake could report why.
            failure = PluginStartError(
                self.plugin, f"during handshake: {self.describe_exit()}", retryable=True
            )
        if failure is not None:
            raise failure

    async def _spawn(self, tg: anyio.abc.TaskGroup) -> None:
        # One full-duplex socket as the worker's stdin and stdout: a single private fd in the
        # worker, EOF seen by either side when the other closes (docs/architecture.md).
        ours, theirs = socket.socketpair()
        cmd = [sys.executable, "-I", "-m", "runtime.worker", "--parent", str(os.getpid())]
        pass_fds: tuple[int, ...] = ()
        lifeline_read = -1
        if self.tree.cgroup is not None:
            for group in self.tree.cgroups:
                cmd += ["--cgroup", str(group)]
            # The worker's guardian reads EOF here when this process is gone, however it went,
            # and empties the cgroup (runtime/worker/guardian.py). Only we hold the write end.
            lifeline_read, self._lifeline = os.pipe()
            cmd += ["--lifeline", str(lifeline_read)]
            pass_fds = (lifeline_read,)
        try:
            with theirs:
                self.process = await anyio.open_process(
                    cmd,
                    stdin=theirs.fileno(),
                    stdout=theirs.fileno(),
                    stderr=subprocess.PIPE,
                    cwd=self._workdir,
                    env=self._env,
                    start_new_session=True,
                    pass_fds=pass_fds,
                )
        except BaseException as exc:
            # Also on cancellation (a deadline during start): our socket end and both lifeline
            # ends would leak otherwise. A worker that did start reads EOF and exits.
            ours.close()
            self._close_lifeline()
            if lifeline_read >= 0:
                os.close(lifeline_read)
            if isinstance(exc, OSError):
                raise PluginStartError(
                    self.plugin, f"cannot start worker: {exc}", retryable=True
                ) from exc
            raise
        if lifeline_read >= 0:
            os.close(lifeline_read)
        # The supervisor is the control plane: deadlines, health, front ends answering while
        # workers import torch. A lower priority for workers (inherited by their children)
        # keeps it responsive when plugins keep every core busy; idle cores still go to them.
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, self.process.pid, WORKER_NICENESS)
        self.tree.pid = self.process.pid
        self.conn = Connection(ours, on_notification=self._on_notification)
        tg.start_soon(self._serve_connection)
        tg.start_soon(self._drain_stderr)
        tg.start_soon(self._watch_exit)

    async def _handshake(self) -> InitializeResult:
        assert self.conn is not None
        manifest = self.manifest
        params = InitializeParams(
            protocol_versions=list(SUPPORTED_VERSIONS),
            plugin=manifest.name,
            root=str(manifest.root),
            class_name=manifest.class_name,
            manifest=self._resolved,
            tools=[t.name for t in manifest.tools],
            limits=self.profile.limits,
            max_frame_size=DEFAULT_MAX_FRAME_SIZE,
            supervisor_pid=os.getpid(),
            confinement=self.confinement,
        )
        try:
            raw = await self.conn.request(INITIALIZE, params)
        except RemoteError as exc:
            trace = exc.error.data.get("traceback", "") if isinstance(exc.error.data, dict) else ""
            if trace:
                self.plugin_log.error("load failed:\n%s", trace, extra={"plugin": self.plugin})
            raise PluginStartError(self.plugin, exc.error.message) from exc
        except (ConnectionClosed, ProtocolError) as exc:
            with anyio.move_on_after(EXIT_STATUS_WAIT):
                await self.exited.wait()
            raise PluginStartError(
                self.plugin, f"during handshake: {self.describe_exit()}", retryable=True
            ) from exc
        try:
            return decode_params(raw, InitializeResult)
        except ProtocolError as exc:
            raise PluginStartError(
                self.plugin, f"the worker's answer to initialize is malformed: {exc.reason}"
            ) from exc

    async def _serve_connection(self) -> None:
        assert self.conn is not None
        try:
            await self.conn.run()
        except ProtocolError as exc:
            # Ends only this incarnation; it must never reach the supervisor's task group.
            self.end_reason = f"protocol error: {exc.reason}"
            log.warning(
                "plugin %r broke the protocol: %s",
                self.plugin,
                exc.reason,
                extra={"plugin": self.plugin},
            )
        self.finish()

    async def _watch_exit(self) -> None:
        assert self.process is not None
        self.returncode = await self.process.wait()
        self.exited.set()
        # The socket normally reports EOF by itself once the process is gone; this covers a
        # descendant that somehow still holds it open.
        await anyio.sleep(EXIT_STATUS_WAIT)
        self.finish()

    async def _drain_stderr(self) -> None:
        assert self.process is not None
        assert self.process.stderr is not None
        partial = b""
        extra = {"plugin": self.plugin}
        try:
            async for chunk in self.process.stderr:
                lines = (partial + chunk).split(b"\n")
                partial = lines.pop()[:STDERR_MAX_LINE]
                for raw in lines:
                    text = raw[:STDERR_MAX_LINE].decode("utf-8", "replace").rstrip()
                    self.stderr_tail.append(text)
                    self.plugin_log.info("%s", text, extra=extra)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        if partial:
            self.stderr_tail.append(partial.decode("utf-8", "replace"))

    def _on_notification(self, message: Notification) -> None:
        if message.method == LOG:
            params = decode_params(message.params, LogParams)
            level = logging.getLevelName(params.level.upper())
            self.plugin_log.log(
                level if isinstance(level, int) else logging.INFO,
                "%s",
                params.message,
                extra={"plugin": self.plugin, "plugin_logger": params.logger},
            )
        elif message.method == PROGRESS:
            progress = decode_params(message.params, ProgressParams)
            listener = self.progress_listeners.get(progress.request_id)
            if listener is not None:
                listener(progress)

    def abandon_call(self, call: PendingCall, grace: float, reason: str) -> None:
        """The caller gave up on ``call``: ask the worker to cancel it, kill it if it cannot."""
        assert self.conn is not None
        assert self._tg is not None
        with contextlib.suppress(ConnectionClosed):
            self.conn.notify(CANCEL, CancelParams(call.id))
        self._tg.start_soon(self._kill_unless_answered, call, grace, reason)

    async def _kill_unless_answered(self, call: PendingCall, grace: float, reason: str) -> None:
        with anyio.move_on_after(grace):
            await call.wait_answered()
            return
        self.killed_on_purpose = True
        self.finish(reason)

    def finish(self, reason: str = "") -> None:
        """End this incarnation now; ``run()`` then kills the tree and returns."""
        self.ending = True
        if reason and not self.end_reason:
            self.end_reason = reason
        if self._cancel_run is not None:
            self._cancel_run.cancel()

    async def _reap(self) -> None:
        await anyio.to_thread.run_sync(self.tree.kill_all)
        if self.conn is not None:
            await self.conn.aclose()
        if self.process is not None:
            with anyio.move_on_after(EXIT_STATUS_WAIT):
                self.returncode = await self.process.wait()
            self.exited.set()
            await self.process.aclose()
        self.tree.remove()
        self._close_lifeline()

    def _close_lifeline(self) -> None:
        if self._lifeline >= 0:
            os.close(self._lifeline)
            self._lifeline = -1
