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
from collections.abc import Callable, Iterable, Mapping
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
    UnknownPluginError,
)
from runtime.gate.findings import Severity
from runtime.gate.gate import Gate, GateConfig, gate_from_environment
from runtime.gate.verdict import Decision, Verdict
from runtime.host.audit import AuditLog, summarize_error, worker_cpu_ns
from runtime.host.lifecycle import State
from runtime.host.plugin import PluginRuntime, ProgressCallback
from runtime.host.policy import Policy, load_policy
from runtime.host.reaper import sweep_stale_groups
from runtime.host.reload import (
    HEALTH_TIMEOUT,
    MAX_HISTORY,
    READY_POLL,
    RETIRE_GRACE,
    Outcome,
    ReloadRecord,
)
from runtime.host.schema_cache import SchemaCache
from runtime.host.snapshot import snapshot_plugin
from runtime.host.worker import Worker
from runtime.manifest.discovery import discover
from runtime.manifest.loader import load_manifest
from runtime.manifest.model import DEFAULT_TOOL_TIMEOUT, Manifest
from runtime.manifest.schema import schema_from_manifest
from runtime.manifest.variables import resolve_configuration
from runtime.protocol.messages import ToolSpec
from runtime.sandbox.grants import check_admission, resolve_permissions
from runtime.sandbox.profile import Profile, describe, load_profiles
from runtime.settings import ALLOW_DEGRADED, GATE, WATCH, env_flag

__all__ = ["DEFAULT_PROFILES_DIR", "ReloadRecord", "Supervisor", "ToolInfo"]

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
        watch: bool | None = None,
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
        # Hot reload on file changes in the plugin directories (reload() works either way).
        self._watch = env_flag(WATCH, default=False) if watch is None else watch
        self._verdicts: dict[str, Verdict] = {}
        self._schemas = SchemaCache()
        # Each admitted version gets a number: its snapshot and work dir are named by it.
        self._versions = 0
        # Hot reload: one at a time; versions outside the routing table that may still run
        # (a candidate being started, an old version draining); what each reload did.
        self._reload_lock = anyio.Lock()
        self._offstage: set[PluginRuntime] = set()
        self._reloads: dict[str, list[ReloadRecord]] = {}
        self._reload_counts: dict[str, int] = {}
        # Set (and replaced) when the routing table changes without a state change of the
        # plugins in it (a swap, an addition, a removal), for change_events().
        self._routing_changed = anyio.Event()
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
            self._plugins[manifest.name] = self._admit(manifest, profiles, self._register)
        await self._run_gate()
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        for runtime in self._plugins.values():
            self._tg.start_soon(runtime.supervise, name=f"plugin:{runtime.name}")
        if self._watch:
            # Imported only when watching: watchfiles costs ~6 ms of every start-up otherwise.
            from runtime.host.watcher import watch_plugin_dirs

            self._tg.start_soon(
                watch_plugin_dirs, self._plugin_dirs, self.reload_all, name="plugin watcher"
            )
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
        return [self._routing_changed, *(runtime._changed for runtime in self._plugins.values())]

    # ---- hot reload -------------------------------------------------------------------------

    async def reload(self, name: str) -> ReloadRecord:
        """Replace plugin ``name`` with what its folder holds now, failing no call.

        The new version is staged, admitted, gated, started beside the running one and
        health-checked; then routing swaps to it in one step and the old version drains and
        stops. If any step fails, the old version keeps serving and the record says why. A
        plugin whose folder is gone is removed; a name only found on disk now is added.
        """
        self._require_running()
        async with self._reload_lock:
            if name in self._plugins:
                return await self._reload_one(name)
            found = discover(self._plugin_dirs)
            for manifest in found.manifests:
                if manifest.name == name:
                    return await self._add(manifest, time.perf_counter())
            raise UnknownPluginError(name, [m.name for m in found.manifests])

    async def reload_all(self) -> list[ReloadRecord]:
        """Bring every plugin in line with the plugin directories: reload what changed on disk,
        add what appeared, remove what disappeared. Unchanged plugins are left alone."""
        self._require_running()
        async with self._reload_lock:
            found = discover(self._plugin_dirs)
            on_disk = {m.name: m for m in found.manifests}
            records = []
            for name in sorted(self._plugins):
                started = time.perf_counter()
                runtime = self._plugins[name]
                if not runtime.manifest.path.is_file():
                    records.append(await self._remove(name, started))
                elif name not in on_disk or self._changed_on_disk(runtime):
                    # Not discovered but still there: its manifest is broken now, and the
                    # reload reports why while the running version keeps serving.
                    records.append(await self._reload_one(name))
            for name, manifest in sorted(on_disk.items()):
                if name not in self._plugins:
                    records.append(await self._add(manifest, time.perf_counter()))
            return records

    def _require_running(self) -> None:
        if self._tg is None:
            raise HydrogenError(
                "the supervisor is not running: reload inside `async with Supervisor(...)`"
            )

    def reload_history(self, name: str) -> list[ReloadRecord]:
        return list(self._reloads.get(name, ()))

    def _changed_on_disk(self, runtime: PluginRuntime) -> bool:
        try:
            return self._schemas.key(runtime.manifest.root) != runtime.digest
        except OSError:
            return True  # unreadable now: let the reload say why

    async def _reload_one(self, name: str) -> ReloadRecord:
        started = time.perf_counter()
        old = self._plugins[name]
        if not old.manifest.path.is_file():
            return await self._remove(name, started)
        source, problems = load_manifest(old.manifest.path)
        if source is None or problems:
            reason = "; ".join(str(p) for p in problems) or "plugin.yaml could not be read"
            return self._rolled_back(old, None, started, reason)
        if source.name != name:
            return self._rolled_back(
                old,
                source.version,
                started,
                f"plugin.yaml now names {source.name!r}: a rename is a removal and an "
                "addition, which reload_all() (or the watcher) performs",
            )
        profiles, profile_problems = load_profiles(self._profiles_dir, self._environ)
        broken = [p for p in profile_problems if p.path.stem == source.sandbox]
        if broken:
            return self._rolled_back(old, source.version, started, str(broken[0]))
        staged: list[str] = []
        candidate = self._admit(
            source, profiles, self._staging_registrar(old, staged), probation=True
        )
        self._offstage.add(candidate)
        try:
            verdict = await self._start_candidate(candidate)
        except _Rollback as exc:
            await self._discard(candidate)
            return self._rolled_back(old, source.version, started, exc.reason)
        self._swap(old, candidate, staged, verdict)
        self._offstage.discard(candidate)
        assert self._tg is not None
        self._tg.start_soon(self._retire, old, name=f"retire:{name}")
        return self._remember(
            ReloadRecord(
                name,
                Outcome.RELOADED,
                old.manifest.version,
                candidate.manifest.version,
                _ms_since(started),
                time.time(),
            )
        )

    def _staging_registrar(
        self, old: PluginRuntime, staged: list[str]
    ) -> Callable[[PluginRuntime, list[str]], None]:
        """Claims tool names for a candidate without routing them before its swap."""

        def register(runtime: PluginRuntime, tools: list[str]) -> None:
            for tool in tools:
                owner = self._routes.get(tool)
                if owner is not None and owner is not old:
                    raise DuplicateToolError(tool, owner.name, runtime.name)
            staged.extend(t for t in tools if t not in staged)

        return register

    async def _start_candidate(self, candidate: PluginRuntime) -> Verdict | None:
        """Gate, start and health-check a reload candidate; ``_Rollback`` says what failed."""
        if candidate._terminal:
            raise _Rollback(candidate.reason)
        verdict = None
        if self._gate is not None:
            verdict = await self._review(self._gate, candidate, record=False)
            if candidate.state == State.REFUSED:
                raise _Rollback(candidate.reason)
        assert self._tg is not None
        assert candidate.profile is not None
        self._tg.start_soon(candidate.supervise, name=f"plugin:{candidate.name}:candidate")
        # The worker's own start timeout bounds this; the margin covers spawning it.
        with anyio.move_on_after(candidate.profile.start_timeout + RETIRE_GRACE):
            await candidate.wait_settled()
        if candidate.state == State.DISABLED or (
            candidate.state == State.DISCOVERED and not candidate.manifest.auto_start
        ):
            return verdict  # nothing to health-check: it serves nothing, or starts on demand
        if candidate.state != State.ACTIVE:
            raise _Rollback(
                f"the new version did not start ({candidate.state}"
                + (f": {candidate.reason})" if candidate.reason else ")")
            )
        # Swap only to a version that can serve at once: one warming up in the background
        # (a model loading) says ready: false, and is polled until ready within its start
        # timeout, while the old version keeps serving.
        ready_by = anyio.current_time() + candidate.profile.start_timeout
        while True:
            unhealthy, ready = await candidate.check_health(HEALTH_TIMEOUT)
            if unhealthy:
                raise _Rollback(f"the new version failed its health check: {unhealthy}")
            if ready:
                return verdict
            if anyio.current_time() >= ready_by:
                raise _Rollback(
                    f"the new version did not become ready within its start timeout "
                    f"({candidate.profile.start_timeout:g}s; its health hook says ready: false)"
                )
            await anyio.sleep(READY_POLL)

    def _swap(
        self, old: PluginRuntime, new: PluginRuntime, tools: list[str], verdict: Verdict | None
    ) -> None:
        """Route ``new`` instead of ``old``, in one step (no await: no call sees half of it)."""
        for tool, owner in list(self._routes.items()):
            if owner is old:
                del self._routes[tool]
        for tool in tools:
            self._routes[tool] = new
        # Counters continue across versions (monitoring expects monotonic counters); a tool's
        # metrics object is shared, so calls still finishing on ``old`` are counted too.
        for tool, metrics in old.metrics.items():
            if tool in new.metrics:
                new.metrics[tool] = metrics
        new.restarts += old.restarts
        new.probation = False
        self._plugins[new.name] = new
        if verdict is not None:
            self._verdicts[new.name] = verdict
        self._announce_routing()

    async def _retire(self, old: PluginRuntime) -> None:
        """Let ``old`` finish its calls (bounded by its longest tool timeout), then stop it."""
        self._offstage.add(old)
        try:
            longest = max((t.timeout for t in old.manifest.tools), default=DEFAULT_TOOL_TIMEOUT)
            with anyio.move_on_after(longest + RETIRE_GRACE):
                await old.wait_idle()
            await self._discard(old)
        finally:
            self._offstage.discard(old)

    async def _discard(self, runtime: PluginRuntime) -> None:
        """Stop a version that is not routed, and delete its snapshot and work dir."""
        with anyio.CancelScope(shield=True):
            await runtime.stop()
        self._offstage.discard(runtime)
        _remove_tree(runtime.workdir)
        if runtime.code.root != runtime.manifest.root:
            _remove_tree(runtime.code.root)

    async def _remove(self, name: str, started: float) -> ReloadRecord:
        old = self._plugins.pop(name)
        for tool, owner in list(self._routes.items()):
            if owner is old:
                del self._routes[tool]
        self._verdicts.pop(name, None)
        self._announce_routing()
        assert self._tg is not None
        self._tg.start_soon(self._retire, old, name=f"retire:{name}")
        log.info("plugin %r removed: its folder has no plugin.yaml any more", name)
        return self._remember(
            ReloadRecord(
                name, Outcome.REMOVED, old.manifest.version, None, _ms_since(started), time.time()
            )
        )

    async def _add(self, manifest: Manifest, started: float) -> ReloadRecord:
        profiles, profile_problems = load_profiles(self._profiles_dir, self._environ)
        self._problems.extend(p for p in profile_problems if p.path.stem == manifest.sandbox)
        runtime = self._admit(manifest, profiles, self._register)
        self._plugins[manifest.name] = runtime
        if self._gate is not None and runtime.state == State.DISCOVERED:
            await self._review(self._gate, runtime)
        assert self._tg is not None
        self._tg.start_soon(runtime.supervise, name=f"plugin:{runtime.name}")
        self._announce_routing()
        if runtime.profile is not None:
            with anyio.move_on_after(runtime.profile.start_timeout + RETIRE_GRACE):
                await runtime.wait_settled()
        log.info("plugin %r added: %s", manifest.name, runtime.state)
        return self._remember(
            ReloadRecord(
                manifest.name,
                Outcome.ADDED,
                None,
                manifest.version,
                _ms_since(started),
                time.time(),
                reason=f"{runtime.state}" + (f": {runtime.reason}" if runtime.reason else ""),
            )
        )

    def _rolled_back(
        self, old: PluginRuntime, version: str | None, started: float, reason: str
    ) -> ReloadRecord:
        log.warning(
            "reload of plugin %r rolled back; version %s keeps serving: %s",
            old.name,
            old.manifest.version,
            reason,
        )
        return self._remember(
            ReloadRecord(
                old.name,
                Outcome.ROLLED_BACK,
                old.manifest.version,
                version,
                _ms_since(started),
                time.time(),
                reason,
            )
        )

    def _remember(self, record: ReloadRecord) -> ReloadRecord:
        history = self._reloads.setdefault(record.plugin, [])
        history.append(record)
        del history[:-MAX_HISTORY]
        if record.outcome == Outcome.RELOADED:
            self._reload_counts[record.plugin] = self._reload_counts.get(record.plugin, 0) + 1
            log.info(
                "plugin %r reloaded (%s -> %s) in %.0f ms",
                record.plugin,
                record.version_before,
                record.version_after,
                record.duration_ms,
            )
        return record

    def _announce_routing(self) -> None:
        self._routing_changed.set()
        self._routing_changed = anyio.Event()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._tg is None:
            return
        tg, self._tg = self._tg, None
        try:
            with anyio.CancelScope(shield=True):
                async with anyio.create_task_group() as stoppers:
                    for runtime in [*self._plugins.values(), *self._offstage]:
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

    def _admit(
        self,
        manifest: Manifest,
        profiles: Mapping[str, Profile],
        register: Callable[[PluginRuntime, list[str]], None],
        *,
        probation: bool = False,
    ) -> PluginRuntime:
        """Stage one plugin version and run admission on it (everything but the gate).

        The returned runtime has not started; when admission said no it is already refused or
        failed, with the reason. ``register`` claims its tool names (the routing table at
        start, a staging table for a reload, so a candidate is not routed before its swap).
        """
        # A reload candidate's problems belong to its reload record, not to status()["problems"].
        report = self._problems.append if not probation else _ignore
        self._versions += 1
        version = self._versions
        assert self._workroot is not None
        workdir = self._workroot / "work" / f"{manifest.name}.{version}"
        workdir.mkdir(mode=0o700, parents=True)
        profile = profiles.get(manifest.sandbox)
        problem = ""
        code_root: Path | None = None
        try:
            manifest, code_root = self._stage(manifest, version)
        except ManifestError as exc:
            report(exc)
            problem = str(exc)
        runtime = PluginRuntime(
            manifest,
            profile,
            environ=self._environ,
            workdir=workdir,
            register_tools=register,
            allow_degraded=self._allow_degraded,
            on_active=self._remember_schemas,
            code_root=code_root,
            probation=probation,
        )
        if problem:
            runtime.fail(problem)
            return runtime
        assert code_root is not None
        runtime.digest = self._schemas.key(code_root)
        self._known_schemas[manifest.name] = self._schemas.get(runtime.digest)
        if profile is None:
            runtime.fail(
                f"sandbox profile {manifest.sandbox!r} (plugin.yaml: sandbox) does not exist "
                f"in {self._profiles_dir}; available: {', '.join(sorted(profiles)) or 'none'}"
            )
            return runtime
        try:
            register(runtime, [t.name for t in manifest.tools])
        except DuplicateToolError as exc:
            report(exc)
            runtime.fail(str(exc))
            return runtime
        # Registered even when refused, so a call names the refusal instead of "not found".
        try:
            runtime.permissions = resolve_permissions(manifest, self._environ)
        except ManifestError as exc:
            report(exc)
            runtime.refuse(str(exc))
            return runtime
        beyond = check_admission(manifest.name, runtime.permissions, profile.grants, profile.path)
        if beyond:
            runtime.refuse("; ".join(beyond))
            return runtime
        missing_dir = _create_write_dirs(runtime.permissions.fs_write)
        if missing_dir:
            runtime.refuse(f"plugin {manifest.name!r}: {missing_dir}")
        return runtime

    def _stage(self, manifest: Manifest, version: int) -> tuple[Manifest, Path]:
        """Snapshot the plugin's folder and read its manifest from the snapshot.

        The copy is what the gate reviews and the worker imports, so the manifest must come
        from it too (the folder may have changed since discovery read it).
        """
        assert self._workroot is not None
        code_root = self._workroot / "code" / f"{manifest.name}.{version}"
        code_root.parent.mkdir(mode=0o700, exist_ok=True)
        snapshot_plugin(manifest.root, code_root)
        staged, problems = load_manifest(code_root / manifest.path.name)
        if staged is None or problems:
            first = problems[0] if problems else None
            raise ManifestError(
                manifest.path,
                first.field if first else "",
                first.reason if first else "changed while it was being read",
                first.hint if first else "save it again",
            )
        if staged.name != manifest.name:
            raise ManifestError(
                manifest.path,
                "name",
                f"changed from {manifest.name!r} to {staged.name!r} while it was being read",
                "a rename is a removal and an addition; reload all plugins",
            )
        return msgspec.structs.replace(staged, path=manifest.path), code_root

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

        async with anyio.create_task_group() as tg:
            for runtime in candidates:
                tg.start_soon(self._review, gate, runtime)

    async def _review(self, gate: Gate, runtime: PluginRuntime, *, record: bool = True) -> Verdict:
        """Gate one staged version (its snapshot, the files its worker will import)."""
        verdict = await gate.review(runtime.code)
        # Reported against the operator's folder, which `hydrogen review` can be pointed at.
        verdict = msgspec.structs.replace(verdict, path=str(runtime.manifest.root))
        if record:
            self._verdicts[runtime.name] = verdict
        if verdict.decision == Decision.REFUSE:
            runtime.refuse(verdict.refusal_reason())
            log.warning("plugin %r %s", runtime.name, verdict.refusal_reason())
        elif verdict.decision == Decision.ADMIT_WITH_WARNINGS:
            log.warning("plugin %r admitted with warnings: %s", runtime.name, verdict.summary())
        return verdict

    def _remember_schemas(self, runtime: PluginRuntime) -> None:
        if runtime.digest and runtime.tools != self._known_schemas.get(runtime.name):
            self._schemas.put(runtime.digest, runtime.tools)

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

    # ---- for front ends (the HTTP result cache answers some calls without call()) ---------

    @property
    def policy(self) -> Policy | None:
        return self._policy

    @property
    def audit_log(self) -> AuditLog | None:
        return self._audit

    def plugin_of(self, tool: str) -> PluginRuntime | None:
        """The plugin version ``tool`` is routed to now (its ``digest`` names the code)."""
        return self._routes.get(tool)

    def plugin_configuration(self, plugin: str) -> dict[str, Any] | None:
        """A plugin's ``configuration`` with ``${VAR}`` resolved, as its worker gets it; None
        for an unknown plugin. Raises ``ManifestError`` naming an unresolvable reference."""
        runtime = self._plugins.get(plugin)
        if runtime is None:
            return None
        resolved: dict[str, Any] = resolve_configuration(runtime.manifest, self._environ)
        return dict(resolved.get("configuration") or {})

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
            history = self._reloads.get(name)
            last_reload = history[-1] if history else None
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
                "reloads": self._reload_counts.get(name, 0),
                "last_reload": last_reload.describe() if last_reload else None,
                # Old versions still finishing their calls after a reload.
                "draining": sum(
                    1 for r in self._offstage if r.name == name and r.probation is False
                ),
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


class _Rollback(Exception):
    """A reload candidate failed a step; the running version keeps serving."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _ignore(problem: HydrogenError) -> None:
    """Where a problem is reported elsewhere (a reload record) instead of status()."""


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


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
