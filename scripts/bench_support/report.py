"""The bench's findings: targets, comparisons with earlier reference points, table and JSON."""

from __future__ import annotations

from typing import Final, Literal

import msgspec

from bench_support.contenders import ECHO_PARAMS
from bench_support.load import Figures, Plan, Throughput
from bench_support.startup import Startup

__all__ = ["Comparison", "Report", "compare", "render_json", "render_table"]

# Same-run targets: Hydrogen against the floor and the peer measured minutes apart on this box.
TARGET_SEQ_VS_FLOOR: Final = 0.5
TARGET_IN_FLIGHT_VS_MCP: Final = 10.0
# Measured earlier on these machines; calls/s.
REFERENCE_MCP_SEQ: Final = 1_550.0
REFERENCE_MCP_IN_FLIGHT: Final = 2_140.0
REFERENCE_FLOOR_SEQ: Final = 18_000.0

LABELS: Final = {
    "floor": "floor (anyio+msgspec pipes)",
    "hydrogen": "Hydrogen Supervisor",
    "mcp": "MCP Python SDK",
}
MIB: Final = 1024 * 1024

Verdict = Literal["PASS", "MISS", "n/a"]
Mode = Literal["sequential", "concurrent"]


class Comparison(msgspec.Struct, frozen=True):
    name: str
    measured: float | None
    baseline: float | None
    ratio: float | None
    target: float | None
    verdict: Verdict


class Report(msgspec.Struct):
    plan: Plan
    versions: dict[str, str]
    throughput: dict[str, Throughput]
    startup: Startup | None = None
    targets: list[Comparison] = []
    references: list[Comparison] = []
    failures: list[str] = []


def compare(report: Report) -> None:
    """Fill in the targets and reference ratios from the measured figures."""
    n = report.plan.in_flight
    report.targets = [
        _ratio(
            "Supervisor sequential / floor sequential (same run)",
            _rate(report, "hydrogen", "sequential"),
            _rate(report, "floor", "sequential"),
            TARGET_SEQ_VS_FLOOR,
        ),
        _ratio(
            f"Supervisor @{n} / MCP SDK @{n} (same run)",
            _rate(report, "hydrogen", "concurrent"),
            _rate(report, "mcp", "concurrent"),
            TARGET_IN_FLIGHT_VS_MCP,
        ),
    ]
    report.references = [
        _ratio(
            "MCP SDK sequential / reference", _rate(report, "mcp", "sequential"), REFERENCE_MCP_SEQ
        ),
        _ratio(
            f"MCP SDK @{n} / reference", _rate(report, "mcp", "concurrent"), REFERENCE_MCP_IN_FLIGHT
        ),
        _ratio(
            "floor sequential / reference",
            _rate(report, "floor", "sequential"),
            REFERENCE_FLOOR_SEQ,
        ),
        _ratio(
            "Supervisor sequential / reference floor sequential",
            _rate(report, "hydrogen", "sequential"),
            REFERENCE_FLOOR_SEQ,
            TARGET_SEQ_VS_FLOOR,
        ),
        _ratio(
            f"Supervisor @{n} / reference MCP SDK @{n}",
            _rate(report, "hydrogen", "concurrent"),
            REFERENCE_MCP_IN_FLIGHT,
            TARGET_IN_FLIGHT_VS_MCP,
        ),
    ]


def _rate(report: Report, contender: str, mode: Mode) -> float | None:
    throughput = report.throughput.get(contender)
    if throughput is None:
        return None
    figures = throughput.sequential if mode == "sequential" else throughput.concurrent
    return figures.calls_per_s


def _ratio(
    name: str, measured: float | None, baseline: float | None, target: float | None = None
) -> Comparison:
    # A missing contender makes the ratio unknown, which is neither a pass nor a miss.
    if measured is None or not baseline:
        return Comparison(name, measured, baseline, None, target, "n/a")
    ratio = round(measured / baseline, 3)
    verdict: Verdict = "n/a" if target is None else ("PASS" if ratio >= target else "MISS")
    return Comparison(name, measured, baseline, ratio, target, verdict)


def render_json(report: Report) -> str:
    return msgspec.json.format(msgspec.json.encode(report).decode(), indent=2)


def render_table(report: Report) -> str:
    lines = [_title(report), ""]
    lines += _throughput_lines(report)
    lines += ["", *_startup_lines(report.startup)]
    lines += ["", _comparison_header("targets, calls/s")]
    lines += [_comparison_line(c) for c in report.targets]
    lines += ["", _comparison_header("reference points measured earlier here, calls/s")]
    lines += [_comparison_line(c) for c in report.references]
    if report.failures:
        lines += ["", "FAILED TO RUN", *(f"  {f}" for f in report.failures)]
    return "\n".join(lines)


def _title(report: Report) -> str:
    plan = report.plan
    versions = ", ".join(f"{k} {v}" for k, v in report.versions.items())
    return (
        f"Hydrogen bench: {plan.seconds:g} s per phase after {plan.warmup_seconds:g} s warm-up, "
        f"echo params {ECHO_PARAMS}; {versions}"
    )


def _throughput_lines(report: Report) -> list[str]:
    header = f"  {'throughput':<42}{'calls/s':>10}{'p50 µs':>10}{'p99 µs':>10}{'calls':>10}"
    lines = [header]
    for contender, label in LABELS.items():
        throughput = report.throughput.get(contender)
        if throughput is None:
            lines.append(f"  {label:<42}{'failed':>10}")
            continue
        lines.append(_figures_line(f"{label}, sequential", throughput.sequential))
        lines.append(
            _figures_line(f"{label}, {report.plan.in_flight} in flight", throughput.concurrent)
        )
    return lines


def _figures_line(label: str, f: Figures) -> str:
    return f"  {label:<42}{f.calls_per_s:>10,.0f}{f.p50_us:>10,.0f}{f.p99_us:>10,.0f}{f.calls:>10,}"


def _startup_lines(startup: Startup | None) -> list[str]:
    if startup is None:
        return ["  start-up: failed"]
    first_call = (
        f"{startup.first_call_s * 1000:.0f} ms (fastest {startup.first_call_min_s * 1000:.0f} ms)"
    )
    return [
        f"  start-up: system plugin, median of {startup.runs} fresh host process(es)",
        _pair("enter `async with` -> Supervisor ready", f"{startup.ready_s * 1000:.0f} ms"),
        _pair(f"enter `async with` -> first {startup.first_call_tool} answer", first_call),
        _pair("supervisor process RSS, idle", f"{startup.supervisor_rss_bytes / MIB:.1f} MiB"),
        _pair("system worker RSS, idle", f"{startup.worker_rss_bytes / MIB:.1f} MiB"),
    ]


def _pair(label: str, value: str) -> str:
    return f"    {label:<50}{value}"


def _comparison_header(title: str) -> str:
    return f"  {title:<52}{'measured':>10}{'against':>10}{'ratio':>9}  target"


def _comparison_line(c: Comparison) -> str:
    measured = "n/a" if c.measured is None else f"{c.measured:,.0f}"
    baseline = "n/a" if c.baseline is None else f"{c.baseline:,.0f}"
    ratio = "n/a" if c.ratio is None else f"{c.ratio:.2f}x"
    target = "" if c.target is None else f">= {c.target:g}x  {c.verdict}"
    return f"  {c.name:<52}{measured:>10}{baseline:>10}{ratio:>9}  {target}"
