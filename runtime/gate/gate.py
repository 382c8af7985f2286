"""The security gate: run every check on a plugin, consult the cache, apply waivers, decide.

One ``Gate`` serves a supervisor (every plugin before its first start) and ``hydrogen review``.
Checks are synchronous and CPU-bound (bandit, AST walks) or a subprocess (pip-audit), so
``review`` runs them in a worker thread; the advisory database is loaded once per process.

Never fail open: a check that raises is itself a finding that refuses the plugin, and the
``Verdict`` carries ``gate_error`` so ``hydrogen review`` can exit with status 2.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Final

import anyio
import msgspec

from runtime.errors import ConfigError
from runtime.gate.advisories import (
    Advisories,
    default_advisory_db,
    load_advisories,
    quick_revision,
)
from runtime.gate.cache import ScanCache, write_atomically
from runtime.gate.findings import Finding, PluginSource, Severity
from runtime.gate.verdict import FailOn, Verdict, decide
from runtime.gate.waivers import Waivers, load_waivers
from runtime.manifest.model import Manifest
from runtime.settings import OSV_LIVE, env_flag

__all__ = ["Gate", "GateConfig", "gate_from_environment"]

# runtime.gate.requirements.REQUIREMENTS_FILE, named here so that a cache hit does not import
# that module (and packaging with it, ~7 ms of every start-up).
_REQUIREMENTS_TXT: Final = "requirements.txt"

log = logging.getLogger("hydrogen.gate")

WAIVERS_ENV: Final = "HYDROGEN_WAIVERS"
# The repository's own waivers for the bundled plugins, used when none is configured.
DEFAULT_WAIVERS: Final = Path(__file__).resolve().parents[2] / "waivers.yaml"
# Part of the cache key: a change to which checks run must not reuse old results.
SCAN_CONFIG: Final = "bandit+deps+capabilities+heuristics"
# Seconds a fingerprint of the local advisory database is trusted before it is taken again.
REVISION_TTL: Final = 30.0
# Seconds the live-OSV probe and the database fingerprint are remembered across processes.
SOURCE_MEMO_TTL: Final = 600.0

Check = Callable[[PluginSource], list[Finding]]


class _Memo(msgspec.Struct, frozen=True):
    key: str
    at: float
    value: str


def _probe_live_osv() -> str:
    from runtime.gate.deps import live_osv_reachable  # heavy: urllib, pip-audit glue

    return "yes" if live_osv_reachable() else "no"


class GateConfig(msgspec.Struct, frozen=True, kw_only=True):
    fail_on: FailOn = FailOn.ERROR
    waivers: Path | None = None
    advisory_db: Path | None = None
    cache_dir: Path | None = None
    use_cache: bool = True


class Gate:
    def __init__(self, config: GateConfig | None = None) -> None:
        self.config = config or GateConfig()
        self._waivers = load_waivers(self.config.waivers) if self.config.waivers else Waivers()
        self._cache = ScanCache(self.config.cache_dir)
        self._advisories: Advisories | None = None
        self._loaded = False
        self._load_lock = threading.Lock()
        self._revision: tuple[float, str] | None = None

    def _advisory_db(self) -> Advisories | None:
        """Loaded on first need; a missing database makes every pin unaudited, never clean.

        Reviews run concurrently in threads, so the first load is done under a lock: no review
        may see "not loaded yet" as "no database".
        """
        with self._load_lock:
            if not self._loaded:
                try:
                    self._advisories = load_advisories(self.config.advisory_db)
                except ConfigError as exc:
                    log.warning("no local advisory database: %s", exc)
                self._loaded = True
        return self._advisories

    async def review(self, manifest: Manifest) -> Verdict:
        return await anyio.to_thread.run_sync(self.review_sync, manifest)

    def review_sync(self, manifest: Manifest) -> Verdict:
        started = time.perf_counter()
        source = PluginSource.from_manifest(manifest)
        needs_audit = bool(manifest.requirements) or (source.root / _REQUIREMENTS_TXT).is_file()
        # Without requirements the advisory source cannot change the result: keep it out of the
        # key, so loading the database for another plugin does not invalidate this one's entry.
        revision = self._advisory_revision() if needs_audit else "no-requirements"
        key = self._cache.key(source.root, config=SCAN_CONFIG, advisory_revision=revision)
        findings = self._cache.get(key) if self.config.use_cache else None
        cached = findings is not None
        gate_error = None
        if findings is None:
            findings, gate_error = self._scan(source, needs_audit, revision)
            if gate_error is None:
                self._cache.put(key, findings)
        verdict = decide(
            plugin=manifest.name,
            version=manifest.version,
            path=str(source.root),
            findings=findings,
            waivers=self._waivers.for_plugin(manifest.name),
            fail_on=self.config.fail_on,
            today=dt.date.today(),
            duration_ms=(time.perf_counter() - started) * 1000,
            cached=cached,
        )
        return msgspec.structs.replace(verdict, gate_error=gate_error)

    def _advisory_revision(self) -> str:
        """Which advisory source an audit would use now, cheaply (no database load).

        Both answers are remembered on disk for ``SOURCE_MEMO_TTL`` seconds: the live-OSV probe
        and the local database's fingerprint each cost tens of milliseconds (and the probe a
        heavy import), which would otherwise be paid by every fresh ``hydrogen`` process. A
        newly imported database is picked up at once (its path changes); one edited in place,
        within the TTL.
        """
        now = time.monotonic()
        with self._load_lock:
            if self._revision is None or now - self._revision[0] > REVISION_TTL:
                self._revision = (now, self._source_revision())
            return self._revision[1]

    def _source_revision(self) -> str:
        if env_flag(OSV_LIVE, default=True):
            live = self._memo("osv-live", "", _probe_live_osv)
            if live == "yes":
                return f"osv.dev@{dt.datetime.now(dt.UTC).date().isoformat()}"
        db = self.config.advisory_db or default_advisory_db()
        if db is None:
            return "local:none"
        real = str(db.resolve())
        return "local:" + self._memo("advisory-fingerprint", real, lambda: quick_revision(db))

    def _memo(self, name: str, key: str, compute: Callable[[], str]) -> str:
        path = self._cache.directory / f"{name}.json"
        try:
            entry = msgspec.json.decode(path.read_bytes(), type=_Memo)
            if entry.key == key and 0 <= time.time() - entry.at < SOURCE_MEMO_TTL:
                return entry.value
        except (OSError, msgspec.DecodeError, msgspec.ValidationError):
            pass
        value = compute()
        write_atomically(path, msgspec.json.encode(_Memo(key, time.time(), value)))
        return value

    def _audit(self, source: PluginSource, needs_audit: bool, revision: str) -> list[Finding]:
        """The dependency audit, cached on its own inputs (the declared requirements and the
        advisory source), so an edit to a plugin's code (a hot reload) does not repeat it."""
        from runtime.gate.deps import audit_requirements

        declared = msgspec.json.encode(list(source.manifest.requirements))
        requirements_txt = source.root / _REQUIREMENTS_TXT
        if requirements_txt.is_file():
            declared += b"\0" + requirements_txt.read_bytes()
        key = self._cache.derived_key("deps", declared, advisory_revision=revision)
        cached = self._cache.get(key) if self.config.use_cache else None
        if cached is not None:
            return cached
        advisories = self._advisory_db() if needs_audit else None
        findings = audit_requirements(source, advisories=advisories)
        self._cache.put(key, findings)
        return findings

    def _scan(
        self, source: PluginSource, needs_audit: bool, revision: str
    ) -> tuple[list[Finding], str | None]:
        # Imported on a cache miss only: bandit and the scanners cost ~100 ms to import, and an
        # unchanged plugin is answered from the cache without them.
        from runtime.gate.capabilities import scan_capabilities
        from runtime.gate.code import scan_code
        from runtime.gate.heuristics import scan_heuristics

        checks: list[tuple[str, Check]] = [
            ("bandit", scan_code),
            ("capability", scan_capabilities),
            ("heuristics", scan_heuristics),
            ("deps", lambda s: self._audit(s, needs_audit, revision)),
        ]
        findings: list[Finding] = []
        errors: list[str] = []
        for name, check in checks:
            try:
                findings.extend(check(source))
            except Exception as exc:
                log.error(
                    "gate check %s failed on %s:\n%s", name, source.root, traceback.format_exc()
                )
                errors.append(f"{name}: {type(exc).__name__}: {exc}")
                findings.append(
                    Finding(
                        id=f"gate:check-failed:{name}",
                        scanner="gate",
                        severity=Severity.ERROR,
                        message=f"the {name} check could not run: {type(exc).__name__}: {exc}",
                        hint="the plugin is refused until every check has run; see the log",
                    )
                )
        return findings, "; ".join(errors) or None


def gate_from_environment() -> GateConfig:
    """Defaults an operator sets without code: ``HYDROGEN_WAIVERS`` names the waiver file."""
    waivers = os.environ.get(WAIVERS_ENV)
    if waivers:
        return GateConfig(waivers=Path(waivers))
    return GateConfig(waivers=DEFAULT_WAIVERS if DEFAULT_WAIVERS.is_file() else None)
