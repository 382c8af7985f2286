"""The dependency audit: exact pins, typosquats, and pip-audit against an OSV source.

Order of work for one plugin:

1. read the requirements of plugin.yaml and requirements.txt (``runtime.gate.requirements``):
   anything but an exact pin is a finding;
2. compare every requirement name with the popular packages (``runtime.gate.typosquat``);
3. run pip-audit on the pins, in a subprocess, with ``--no-deps --disable-pip`` (no resolver
   runs and no package code runs: pip-audit only reads the pins) and the OSV service, against
   the first source that answers: an ``osv_url`` the caller names; else the live
   api.osv.dev when reachable; else the local advisory database served on loopback
   (``runtime.gate.osv_server``).

Never fail open. pip-audit's default PyPI service reports "No known vulnerabilities found" when
PyPI's JSON API is out of reach, so it is never used. A pin that no source could audit (pip-audit
crashed, timed out, skipped it or left it out of its report, or no source was available) is a
``deps:unaudited:<name>`` error, never silence. Each vulnerability is a
``deps:vulnerable:<name>:<id>`` error naming the version, aliases and fixed versions.

Transitive dependencies are not resolved (that would run a resolver): a plugin pins its whole
dependency closure if it wants it audited.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import msgspec
from packaging.version import Version

from runtime.gate.advisories import Advisories
from runtime.gate.findings import Finding, PluginSource, Severity
from runtime.gate.osv import parse_version
from runtime.gate.osv_server import OsvServer
from runtime.gate.requirements import Pin, read_requirements
from runtime.gate.typosquat import typosquat_findings
from runtime.settings import OSV_LIVE, env_flag

__all__ = [
    "LIVE_OSV_URL",
    "OSV_LIVE_ENV",
    "audit_requirements",
    "live_osv_reachable",
    "osv_source_revision",
]

log = logging.getLogger(__name__)

LIVE_OSV_URL: Final = "https://api.osv.dev/v1/query"
# "0", "off", "false" or "no" never tries the live OSV API (air-gapped sites, reproducible CI).
OSV_LIVE_ENV: Final = OSV_LIVE
# Seconds the live probe may take, and how long its answer is trusted.
LIVE_PROBE_TIMEOUT: Final = 3.0
LIVE_PROBE_TTL: Final = 600.0
# A known advisory the live API must return, so a proxy answering 200 is not taken for OSV.
_CANARY_QUERY: Final = (
    b'{"package": {"name": "requests", "ecosystem": "PyPI"}, "version": "2.19.0"}'
)
_CANARY_IDS: Final = frozenset({"PYSEC-2018-28", "GHSA-x84v-xcm2-53pg", "CVE-2018-18074"})
# Seconds for the whole pip-audit run, and its per-request socket timeout.
PIP_AUDIT_TIMEOUT: Final = 120.0
PIP_AUDIT_SOCKET_TIMEOUT: Final = 15
DESCRIPTION_CHARS: Final = 240


def audit_requirements(
    source: PluginSource,
    *,
    advisories: Advisories | None,
    live_osv: bool | None = None,
    osv_url: str | None = None,
    timeout: float = PIP_AUDIT_TIMEOUT,
) -> list[Finding]:
    """Every dependency finding for ``source``; an empty list means all pins audited clean.

    ``advisories`` is the local database (None: there is none). ``live_osv`` None tries
    api.osv.dev when reachable and ``$HYDROGEN_OSV_LIVE`` allows it; False never does.
    ``osv_url`` names one OSV query endpoint (a mirror) to use instead of both.
    """
    declared = read_requirements(source)
    findings = [*declared.findings, *typosquat_findings(declared.names)]
    if declared.pins:
        findings += _audit_pins(list(declared.pins), advisories, live_osv, osv_url, timeout)
    return findings


def osv_source_revision(advisories: Advisories | None, *, live_osv: bool | None = None) -> str:
    """What the audit would be checked against, for the gate's cache key.

    The live API changes all the time, so its revision is the day: cached verdicts made
    against it are reused for one day at most.
    """
    if _use_live(live_osv):
        return f"osv.dev@{dt.datetime.now(dt.UTC).date().isoformat()}"
    return f"local:{advisories.revision}" if advisories is not None else "none"


# ---- the live API probe ---------------------------------------------------------------------

_probe_lock = threading.Lock()
_probe: tuple[float, bool] | None = None


def live_osv_reachable() -> bool:
    """True if api.osv.dev answers a known query correctly; cached for ``LIVE_PROBE_TTL``."""
    global _probe
    with _probe_lock:
        now = time.monotonic()
        if _probe is None or now - _probe[0] > LIVE_PROBE_TTL:
            _probe = (now, _probe_live())
        return _probe[1]


def _probe_live() -> bool:
    answer: list[bool] = []

    def probe() -> None:
        request = urllib.request.Request(
            LIVE_OSV_URL, data=_CANARY_QUERY, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=LIVE_PROBE_TIMEOUT) as response:
                body = json.loads(response.read(1024 * 1024))
            ids = {i for v in body.get("vulns", []) for i in [v.get("id"), *v.get("aliases", [])]}
            answer.append(bool(ids & _CANARY_IDS))
        except (OSError, ValueError, AttributeError, TypeError) as exc:
            log.info("live OSV API unreachable: %s", exc)
            answer.append(False)

    # Name resolution cannot be interrupted and ignores the socket timeout, so the probe runs in
    # a daemon thread that is abandoned (never waited for) once its deadline passes.
    thread = threading.Thread(target=probe, name="hydrogen-osv-probe", daemon=True)
    thread.start()
    thread.join(LIVE_PROBE_TIMEOUT + 0.5)
    return bool(answer and answer[0])


def uses_live_osv() -> bool:
    """Whether an audit now would go to api.osv.dev (allowed and reachable)."""
    return _use_live(None)


def _use_live(live_osv: bool | None, environ: Mapping[str, str] | None = None) -> bool:
    if live_osv is None:
        env = os.environ if environ is None else environ
        live_osv = env_flag(OSV_LIVE_ENV, default=True, environ=env)
    return live_osv and live_osv_reachable()


# ---- pip-audit ------------------------------------------------------------------------------


class _Vuln(msgspec.Struct, frozen=True):
    id: str
    fix_versions: list[str] = []
    aliases: list[str] = []
    description: str = ""


class _Dependency(msgspec.Struct, frozen=True):
    name: str
    version: str | None = None
    vulns: list[_Vuln] = []
    skip_reason: str | None = None


class _Report(msgspec.Struct, frozen=True):
    dependencies: list[_Dependency]


_report_decoder = msgspec.json.Decoder(_Report)


class _AuditFailed(Exception):
    pass


def _audit_pins(
    pins: list[Pin],
    advisories: Advisories | None,
    live_osv: bool | None,
    osv_url: str | None,
    timeout: float,
) -> list[Finding]:
    # (label, an OSV URL, or the database to serve on loopback), in the order they are tried.
    sources: list[tuple[str, str | Advisories]] = []
    if osv_url is not None:
        sources.append(("the configured OSV URL", osv_url))
    else:
        if _use_live(live_osv):
            sources.append(("api.osv.dev", LIVE_OSV_URL))
        if advisories is not None:
            sources.append((f"the local advisory database {advisories.path}", advisories))
    findings: list[Finding] = []
    with contextlib.ExitStack() as stack:
        served: dict[int, str] = {}
        for batch in _batches(pins):
            failures: list[str] = []
            report: dict[str, _Dependency] | None = None
            for label, target in sources:
                if isinstance(target, Advisories):
                    if id(target) not in served:
                        served[id(target)] = stack.enter_context(OsvServer(target)).url
                    url = served[id(target)]
                else:
                    url = target
                try:
                    report = _run_pip_audit(batch, url, timeout=timeout)
                    break
                except _AuditFailed as exc:
                    log.warning("pip-audit against %s failed: %s", label, exc)
                    failures.append(f"against {label}: {exc}")
            if report is not None:
                findings += _report_findings(batch, report)
            else:
                reason = "; ".join(failures) or (
                    "no advisory source: api.osv.dev is out of reach or disabled, and no local "
                    "advisory database is configured"
                )
                findings += [_unaudited(pin, reason) for pin in batch]
    return findings


def _batches(pins: list[Pin]) -> list[list[Pin]]:
    """Pins split so no batch names a package twice (pip-audit refuses duplicates)."""
    batches: list[list[Pin]] = []
    for pin in pins:
        batch = next((b for b in batches if all(p.name != pin.name for p in b)), None)
        if batch is None:
            batches.append(batch := [])
        batch.append(pin)
    return batches


def _run_pip_audit(
    pins: list[Pin], osv_url: str, *, timeout: float = PIP_AUDIT_TIMEOUT
) -> dict[str, _Dependency]:
    """pip-audit's report on ``pins`` against the OSV endpoint ``osv_url``, by package name."""
    socket_timeout = max(1, min(PIP_AUDIT_SOCKET_TIMEOUT, int(timeout / 2)))
    with tempfile.TemporaryDirectory(prefix="hydrogen-pip-audit-") as tmp:
        requirements = Path(tmp, "requirements.txt")
        # Only name==version: markers could make pip-audit skip a pin without saying so.
        requirements.write_text("".join(f"{p.name}=={p.version}\n" for p in pins))
        command = [
            sys.executable, "-I", "-m", "pip_audit",
            "--requirement", str(requirements), "--no-deps", "--disable-pip",
            "--vulnerability-service", "osv", "--osv-url", osv_url,
            "--format", "json", "--desc", "on", "--aliases", "on",
            "--progress-spinner", "off", "--cache-dir", str(Path(tmp, "cache")),
            "--timeout", str(socket_timeout),
        ]  # fmt: skip
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                stdin=subprocess.DEVNULL,
                timeout=timeout,
                cwd=tmp,
                env=_environment(),
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise _AuditFailed(f"pip-audit did not finish within {timeout:g}s") from exc
        except OSError as exc:
            raise _AuditFailed(f"pip-audit could not be started: {exc}") from exc
    # Exit status 1 with a report means "vulnerabilities found"; without one, a failure.
    try:
        report = _report_decoder.decode(done.stdout)
    except (msgspec.DecodeError, msgspec.ValidationError):
        report = None
    if done.returncode not in (0, 1) or report is None:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        last = lines[-1][:300] if lines else "no output"
        raise _AuditFailed(f"pip-audit exited with status {done.returncode}: {last}")
    return {dep.name: dep for dep in report.dependencies}


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    # The loopback server must never be reached through a proxy.
    for key in ("NO_PROXY", "no_proxy"):
        env[key] = ",".join(filter(None, [env.get(key, ""), "127.0.0.1", "localhost"]))
    return env


def _report_findings(pins: list[Pin], report: dict[str, _Dependency]) -> list[Finding]:
    findings: list[Finding] = []
    for pin in pins:
        dep = report.get(pin.name)
        if dep is None:
            findings.append(_unaudited(pin, "pip-audit left it out of its report"))
        elif dep.skip_reason is not None:
            findings.append(_unaudited(pin, f"pip-audit skipped it: {dep.skip_reason}"))
        elif dep.version is None or parse_version(dep.version) != parse_version(pin.version):
            findings.append(_unaudited(pin, f"pip-audit audited version {dep.version} instead"))
        else:
            findings += [_vulnerable(pin, vuln) for vuln in dep.vulns]
    return findings


def _unaudited(pin: Pin, reason: str) -> Finding:
    return Finding(
        id=f"deps:unaudited:{pin.name}",
        scanner="deps",
        severity=Severity.ERROR,
        message=f"{pin.name}=={pin.version} could not be audited for known vulnerabilities: "
        f"{reason}",
        hint=(
            "make an advisory source reachable (api.osv.dev, or a local OSV database through "
            "HYDROGEN_ADVISORY_DB) and review again"
        ),
        file=pin.file,
        line=pin.line,
    )


def _vulnerable(pin: Pin, vuln: _Vuln) -> Finding:
    version = Version(pin.version)
    fixes = sorted({v for v in vuln.fix_versions if parse_version(v) is not None}, key=Version)
    upgrade = next((v for v in fixes if Version(v) > version), None)
    aliases = f" ({', '.join(sorted(vuln.aliases))})" if vuln.aliases else ""
    description = " ".join(vuln.description.split())
    if len(description) > DESCRIPTION_CHARS:
        description = description[: DESCRIPTION_CHARS - 3].rstrip() + "..."
    fixed = f"; fixed in {', '.join(fixes)}" if fixes else "; no fixed version is known"
    return Finding(
        id=f"deps:vulnerable:{pin.name}:{vuln.id}",
        scanner="deps",
        severity=Severity.ERROR,
        message=f"{pin.name}=={pin.version} has known vulnerability {vuln.id}{aliases}{fixed}: "
        f"{description}",
        hint=(
            f"upgrade to {pin.name}=={upgrade}"
            if upgrade
            else f"no release fixes {vuln.id}: replace or drop {pin.name}"
        ),
        file=pin.file,
        line=pin.line,
    )
