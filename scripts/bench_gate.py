#!/usr/bin/env python3
"""Benchmark the security gate: how long a review takes cold, warm, and in a fresh process.

    .venv/bin/python scripts/bench_gate.py [--runs N] [--warm-runs N] [--lines N] [--live-osv]
                                           [--json]

Plugins: every bundled plugin (``plugins/*``) and a generated plugin of about ``--lines`` lines
of ordinary code (classes, functions, stdlib imports, nothing a scanner objects to), reviewed
once with two clean pins and once with none, so the dependency audit's share shows.

Phases, in order:

1. the advisory database is loaded into this process, timed on its own;
2. cold: a review with a fresh, empty scan cache (every check runs; the database is loaded);
   with the time of each check measured separately alongside;
3. warm: the same review again with that cache (a hit: hashing the plugin folder, waivers);
4. fresh process: ``hydrogen review --no-cache`` in a new interpreter, advisory index from its
   on-disk cache (the usual case) and, once, with an empty index cache (parses every record).

Targets: warm < 50 ms per plugin; cold < 1 s for the 1,000-line plugin with the advisory source
loaded. The live OSV API is off unless ``--live-osv``: a network round trip is not the gate.
It is a report, not a test: exit status 0 whether targets PASS or MISS, 1 only if a phase
failed to run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
BUNDLED_PLUGINS: Final = REPO_ROOT / "plugins"
HYDROGEN: Final = Path(sys.executable).parent / "hydrogen"

DEFAULT_RUNS: Final = 3
DEFAULT_WARM_RUNS: Final = 20
DEFAULT_LINES: Final = 1000
WARM_TARGET_MS: Final = 50.0
COLD_TARGET_MS: Final = 1000.0
# The plugin the cold target is about: at least this many lines.
COLD_TARGET_LINES: Final = 1000
# Seconds one `hydrogen review` subprocess may take before the bench gives up on it.
SUBPROCESS_TIMEOUT: Final = 120.0
GENERATED_PINS: Final = ("requests==2.32.3", "click==8.1.7")
# Lines per generated feed module, and about what the generated tool module adds.
MODULE_LINES: Final = 250
TOOL_MODULE_LINES: Final = 40

if "--live-osv" not in sys.argv:
    # Before any runtime import, so every check and every subprocess sees it.
    os.environ["HYDROGEN_OSV_LIVE"] = "0"

from runtime.gate.advisories import load_advisories  # noqa: E402
from runtime.gate.capabilities import scan_capabilities  # noqa: E402
from runtime.gate.code import scan_code  # noqa: E402
from runtime.gate.deps import audit_requirements  # noqa: E402
from runtime.gate.findings import Finding, PluginSource  # noqa: E402
from runtime.gate.gate import DEFAULT_WAIVERS, Gate, GateConfig  # noqa: E402
from runtime.gate.heuristics import scan_heuristics  # noqa: E402
from runtime.manifest.discovery import discover  # noqa: E402
from runtime.manifest.model import Manifest  # noqa: E402


class BenchError(Exception):
    """A phase could not run; the message says which and why."""


@dataclass
class PluginResult:
    name: str
    lines: int
    files: int
    pins: int
    decision: str = ""
    findings: int = 0
    cold_ms: list[float] = field(default_factory=list)
    warm_ms: list[float] = field(default_factory=list)
    checks_ms: dict[str, float] = field(default_factory=dict)
    fresh_process_ms: list[float] = field(default_factory=list)

    @property
    def cold_median(self) -> float:
        return statistics.median(self.cold_ms)

    @property
    def warm_median(self) -> float:
        return statistics.median(self.warm_ms)

    def warm_verdict(self) -> str:
        return "PASS" if self.warm_median < WARM_TARGET_MS else "MISS"

    def cold_verdict(self) -> str:
        if self.lines < COLD_TARGET_LINES:
            return "-"
        return "PASS" if self.cold_median < COLD_TARGET_MS else "MISS"


@dataclass
class Report:
    python: str
    live_osv: bool
    advisory_db: str
    advisory_records: int
    advisory_load_ms: float
    plugins: list[PluginResult]
    # `hydrogen --help`: interpreter start and the CLI's imports, the floor of any fresh run.
    cli_floor_ms: list[float]
    # A fresh-process review that had to parse every advisory record (empty index cache).
    cold_index_plugin: str = ""
    cold_index_ms: float = 0.0


# ---- a generated plugin of ordinary code ----------------------------------------------------

MODULE_HEAD: Final = '''"""{title}: part of a generated plugin for gate timings."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import itertools
import json
import logging
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

log = logging.getLogger(__name__)

WORD = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
'''

MODULE_BLOCK: Final = '''

@dataclasses.dataclass(frozen=True)
class Record{n}:
    """One parsed entry of feed {n}."""

    key: str
    value: float
    tags: tuple[str, ...] = ()
    seen: dt.date | None = None

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Record{n}:
        tags = tuple(sorted({{str(t).lower() for t in raw.get("tags", [])}}))
        seen = dt.date.fromisoformat(raw["seen"]) if raw.get("seen") else None
        return cls(str(raw["key"]), float(raw.get("value", 0.0)), tags, seen)

    def label(self) -> str:
        return f"{{self.key}} ({{', '.join(self.tags) or 'untagged'}})"


class Index{n}:
    """Records of feed {n} by key and by tag, with summary statistics."""

    def __init__(self, records: Iterable[Record{n}] = ()) -> None:
        self._by_key: dict[str, Record{n}] = {{}}
        self._by_tag: defaultdict[str, list[str]] = defaultdict(list)
        for record in records:
            self.add(record)

    def add(self, record: Record{n}) -> None:
        self._by_key[record.key] = record
        for tag in record.tags:
            self._by_tag[tag].append(record.key)

    def __iter__(self) -> Iterator[Record{n}]:
        return iter(self._by_key.values())

    def tagged(self, tag: str) -> list[Record{n}]:
        return [self._by_key[k] for k in self._by_tag.get(tag, [])]

    def summary(self) -> dict[str, float]:
        values = [r.value for r in self]
        if not values:
            return {{"count": 0, "mean": 0.0, "max": 0.0}}
        return {{"count": len(values), "mean": statistics.fmean(values), "max": max(values)}}


def parse_feed_{n}(text: str) -> Index{n}:
    """Parse one JSON document per line; lines that are not objects are skipped and logged."""
    index = Index{n}()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except ValueError:
            log.info("feed {n}: line %d is not JSON", number)
            continue
        if isinstance(raw, dict) and "key" in raw:
            index.add(Record{n}.from_json(raw))
    return index


@functools.lru_cache(maxsize=256)
def keywords_{n}(text: str, limit: int = 5) -> tuple[str, ...]:
    counts = Counter(word.lower() for word in WORD.findall(text))
    return tuple(word for word, _ in counts.most_common(limit))


def pairs_{n}(index: Index{n}) -> list[tuple[str, str]]:
    keys = sorted(r.key for r in index)
    return [(a, b) for a, b in itertools.combinations(keys, 2) if a[:1] == b[:1]]
'''

TOOL_MODULE: Final = '''"""The tools of the generated plugin."""

from __future__ import annotations

from typing import Any

{imports}


class Summarise:
    name = "summarise"
    description = "Summary statistics of every feed"

    def get_schema(self) -> dict[str, Any]:
        return {{"type": "object", "properties": {{"text": {{"type": "string"}}}}}}

    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        text = str(params.get("text", ""))
        return {{
{calls}
        }}


class GeneratedPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.config = manifest.get("configuration", {{}})

    def create_tool(self, name: str) -> Summarise:
        if name != "summarise":
            raise ValueError(f"unknown tool {{name!r}}")
        return Summarise()
'''


def write_generated_plugin(root: Path, lines: int, pins: Sequence[str]) -> Path:
    """A plugin of about ``lines`` lines: feed modules plus a tool module, no capability used."""
    (root / "feeds").mkdir(parents=True)
    (root / "feeds" / "__init__.py").write_text('"""Feed parsers."""\n')
    module_of: dict[int, str] = {}  # feed number -> the module defining it
    written = TOOL_MODULE_LINES
    while written < lines:
        module = f"feed_{len(set(module_of.values()))}"
        text = MODULE_HEAD.format(title=f"Feed module {module}")
        while text.count("\n") < MODULE_LINES and written + text.count("\n") < lines:
            feed = len(module_of)
            text += MODULE_BLOCK.format(n=feed)
            module_of[feed] = module
        (root / "feeds" / f"{module}.py").write_text(text)
        written += text.count("\n")
    imports = "\n".join(f"from feeds import {m}" for m in sorted(set(module_of.values())))
    calls = "\n".join(
        f'            "feed_{n}": {module}.parse_feed_{n}(text).summary(),'
        for n, module in module_of.items()
    )
    (root / "__init__.py").write_text(TOOL_MODULE.format(imports=imports, calls=calls))
    requirements = "".join(f"  - {pin}\n" for pin in pins)
    (root / "plugin.yaml").write_text(
        f"name: {root.name}\nversion: 1.0.0\ndescription: Generated plugin for gate timings\n"
        "class: GeneratedPlugin\n"
        + (f"requirements:\n{requirements}" if pins else "")
        + "tools:\n  - {name: summarise, description: Summary statistics, timeout: 10}\n"
    )
    return root


# ---- measurements ---------------------------------------------------------------------------


def manifest_at(root: Path) -> Manifest:
    found = discover([root])
    if found.problems or len(found.manifests) != 1:
        raise BenchError(f"{root}: {'; '.join(map(str, found.problems)) or 'no plugin.yaml'}")
    return found.manifests[0]


def source_lines(source: PluginSource) -> int:
    return sum((source.root / rel).read_text().count("\n") for rel in source.python_files)


def timed_ms(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def measure_in_process(
    manifest: Manifest, runs: int, warm_runs: int, scratch: Path
) -> PluginResult:
    source = PluginSource.from_manifest(manifest)
    result = PluginResult(
        name=manifest.name,
        lines=source_lines(source),
        files=len(source.python_files),
        pins=len(manifest.requirements),
    )
    advisories = load_advisories()
    for run in range(runs):
        cache = scratch / f"{manifest.name}-cache-{run}"
        gate = Gate(GateConfig(waivers=DEFAULT_WAIVERS, cache_dir=cache))
        verdict = gate.review_sync(manifest)
        if verdict.cached or verdict.gate_error:
            raise BenchError(f"{manifest.name}: cold review was cached or failed: {verdict}")
        result.cold_ms.append(verdict.duration_ms)
        result.decision, result.findings = str(verdict.decision), len(verdict.findings)
        for _ in range(warm_runs if run == runs - 1 else 0):
            again = gate.review_sync(manifest)
            if not again.cached:
                raise BenchError(f"{manifest.name}: second review was not a cache hit")
            result.warm_ms.append(again.duration_ms)
    checks: dict[str, Callable[[], list[Finding]]] = {
        "bandit": lambda: scan_code(source),
        "capabilities": lambda: scan_capabilities(source),
        "heuristics": lambda: scan_heuristics(source),
        "deps": lambda: audit_requirements(source, advisories=advisories),
    }
    result.checks_ms = {name: timed_ms(check) for name, check in checks.items()}
    return result


def measure_fresh_process(
    root: Path, runs: int, scratch: Path, index_cache: Path | None
) -> list[float]:
    timings = []
    for run in range(runs):
        env = {**os.environ, "HYDROGEN_GATE_CACHE": str(scratch / f"fresh-{root.name}-{run}")}
        if index_cache is not None:
            env["HYDROGEN_ADVISORY_CACHE"] = str(index_cache)
        timings.append(run_command([str(HYDROGEN), "review", "--no-cache", str(root)], env))
    return timings


def run_command(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command,
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=SUBPROCESS_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BenchError(f"{' '.join(command)}: {exc}") from exc
    elapsed = (time.perf_counter() - started) * 1000
    # 0 admit, 1 refuse: both are verdicts. 2 (or anything else) means the gate could not decide.
    if done.returncode not in (0, 1):
        raise BenchError(
            f"{' '.join(command)} exited {done.returncode}: {done.stderr.decode()[-500:]}"
        )
    return elapsed


def run_bench(args: argparse.Namespace) -> Report:
    started = time.perf_counter()
    advisories = load_advisories()
    advisory_load_ms = (time.perf_counter() - started) * 1000
    with tempfile.TemporaryDirectory(prefix="hydrogen-bench-gate-") as tmp:
        scratch = Path(tmp)
        roots = sorted(p.parent for p in BUNDLED_PLUGINS.glob("*/plugin.yaml"))
        roots.append(
            write_generated_plugin(scratch / "generated_pinned", args.lines, GENERATED_PINS)
        )
        roots.append(write_generated_plugin(scratch / "generated_code_only", args.lines, ()))
        results: list[PluginResult] = []
        for root in roots:
            result = measure_in_process(manifest_at(root), args.runs, args.warm_runs, scratch)
            result.fresh_process_ms = measure_fresh_process(root, args.runs, scratch, None)
            results.append(result)
        floor = [run_command([str(HYDROGEN), "--help"], dict(os.environ)) for _ in range(args.runs)]
        pinned = roots[-2]
        cold_index = measure_fresh_process(pinned, 1, scratch, scratch / "empty-index-cache")[0]
    return Report(
        python=sys.version.split()[0],
        live_osv=args.live_osv,
        advisory_db=str(advisories.path),
        advisory_records=advisories.count,
        advisory_load_ms=advisory_load_ms,
        plugins=results,
        cli_floor_ms=floor,
        cold_index_plugin=pinned.name,
        cold_index_ms=cold_index,
    )


# ---- output ---------------------------------------------------------------------------------


def render_table(report: Report) -> str:
    out = [
        f"Security gate benchmark (Python {report.python}; live OSV "
        f"{'on' if report.live_osv else 'off'}; medians)",
        f"advisory database {report.advisory_db}: {report.advisory_records} records loaded "
        f"into this process in {report.advisory_load_ms:.0f} ms (before any review below)",
        "",
        f"{'plugin':<22}{'lines':>6}{'files':>6}{'pins':>5}  {'verdict':<20}"
        f"{'cold ms':>9}{'warm ms':>9}  {'warm<50ms':<10}{'cold<1s':<8}{'fresh proc ms':>14}",
    ]
    for r in report.plugins:
        out.append(
            f"{r.name:<22}{r.lines:>6}{r.files:>6}{r.pins:>5}  {r.decision:<20}"
            f"{r.cold_median:>9.1f}{r.warm_median:>9.2f}  {r.warm_verdict():<10}"
            f"{r.cold_verdict():<8}{statistics.median(r.fresh_process_ms):>14.0f}"
        )
    out += ["", "cold, by check (ms, one run each, scanners already warm):"]
    for r in report.plugins:
        parts = ", ".join(f"{name} {ms:.1f}" for name, ms in r.checks_ms.items())
        out.append(f"  {r.name:<22}{parts}")
    out += [
        "",
        f"fresh process floor (`hydrogen --help`): {statistics.median(report.cli_floor_ms):.0f} ms",
        f"fresh process review of {report.cold_index_plugin} with an empty advisory index cache "
        f"(parses every record): {report.cold_index_ms:.0f} ms",
        f"targets: warm < {WARM_TARGET_MS:.0f} ms per plugin; cold < {COLD_TARGET_MS:.0f} ms for "
        f"a plugin of {COLD_TARGET_LINES}+ lines with the advisory database loaded",
    ]
    return "\n".join(out)


def render_json(report: Report) -> str:
    payload: dict[str, Any] = asdict(report)
    for entry, result in zip(payload["plugins"], report.plugins, strict=True):
        entry["warm_target"] = result.warm_verdict()
        entry["cold_target"] = result.cold_verdict()
    return json.dumps(payload, indent=2)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="cold and fresh runs")
    parser.add_argument("--warm-runs", type=int, default=DEFAULT_WARM_RUNS, help="cache hits")
    parser.add_argument("--lines", type=int, default=DEFAULT_LINES, help="generated plugin size")
    parser.add_argument("--live-osv", action="store_true", help="allow the live OSV API")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = run_bench(args)
    except BenchError as exc:
        print(f"bench_gate: {exc}", file=sys.stderr)
        return 1
    print(render_json(report) if args.json else render_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
