"""The embedded API: discover plugins, start their workers, route tool calls, report status.

    async with Supervisor(plugin_dirs=["plugins"]) as sup:
        print(sup.tools())
        result = await sup.call("health_check", {})

The supervisor never imports plugin code. It owns one task group; every plugin's owner task
(``PluginRuntime.supervise``) lives in it, and leaving the ``async with`` stops every worker and
kills every process any of them started.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import anyio
import msgspec
import psutil
from anyio.abc import TaskGroup

from runtime.errors import (
    CallError,
    DuplicateToolError,
    HydrogenError,
    InvalidParamsError,
    ManifestError,
    ToolNotFoundError,
)
from runtime.gate.findings import Severity
from runtime.gate.gate import Gate, GateConfig, gate_from_environment
from runtime.gate.verdict import Decision, Verdict
from runtime.host.audit import AuditLog, summarize_error, worker_cpu_ns
from runtime.host.lifecycle import State
from runtime.host.plugin import PluginRuntime, ProgressCallback
from runtime.host.policy import Policy, load_policy
from runtime.host.reaper import sweep_stale_groups
from runtime.host.schema_cache import SchemaCache
from runtime.host.worker import Worker
from runtime.manifest.discovery import discover
from runtime.manifest.schema import schema_from_manifest
from runtime.protocol.messages import ToolSpec
from runtime.sandbox.grants import check_admission, resolve_permissions
from runtime.sandbox.profile import Profile, describe, load_profiles
from runtime.settings import ALLOW_DEGRADED, GATE, env_flag

__all__ = ["DEFAULT_PROFILES_DIR", "Supervisor", "ToolInfo"]

DEFAULT_PROFILES_DIR: Final = Path(__file__).resolve().parents[2] / "sandbox_profiles"
PROFILES_ENV: Final = "HYDROGEN_PROFILES"
DEGRADED_ENV: Final = ALLOW_DEGRADED
GATE_ENV: Final = GATE

log = logging.getLogger("hydrogen.supervisor")
POLICY_ENV: Final = "HYDROGEN_POLICY"
AUDIT_LOG_ENV: Final = "HYDROGEN_AUDIT_LOG"


class ToolInfo(msgspec.Struct, frozen=True):
    name: str
    plugin: str
    description: str
    input_schema: dict[str, Any]
    timeout: float


class Supervisor:
    def __init__(
        self,
        plugin_dirs: Iterable[Path | str],
        *,
        profiles_dir: Path | str | None = None,
        environ: Mapping[str, str] | None = None,
        allow_degraded: bool | None = None,
        policy: Path | str | Policy | None = None,
        audit_log: Path | str | AuditLog | None = None,
        gate: bool | Gate | GateConfig | None = None,
        wait_ready: bool = True,
    ) -> None:
        self._plugin_dirs = [Path(p) for p in plugin_dirs]
        self._profiles_dir = Path(
            profiles_dir or os.environ.get(PROFILES_ENV) or DEFAULT_PROFILES_DIR
        )
        self._environ = dict(os.environ if environ is None else environ)
        # Degraded mode: start plugins even where a kernel layer their profile needs is missing
        # (status() then says which layers are really in force). Off unless the operator asks.
        if allow_degraded is None:
            allow_degraded = env_flag(DEGRADED_ENV, default=False)
        self._allow_degraded = allow_degraded
        # Caller permissions and the audit log; with neither, call() takes its fast path.
        # Both are read here, so a bad policy or an unwritable log stops the supervisor
        # before any worker starts.
        self._policy = _load_policy(policy)
        self._audit = _open_audit_log(audit_log)
        self._governed = self._policy is not None or self._audit is not None
        self._gate = _make_gate(gate)
        # False: entering returns once plugins are admitted and starting; tools() lists them
        # from their manifests and calls wait for their workers. For front ends such as MCP.
        self._wait_ready = wait_ready
        self._verdicts: dict[str, Verdict] = {}
        self._schemas = SchemaCache()
        self._schema_keys: dict[str, str] = {}
        self._known_schemas: dict[str, dict[str, ToolSpec]] = {}
        self._plugins: dict[str, PluginRuntime] = {}
        self._routes: dict[str, PluginRuntime] = {}
        self._problems: list[HydrogenError] = []
        self._tg: TaskGroup | None = None
        self._workroot: Path | None = None
        self._samplers: dict[int, psutil.Process] = {}
        self._started_at = 0.0

    # ---- lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> Supervisor:
        self._started_at = time.monotonic()
        self._workroot = Path(tempfile.mkdtemp(prefix="hydrogen-"))
        # Leftovers of supervisors that were killed before they could clean up (their guardians
        # normally remove these; this catches a guardian that was killed too).
        swept = sweep_stale_groups()
        if swept:
            log.info("removed %d stale worker cgroup(s)", swept)
        profiles, profile_problems = load_profiles(self._profiles_dir, self._environ)
        self._problems.extend(profile_problems)
        found = discover(self._plugin_dirs)
        self._problems.extend(found.problems)
        for manifest in found.manifests:
            key = self._schema_keys[manifest.name] = self._schemas.key(manifest.root)
            self._known_schemas[manifest.name] = self._schemas.get(key)
            workdir = self._workroot / manifest.name
            workdir.mkdir(mode=0o700)
            runtime = PluginRuntime(
                manifest,
                profiles.get(manifest.sandbox),
                environ=self._environ,
                workdir=workdir,
                register_tools=self._register,
                allow_degraded=self._allow_degraded,
                on_active=self._remember_schemas,
            )
            self._plugins[manifest.name] = runtime
            if runtime.profile is None:
                runtime.fail(
                    f"sandbox profile {manifest.sandbox!r} (plugin.yaml: sandbox) does not exist "
                    f"in {self._profiles_dir}; available: {', '.join(sorted(profiles)) or 'none'}"
                )
                continue
            try:
                self._register(runtime, [t.name for t in manifest.tools])
            except DuplicateToolError as exc:
                self._problems.append(exc)
                runtime.fail(str(exc))
                continue
            # Registered even when refused, so a call names the refusal instead of "not found".
            try:
                runtime.permissions = resolve_permissions(manifest, self._environ)
            except ManifestError as exc:
                self._problems.append(exc)
                runtime.refuse(str(exc))
                continue
            beyond = check_admission(
                manifest.name, runtime.permissions, runtime.profile.grants, runtime.profile.path
            )
            if beyond:
                runtime.refuse("; ".join(beyond))
                continue
            missing_dir = _create_write_dirs(runtime.permissions.fs_write)
            if missing_dir:
                runtime.refuse(f"plugin {manifest.name!r}: {missing_dir}")
        await self._run_gate()
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        for runtime in self._plugins.values():
            self._tg.start_soon(runtime.supervise, name=f"plugin:{runtime.name}")
        # Start is parallel; entering waits until every eager plugin is active or has failed,
        # unless the caller asked not to (a front end that must answer before workers are up).
        if self._wait_ready:
            try:
                await self.wait_settled()
            except BaseException:
                # __aexit__ never runs when __aenter__ fails (e.g. the caller's deadline passed
                # during start), so the workers already spawned are stopped here.
                await self.aclose()
                raise
        return self

    async def wait_settled(self) -> None:
        """Wait until every eager plugin is active or has failed (what entering waits for)."""
        async with anyio.create_task_group() as waiters:
            for runtime in self._plugins.values():
                waiters.start_soon(runtime.wait_settled)

    def change_events(self) -> list[anyio.Event]:
        """One event per plugin, set at its next state change (take them before reading the
        state, so a change in between is never missed)."""
        return [runtime._changed for runtime in self._plugins.values()]

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._tg is None:
            return
        tg, self._tg = self._tg, None
        try:
            with anyio.CancelScope(shield=True):
                async with anyio.create_task_group() as stoppers:
                    for runtime in self._plugins.values():
                        stoppers.start_soon(runtime.stop)
        finally:
            # Owner tasks reap their workers in shielded finally blocks, so this cannot leak.
            tg.cancel_scope.cancel()
            try:
                await tg.__aexit__(None, None, None)
            finally:
                # Reached even when the caller is being cancelled and __aexit__ re-raises it.
                if self._workroot is not None:
                    _remove_tree(self._workroot)
                if self._audit is not None:
                    self._audit.close()

    async def _run_gate(self) -> None:
        """Review every plugin that could start; a refused one never reaches a worker."""
        if self._gate is None:
            log.warning(
                "SECURITY GATE DISABLED: %d plugin(s) admitted without review (gate=False). "
                "Use this only for plugin development and trusted code.",
                len(self._plugins),
            )
            return
        gate = self._gate
        candidates = [r for r in self._plugins.values() if r.state == State.DISCOVERED]

        async def review(runtime: PluginRuntime) -> None:
            verdict = await gate.review(runtime.manifest)
            self._verdicts[runtime.name] = verdict
            if verdict.decision == Decision.REFUSE:
                runtime.refuse(verdict.refusal_reason())
                log.warning("plugin %r %s", runtime.name, verdict.refusal_reason())
            elif verdict.decision == Decision.ADMIT_WITH_WARNINGS:
                log.warning("plugin %r admitted with warnings: %s", runtime.name, verdict.summary())

        async with anyio.create_task_group() as tg:
            for runtime in candidates:
                tg.start_soon(review, runtime)

    def _remember_schemas(self, runtime: PluginRuntime) -> None:
        key = self._schema_keys.get(runtime.name)
        if key is not None and runtime.tools != self._known_schemas.get(runtime.name):
            self._schemas.put(key, runtime.tools)

    def _register(self, runtime: PluginRuntime, tools: list[str]) -> None:
        for tool in tools:
            owner = self._routes.get(tool)
            if owner is not None and owner is not runtime:
                raise DuplicateToolError(tool, owner.name, runtime.name)
        for tool in tools:
            self._routes[tool] = runtime

    # ---- calls ------------------------------------------------------------------------------

    def tools(self, *, caller: str | None = None) -> list[ToolInfo]:
        """Every routable tool; with a caller policy, only those ``caller`` may call.

        Schemas come from the worker once it has started (before: see ``_manifest_schema``).
        """
        policy = self._policy
        role = policy.role_for(caller) if policy is not None else None
        infos = []
        for name, runtime in sorted(self._routes.items()):
            if runtime.state in (State.DISABLED, State.REFUSED) or runtime._terminal:
                continue
            if policy is not None and not policy.permits(role, name, runtime.name):
                continue
            # The worker's own report; else what this exact plugin version reported last time;
            # else the manifest's parameters list.
            spec = runtime.tools.get(name) or self._known_schemas.get(runtime.name, {}).get(name)
            entry = runtime.manifest.tool(name)
            description = (spec.description if spec else "") or (entry.description if entry else "")
            schema = spec.input_schema if spec else _manifest_schema(runtime, name)
            infos.append(
                ToolInfo(name, runtime.name, description, schema, runtime.tool_timeout(name))
            )
        return infos

    async def call(
        self,
        tool: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        caller: str | None = None,
    ) -> dict[str, Any]:
        """Call ``tool``; raises a ``CallError`` subclass naming the tool and plugin on failure.

        ``caller`` is the caller's role under the policy (None: its ``default_role``). A call
        the policy denies raises ``PermissionDeniedError`` and never reaches a worker. With an
        audit log, every call, allowed or not, is written to it before this returns.
        """
        if self._governed:
            return await self._call_governed(tool, params, timeout, on_progress, caller)
        runtime = self._routes.get(tool)
        if runtime is None:
            raise ToolNotFoundError(tool, list(self._routes))
        arguments = _check_arguments(runtime, tool, params, timeout)
        return await _measured_call(runtime, tool, arguments, timeout, on_progress)

    async def _call_governed(
        self,
        tool: str,
        params: Mapping[str, Any] | None,
        timeout: float | None,
        on_progress: ProgressCallback | None,
        caller: str | None,
    ) -> dict[str, Any]:
        """``call`` with the policy check before dispatch and an audit line after, always."""
        started_at, started = time.time(), time.perf_counter()
        policy, audit = self._policy, self._audit
        role = policy.role_for(caller) if policy is not None else caller
        runtime = self._routes.get(tool)
        outcome, error = "ok", None
        pid: int | None = None
        cpu_ns: int | None = None
        dispatched = False
        try:
            if runtime is None:
                raise ToolNotFoundError(tool, self._visible_tools(role))
            if policy is not None:
                policy.check(role, tool, runtime.name)
            arguments = _check_arguments(runtime, tool, params, timeout)
            if audit is not None:
                pid, cpu_ns = _sample_start(runtime)
            dispatched = True
            return await _measured_call(runtime, tool, arguments, timeout, on_progress)
        except CallError as exc:
            outcome, error = exc.code, summarize_error(exc)
            raise
        except BaseException as exc:
            cancelled = isinstance(exc, anyio.get_cancelled_exc_class())
            outcome, error = ("cancelled" if cancelled else "error"), type(exc).__name__
            raise
        finally:
            if audit is not None:
                if dispatched and pid is None and runtime is not None and runtime.worker:
                    pid = runtime.worker.pid  # started during the call: no CPU baseline
                audit.record_call(
                    started_at=started_at,
                    duration=time.perf_counter() - started,
                    caller=role,
                    tool=tool,
                    plugin=runtime.name if runtime is not None else None,
                    params=params if params is not None else {},
                    outcome=outcome,
                    error=error,
                    pid=pid,
                    cpu_ns=cpu_ns,
                )

    def _visible_tools(self, role: str | None) -> list[str]:
        """Tool names a "not found" error may list: only those the caller may call."""
        if self._policy is None:
            return list(self._routes)
        policy = self._policy
        return [t for t, r in self._routes.items() if policy.permits(role, t, r.name)]

    # ---- status -----------------------------------------------------------------------------

    @property
    def problems(self) -> list[str]:
        return [str(p) for p in self._problems]

    def status(self) -> dict[str, Any]:
        plugins: dict[str, Any] = {}
        for name, runtime in self._plugins.items():
            worker = runtime.worker if runtime.state == State.ACTIVE else None
            plugins[name] = {
                "state": str(runtime.state),
                "reason": runtime.reason,
                "version": runtime.manifest.version,
                "path": str(runtime.manifest.path),
                "profile": describe(runtime.profile) if runtime.profile else None,
                "restarts": runtime.restarts,
                "in_flight": runtime.in_flight,
                "queued": runtime.queued,
                "pid": worker.pid if worker else None,
                "containment": worker.tree.mechanism if worker else None,
                "layers": dict(worker.info.layers) if worker and worker.info else None,
                "gate": _describe_verdict(self._verdicts.get(name)),
                "resources": self._sample(worker) if worker and worker.pid else None,
                "tools": {t: m.snapshot() for t, m in runtime.metrics.items()},
            }
        return {
            "uptime_s": round(time.monotonic() - self._started_at, 3),
            "supervisor": {"pid": os.getpid(), "rss_bytes": psutil.Process().memory_info().rss},
            "plugins": plugins,
            "problems": self.problems,
            "gate": "on" if self._gate is not None else "DISABLED: plugins run without review",
        }

    def _sample(self, worker: Worker) -> dict[str, Any] | None:
        """RSS and CPU of a worker and its descendants; CPU % is since the previous sample."""
        pid = worker.pid
        assert pid is not None
        guardian = worker.info.guardian_pid if worker.info else None
        proc = self._samplers.get(pid)
        try:
            if proc is None:
                proc = self._samplers[pid] = psutil.Process(pid)
            with proc.oneshot():
                times = proc.cpu_times()
                sample = {
                    "rss_bytes": proc.memory_info().rss,
                    "cpu_percent": proc.cpu_percent(None),
                    "cpu_user_s": times.user,
                    "cpu_system_s": times.system,
                    "threads": proc.num_threads(),
                }
            children = [c for c in proc.children(recursive=True) if c.pid != guardian]
            sample["descendants"] = len(children)
            return sample
        except psutil.Error:
            self._samplers.pop(pid, None)
            return None


def _check_arguments(
    runtime: PluginRuntime, tool: str, params: Mapping[str, Any] | None, timeout: float | None
) -> dict[str, Any]:
    """The checks every call gets before its plugin sees it; returns a private copy of params."""
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise InvalidParamsError(
            tool=tool, plugin=runtime.name, field="params", reason="must be a JSON object"
        )
    if timeout is not None and timeout <= 0:
        raise InvalidParamsError(
            tool=tool,
            plugin=runtime.name,
            field="timeout",
            reason="must be a positive number of seconds",
        )
    return dict(params)


def _sample_start(runtime: PluginRuntime) -> tuple[int | None, int | None]:
    """The pid of the worker a call is about to use, and its CPU clock, if it is running."""
    worker = runtime.worker
    pid = worker.pid if worker is not None and not worker.exited.is_set() else None
    return pid, worker_cpu_ns(pid) if pid is not None else None


def _load_policy(policy: Path | str | Policy | None) -> Policy | None:
    if isinstance(policy, Policy):
        return policy
    source = policy or os.environ.get(POLICY_ENV)
    return load_policy(source) if source else None


def _open_audit_log(audit_log: Path | str | AuditLog | None) -> AuditLog | None:
    if isinstance(audit_log, AuditLog):
        return audit_log
    path = audit_log or os.environ.get(AUDIT_LOG_ENV)
    return AuditLog(path) if path else None


def profiles_summary(profiles: dict[str, Profile]) -> list[dict[str, Any]]:
    return [describe(p) for p in profiles.values()]


def _create_write_dirs(paths: Iterable[str]) -> str:
    """Create the declared (and granted) writable directories that do not exist yet.

    Landlock grants access to a directory by opening it, so a data dir a deployment names in a
    variable must exist before the worker confines itself. Returns a problem, or "".
    """
    for path in paths:
        try:
            Path(path).mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            return (
                f"cannot create {path} (permissions.filesystem.write): {exc.strerror}; "
                "create it, or point the plugin's variable at a writable place"
            )
    return ""


def _remove_tree(root: Path) -> None:
    """Delete a work root whatever a plugin left in it.

    ``shutil.rmtree`` recurses once per directory level, so a plugin that built a chain deeper
    than Python's recursion limit would make it raise; ``rm -rf`` has no such limit.
    """
    try:
        shutil.rmtree(root, ignore_errors=True)
    except RecursionError:
        subprocess.run(["rm", "-rf", "--one-file-system", str(root)], check=False)


def _make_gate(gate: bool | Gate | GateConfig | None) -> Gate | None:
    """Gated unless the caller (or ``HYDROGEN_GATE=off``) explicitly says otherwise."""
    if gate is None:
        gate = env_flag(GATE_ENV, default=True)
    if gate is False:
        return None
    if isinstance(gate, Gate):
        return gate
    return Gate(gate if isinstance(gate, GateConfig) else gate_from_environment())


def _describe_verdict(verdict: Verdict | None) -> dict[str, Any] | None:
    if verdict is None:
        return None
    return {
        "decision": str(verdict.decision),
        "summary": verdict.summary(),
        "cached": verdict.cached,
        "duration_ms": round(verdict.duration_ms, 1),
        # Notes are counted in the summary; the full list is `hydrogen review --format json`.
        "findings": [
            msgspec.to_builtins(f) for f in verdict.open_findings if f.severity != Severity.NOTE
        ],
        "waived": [f.id for f in verdict.findings if f.waived_by is not None],
    }


async def _measured_call(
    runtime: PluginRuntime,
    tool: str,
    arguments: dict[str, Any],
    timeout: float | None,
    on_progress: ProgressCallback | None,
) -> dict[str, Any]:
    """Dispatch one call and record its latency and outcome in the tool's metrics."""
    metrics = runtime.metrics[tool]
    started = time.perf_counter()
    try:
        result = await runtime.call(tool, arguments, timeout, on_progress)
    except CallError as exc:
        metrics.record(time.perf_counter() - started, exc.code)
        raise
    metrics.record(time.perf_counter() - started, None)
    return result


def _manifest_schema(runtime: PluginRuntime, tool: str) -> dict[str, Any]:
    for entry in runtime.manifest.raw.get("tools") or []:
        if isinstance(entry, dict) and entry.get("name") == tool and entry.get("parameters"):
            return schema_from_manifest(entry)
    return {"type": "object"}
