"""The gate's verdict: admit, admit with warnings, or refuse, from findings and waivers.

Waivers are applied here, after any cache lookup, because their expiry depends on today's date:
a cached scan never carries a stale acceptance.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import msgspec

from runtime.gate.findings import Finding, Severity
from runtime.gate.waivers import Waiver

__all__ = ["Decision", "FailOn", "Verdict", "decide"]


class Decision(StrEnum):
    ADMIT = "admit"
    ADMIT_WITH_WARNINGS = "admit_with_warnings"
    REFUSE = "refuse"


class FailOn(StrEnum):
    """The least severe unwaived finding that refuses admission."""

    ERROR = "error"
    WARNING = "warning"


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    plugin: str
    version: str
    path: str
    decision: Decision
    findings: tuple[Finding, ...]
    duration_ms: float
    cached: bool
    # Set when a check could not run: the plugin is refused and `hydrogen review` exits 2.
    gate_error: str | None = None

    @property
    def open_findings(self) -> tuple[Finding, ...]:
        """Findings no waiver accepted."""
        return tuple(f for f in self.findings if f.waived_by is None)

    def summary(self) -> str:
        counts = dict.fromkeys(Severity, 0)
        for finding in self.open_findings:
            counts[finding.severity] += 1
        waived = len(self.findings) - len(self.open_findings)
        return (
            f"{self.decision}: {counts[Severity.ERROR]} error(s), "
            f"{counts[Severity.WARNING]} warning(s), {counts[Severity.NOTE]} note(s)"
            + (f", {waived} waived" if waived else "")
        )

    def refusal_reason(self) -> str:
        """One line for ``status()``: the findings that refused the plugin."""
        blocking = [f for f in self.open_findings if f.severity == Severity.ERROR] or list(
            self.open_findings
        )
        shown = "; ".join(f"{f.id} at {_where(f)}" if f.file else f.id for f in blocking[:5])
        more = f" (+{len(blocking) - 5} more)" if len(blocking) > 5 else ""
        return f"refused by the security gate: {shown}{more}; run `hydrogen review {self.path}`"


def decide(
    *,
    plugin: str,
    version: str,
    path: str,
    findings: list[Finding],
    waivers: tuple[Waiver, ...],
    fail_on: FailOn,
    today: dt.date,
    duration_ms: float,
    cached: bool,
) -> Verdict:
    final: list[Finding] = []
    for finding in findings:
        matching = [w for w in waivers if w.matches(plugin, finding.id)]
        live = [w for w in matching if not w.expired(today)]
        if live:
            final.append(msgspec.structs.replace(finding, waived_by=live[0].describe()))
            continue
        final.append(finding)
        for waiver in matching:
            final.append(
                Finding(
                    id=f"gate:waiver-expired:{finding.id}",
                    scanner="gate",
                    severity=Severity.WARNING,
                    message=(
                        f"the waiver for {finding.id} by {waiver.approver} expired on "
                        f"{waiver.expires.isoformat()} and no longer applies"
                    ),
                    hint="fix the finding, or renew the waiver after a new review",
                    file=finding.file,
                    line=finding.line,
                )
            )
    open_severities = {f.severity for f in final if f.waived_by is None}
    if Severity.ERROR in open_severities or (
        fail_on == FailOn.WARNING and Severity.WARNING in open_severities
    ):
        decision = Decision.REFUSE
    elif Severity.WARNING in open_severities:
        decision = Decision.ADMIT_WITH_WARNINGS
    else:
        decision = Decision.ADMIT
    return Verdict(
        plugin=plugin,
        version=version,
        path=path,
        decision=decision,
        findings=tuple(final),
        duration_ms=duration_ms,
        cached=cached,
    )


def _where(finding: Finding) -> str:
    return f"{finding.file}:{finding.line}" if finding.line is not None else str(finding.file)
