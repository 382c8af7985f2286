"""`hydrogen review` end to end: the real command in a subprocess, real bandit and pip-audit, the
real advisory database; exit codes, JSON, SARIF, waivers and the scan cache.

The fixture plugins (``tests/gate/fixtures``) and what they must get:

| fixture                | verdict             | because                                          |
|------------------------|---------------------|--------------------------------------------------|
| clean                  | admit               | nothing to find                                  |
| nosec_exec             | admit with warnings | exec and eval are found through ``# nosec``      |
| syntax_error           | refuse              | code the gate cannot parse is code not checked   |
| env_exfil              | refuse              | environment posted out: heuristics, capabilities |
| deps_vulnerable        | refuse              | requests==2.19.0 (PYSEC-2018-28)                 |
| deps_unpinned          | refuse              | python-dateutil>=2.8 in requirements.txt         |
| deps_typosquat         | refuse              | reqeusts==2.32.3                                 |
| e2e_bad_manifest       | no verdict (exit 2) | an unknown key in plugin.yaml                    |

Every run gets its own scan cache (``HYDROGEN_GATE_CACHE``), so no test sees another's results,
and the live OSV API is off: the local database's answers do not change under a test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jsonschema
import pytest

from runtime.gate.deps import _Vuln, _vulnerable
from runtime.gate.requirements import Pin
from tests.conftest import BUNDLED_PLUGINS, REPO_ROOT
from tests.gate.scanning import FIXTURES

HYDROGEN: Final = Path(sys.executable).parent / "hydrogen"
SARIF_SCHEMA: Final = REPO_ROOT / ".venv" / "share" / "hydrogen" / "sarif-2.1.0.json"
# Seconds for one `hydrogen review`: interpreter start, advisory index, bandit, pip-audit runs.
REVIEW_TIMEOUT: Final = 90.0
EXIT_ADMIT, EXIT_REFUSE, EXIT_GATE_ERROR = 0, 1, 2
# A waiver date no test run will outlive, and one long gone.
FAR_FUTURE: Final = "2099-12-31"
LONG_AGO: Final = "2020-01-31"
APPROVER: Final = "alice@example.com"
WAIVER_REASON: Final = "the tool never calls requests with a redirect"


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str

    def report(self) -> dict[str, Any]:
        """The ``--format json`` payload."""
        payload = json.loads(self.stdout)
        assert isinstance(payload, dict), payload
        return payload

    def verdicts(self) -> dict[str, dict[str, Any]]:
        return {v["plugin"]: v for v in self.report()["verdicts"]}

    def verdict(self, plugin: str) -> dict[str, Any]:
        return self.verdicts()[plugin]

    @property
    def error_text(self) -> str:
        """stderr on one line: rich wraps long messages."""
        return " ".join(self.stderr.split())


Review = Callable[..., Run]


@pytest.fixture(scope="session")
def advisory_index_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shared by every run: the parsed advisory index, not a result of any review."""
    return tmp_path_factory.mktemp("advisory-index")


@pytest.fixture
def gate_cache(tmp_path: Path) -> Path:
    return tmp_path / "gate-cache"


@pytest.fixture
def review(gate_cache: Path, advisory_index_cache: Path) -> Review:
    """``review(*args, cwd=..., env=...)`` runs ``hydrogen review *args`` with this test's cache."""

    def run(*args: str | Path, cwd: Path = REPO_ROOT, env: dict[str, str] | None = None) -> Run:
        environ = {
            **os.environ,
            "HYDROGEN_GATE_CACHE": str(gate_cache),
            "HYDROGEN_ADVISORY_CACHE": str(advisory_index_cache),
            "HYDROGEN_OSV_LIVE": "0",
            # A wide terminal keeps rich from wrapping ids and messages mid-word.
            "COLUMNS": "400",
        }
        environ.pop("HYDROGEN_WAIVERS", None)
        environ.update(env or {})
        done = subprocess.run(
            [str(HYDROGEN), "review", *map(str, args)],
            cwd=cwd,
            env=environ,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=REVIEW_TIMEOUT,
            check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    return run


def ids(verdict: dict[str, Any]) -> set[str]:
    return {f["id"] for f in verdict["findings"]}


def finding(verdict: dict[str, Any], finding_id: str) -> dict[str, Any]:
    matches: list[dict[str, Any]] = [f for f in verdict["findings"] if f["id"] == finding_id]
    assert len(matches) == 1, f"expected one {finding_id} in {ids(verdict)}"
    return matches[0]


def where_found(run: Run, plugin: str = "deps_vulnerable") -> set[tuple[str, str, str, int | None]]:
    return {(f["id"], f["severity"], f["file"], f["line"]) for f in run.verdict(plugin)["findings"]}


def copy_plugins(names: Iterable[str], into: Path) -> Path:
    """The named fixtures, copied side by side into one folder of plugins."""
    into.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copytree(FIXTURES / name, into / name, ignore=shutil.ignore_patterns("__pycache__"))
    return into


def waiver_file(directory: Path, plugin: str, finding_id: str, expires: str = FAR_FUTURE) -> Path:
    """A waiver file accepting ``finding_id`` (an id or a glob) of ``plugin`` until ``expires``."""
    path = directory / "waivers.yaml"
    path.write_text(
        "waivers:\n"
        f"  - plugin: {plugin}\n"
        f"    finding: {json.dumps(finding_id)}\n"
        f"    reason: {WAIVER_REASON}\n"
        f"    approver: {APPROVER}\n"
        f"    expires: {expires}\n"
    )
    return path


# ---- one fixture per run: exit status, decision, finding ids ---------------------------------


@dataclass(frozen=True)
class Case:
    fixture: str
    exit_status: int
    decision: str
    # Ids that must be among the open (unwaived) findings.
    required: frozenset[str]


CASES: Final = [
    Case("clean", EXIT_ADMIT, "admit", frozenset()),
    Case("nosec_exec", EXIT_ADMIT, "admit_with_warnings", frozenset({"bandit:B102"})),
    Case("syntax_error", EXIT_REFUSE, "refuse", frozenset({"code:unparsable"})),
    Case(
        "env_exfil",
        EXIT_REFUSE,
        "refuse",
        frozenset({"heuristics:exfiltration", "capability:network", "capability:env"}),
    ),
    Case(
        "deps_vulnerable",
        EXIT_REFUSE,
        "refuse",
        frozenset({"deps:vulnerable:requests:PYSEC-2018-28"}),
    ),
    Case("deps_unpinned", EXIT_REFUSE, "refuse", frozenset({"deps:unpinned:python-dateutil"})),
    Case("deps_typosquat", EXIT_REFUSE, "refuse", frozenset({"deps:typosquat:reqeusts"})),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.fixture)
def test_each_fixture_gets_its_exit_status_decision_and_finding_ids(
    review: Review, case: Case
) -> None:
    run = review(FIXTURES / case.fixture, "--format", "json")

    assert run.returncode == case.exit_status, run.stderr
    verdict = run.verdict(case.fixture)
    assert verdict["decision"] == case.decision
    assert verdict["gate_error"] is None
    assert case.required <= ids(verdict), ids(verdict)
    assert all(f["waived_by"] is None for f in verdict["findings"])
    if case.decision == "admit":
        assert verdict["findings"] == []
    if case.exit_status == EXIT_REFUSE:
        assert any(f["severity"] == "error" for f in verdict["findings"])


def test_table_output_names_the_verdict_and_each_blocking_finding(review: Review) -> None:
    run = review(FIXTURES / "deps_vulnerable")

    assert run.returncode == EXIT_REFUSE, run.stderr
    assert "deps_vulnerable" in run.stdout
    assert "refuse" in run.stdout
    assert "deps:vulnerable:requests:PYSEC-2018-28" in run.stdout
    assert "upgrade to requests==" in run.stdout


def test_vulnerable_pin_is_refused_listing_each_advisory_with_its_fix(review: Review) -> None:
    verdict = review(FIXTURES / "deps_vulnerable", "--format", "json").verdict("deps_vulnerable")

    assert all(i.startswith("deps:vulnerable:requests:") for i in ids(verdict))
    pysec = finding(verdict, "deps:vulnerable:requests:PYSEC-2018-28")
    assert pysec["severity"] == "error"
    assert pysec["file"] == "plugin.yaml"
    assert "requests==2.19.0" in pysec["message"]
    assert "CVE-2018-18074" in pysec["message"]
    assert pysec["hint"].startswith("upgrade to requests==")


def test_unpinned_requirement_names_the_requirements_file_and_line(review: Review) -> None:
    verdict = review(FIXTURES / "deps_unpinned", "--format", "json").verdict("deps_unpinned")

    assert ids(verdict) == {"deps:unpinned:python-dateutil"}
    unpinned = finding(verdict, "deps:unpinned:python-dateutil")
    assert (unpinned["file"], unpinned["line"]) == ("requirements.txt", 2)
    assert unpinned["hint"] == "pin it: python-dateutil==<version you tested>"


def test_typosquatted_requirement_names_the_package_it_imitates(review: Review) -> None:
    verdict = review(FIXTURES / "deps_typosquat", "--format", "json").verdict("deps_typosquat")

    assert ids(verdict) == {"deps:typosquat:reqeusts"}
    squat = finding(verdict, "deps:typosquat:reqeusts")
    assert squat["severity"] == "error"
    assert "requests" in squat["message"]


def test_syntax_error_refuses_naming_the_file_and_line_not_a_gate_error(review: Review) -> None:
    run = review(FIXTURES / "syntax_error", "--format", "json")

    assert run.returncode == EXIT_REFUSE
    unparsable = finding(run.verdict("syntax_error"), "code:unparsable")
    assert (unparsable["file"], unparsable["line"]) == ("helpers.py", 5)


def test_environment_posted_out_is_refused_by_heuristics_and_by_the_capability_check(
    review: Review,
) -> None:
    verdict = review(FIXTURES / "env_exfil", "--format", "json").verdict("env_exfil")

    errors = {f["id"]: f for f in verdict["findings"] if f["severity"] == "error"}
    exfiltration = errors["heuristics:exfiltration"]
    assert (exfiltration["scanner"], exfiltration["file"], exfiltration["line"]) == (
        "heuristics",
        "__init__.py",
        25,
    )
    assert errors["capability:network"]["scanner"] == "capability"
    assert "capability:env:AWS_SECRET_ACCESS_KEY" in errors


def test_nosec_does_not_hide_exec_and_fail_on_warning_refuses_it(review: Review) -> None:
    lenient = review(FIXTURES / "nosec_exec", "--format", "json")
    strict = review(FIXTURES / "nosec_exec", "--format", "json", "--fail-on", "warning")

    assert lenient.returncode == EXIT_ADMIT, lenient.stderr
    exec_finding = finding(lenient.verdict("nosec_exec"), "bandit:B102")
    assert (exec_finding["file"], exec_finding["line"], exec_finding["severity"]) == (
        "__init__.py",
        7,
        "warning",
    )
    assert strict.returncode == EXIT_REFUSE, strict.stderr
    assert strict.verdict("nosec_exec")["decision"] == "refuse"
    assert ids(strict.verdict("nosec_exec")) == ids(lenient.verdict("nosec_exec"))


def test_broken_manifest_is_a_gate_error_naming_file_and_key_and_the_rest_is_reviewed(
    review: Review,
) -> None:
    run = review(FIXTURES / "e2e_bad_manifest", FIXTURES / "clean", "--format", "json")

    assert run.returncode == EXIT_GATE_ERROR
    assert set(run.verdicts()) == {"clean"}
    [problem] = run.report()["problems"]
    assert str(FIXTURES / "e2e_bad_manifest" / "plugin.yaml") in problem
    assert "permisions: unknown key" in problem
    assert "cannot review:" in run.error_text


def test_pins_that_no_advisory_source_can_audit_are_refused_never_passed(
    review: Review, tmp_path: Path
) -> None:
    run = review(
        FIXTURES / "deps_vulnerable",
        "--format",
        "json",
        env={"HYDROGEN_ADVISORY_DB": str(tmp_path / "no-such-db")},
    )

    assert run.returncode == EXIT_REFUSE, run.stderr
    unaudited = finding(run.verdict("deps_vulnerable"), "deps:unaudited:requests")
    assert unaudited["severity"] == "error"
    assert "could not be audited" in unaudited["message"]


# ---- many plugins in one run -----------------------------------------------------------------


def test_a_folder_of_plugins_gets_one_verdict_each_and_any_refusal_fails_the_run(
    review: Review, tmp_path: Path
) -> None:
    folder = copy_plugins([c.fixture for c in CASES], tmp_path / "plugins")

    run = review(folder, "--format", "json")

    assert run.returncode == EXIT_REFUSE, run.stderr
    decisions = {name: v["decision"] for name, v in run.verdicts().items()}
    assert decisions == {c.fixture: c.decision for c in CASES}
    for case in CASES:
        assert case.required <= ids(run.verdict(case.fixture))


def test_a_folder_of_admissible_plugins_exits_zero(review: Review, tmp_path: Path) -> None:
    folder = copy_plugins(["clean", "nosec_exec"], tmp_path / "plugins")

    run = review(folder, "--format", "json")

    assert run.returncode == EXIT_ADMIT, run.stderr
    assert {n: v["decision"] for n, v in run.verdicts().items()} == {
        "clean": "admit",
        "nosec_exec": "admit_with_warnings",
    }


def test_every_bundled_plugin_is_admitted(review: Review) -> None:
    bundled = sorted(p for p in BUNDLED_PLUGINS.iterdir() if (p / "plugin.yaml").is_file())
    assert bundled, f"no bundled plugin under {BUNDLED_PLUGINS}"

    run = review(*bundled, "--format", "json")

    assert run.returncode == EXIT_ADMIT, run.stdout + run.stderr
    verdicts = run.verdicts()
    assert len(verdicts) == len(bundled)
    assert {v["decision"] for v in verdicts.values()} <= {"admit", "admit_with_warnings"}


# ---- SARIF -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sarif_schema() -> dict[str, Any]:
    if not SARIF_SCHEMA.is_file():
        pytest.skip(f"{SARIF_SCHEMA} missing: scripts/setup.sh fetches it from npm")
    schema: dict[str, Any] = json.loads(SARIF_SCHEMA.read_text())
    return schema


def test_sarif_is_valid_2_1_0_with_a_located_result_per_finding(
    review: Review, tmp_path: Path, sarif_schema: dict[str, Any]
) -> None:
    names = ["clean", "nosec_exec", "syntax_error", "env_exfil", "deps_vulnerable"]
    copy_plugins(names, tmp_path / "plugins")

    # From the folder above the plugins, so locations are short relative URIs.
    sarif = review("plugins", "--format", "sarif", cwd=tmp_path)
    expected = review("plugins", "--format", "json", cwd=tmp_path)

    assert sarif.returncode == EXIT_REFUSE, sarif.stderr
    log = json.loads(sarif.stdout)
    jsonschema.Draft4Validator(sarif_schema).validate(log)
    [run] = log["runs"]
    assert run["tool"]["driver"]["name"] == "hydrogen-gate"
    assert run["properties"]["verdicts"] == {
        name: v["decision"] for name, v in expected.verdicts().items()
    }
    located = set()
    for result in run["results"]:
        [location] = result["locations"]
        physical = location["physicalLocation"]
        located.add(
            (
                result["properties"]["plugin"],
                result["ruleId"],
                physical["artifactLocation"]["uri"],
                physical.get("region", {}).get("startLine"),
            )
        )
        assert (tmp_path / physical["artifactLocation"]["uri"]).is_file()
    assert located == {
        (name, f["id"], f"plugins/{name}/{f['file'] or 'plugin.yaml'}", f["line"])
        for name, v in expected.verdicts().items()
        for f in v["findings"]
    }
    rules = {rule["id"] for rule in run["tool"]["driver"]["rules"]}
    assert {r["ruleId"] for r in run["results"]} == rules
    assert {
        ("env_exfil", "heuristics:exfiltration", "plugins/env_exfil/__init__.py", 25),
        ("syntax_error", "code:unparsable", "plugins/syntax_error/helpers.py", 5),
        ("nosec_exec", "bandit:B102", "plugins/nosec_exec/__init__.py", 7),
    } <= located
    assert any(rule_id == "deps:vulnerable:requests:PYSEC-2018-28" for _, rule_id, _, _ in located)


def test_sarif_marks_waived_findings_as_externally_suppressed(
    review: Review, tmp_path: Path, sarif_schema: dict[str, Any]
) -> None:
    waivers = waiver_file(tmp_path, "deps_vulnerable", "deps:vulnerable:requests:*", FAR_FUTURE)

    run = review(FIXTURES / "deps_vulnerable", "--format", "sarif", "--waivers", waivers)

    assert run.returncode == EXIT_ADMIT, run.stderr
    log = json.loads(run.stdout)
    jsonschema.Draft4Validator(sarif_schema).validate(log)
    results = log["runs"][0]["results"]
    assert results
    for result in results:
        [suppression] = result["suppressions"]
        assert suppression["kind"] == "external"
        assert APPROVER in suppression["justification"]


# ---- waivers ---------------------------------------------------------------------------------


def test_live_waiver_accepts_the_findings_it_names_and_admits(
    review: Review, tmp_path: Path
) -> None:
    waivers = waiver_file(tmp_path, "deps_vulnerable", "deps:vulnerable:requests:*", FAR_FUTURE)

    run = review(FIXTURES / "deps_vulnerable", "--format", "json", "--waivers", waivers)

    assert run.returncode == EXIT_ADMIT, run.stderr
    verdict = run.verdict("deps_vulnerable")
    assert verdict["decision"] == "admit"
    assert "deps:vulnerable:requests:PYSEC-2018-28" in ids(verdict)
    for f in verdict["findings"]:
        assert f["waived_by"] == f"{APPROVER} until {FAR_FUTURE}: {WAIVER_REASON}"


def test_waiver_file_from_the_environment_applies_like_the_option(
    review: Review, tmp_path: Path
) -> None:
    waivers = waiver_file(tmp_path, "deps_vulnerable", "deps:vulnerable:requests:*", FAR_FUTURE)

    run = review(
        FIXTURES / "deps_vulnerable", "--format", "json", env={"HYDROGEN_WAIVERS": str(waivers)}
    )

    assert run.returncode == EXIT_ADMIT, run.stderr
    assert run.verdict("deps_vulnerable")["decision"] == "admit"


def test_waiver_applies_only_to_the_plugin_it_names(review: Review, tmp_path: Path) -> None:
    waivers = waiver_file(tmp_path, "deps_typosquat", "deps:vulnerable:requests:*", FAR_FUTURE)

    run = review(FIXTURES / "deps_vulnerable", "--format", "json", "--waivers", waivers)

    assert run.returncode == EXIT_REFUSE, run.stderr
    assert all(f["waived_by"] is None for f in run.verdict("deps_vulnerable")["findings"])


def test_expired_waiver_stops_applying_and_says_when_it_expired(
    review: Review, tmp_path: Path
) -> None:
    target = "deps:vulnerable:requests:PYSEC-2018-28"
    waivers = waiver_file(tmp_path, "deps_vulnerable", target, LONG_AGO)

    run = review(FIXTURES / "deps_vulnerable", "--format", "json", "--waivers", waivers)

    assert run.returncode == EXIT_REFUSE, run.stderr
    verdict = run.verdict("deps_vulnerable")
    assert verdict["decision"] == "refuse"
    back = finding(verdict, target)
    assert back["waived_by"] is None
    assert back["severity"] == "error"
    expired = finding(verdict, f"gate:waiver-expired:{target}")
    assert expired["severity"] == "warning"
    assert f"expired on {LONG_AGO}" in expired["message"]
    assert APPROVER in expired["message"]


MALFORMED_WAIVERS: Final = {
    "missing_expiry": (
        "waivers:\n  - {plugin: p, finding: 'bandit:B101', reason: r, approver: a}\n",
        "waivers[0].expires: is required: a date such as 2027-06-30",
    ),
    "not_a_date": (
        "waivers:\n  - {plugin: p, finding: f, reason: r, approver: a, expires: soon}\n",
        "waivers[0].expires: is required: a date such as 2027-06-30",
    ),
    "unknown_key": (
        "waivers:\n  - {plugin: p, finding: f, reason: r, approver: a, expires: 2030-01-01,"
        " scope: all}\n",
        "waivers[0].scope: unknown key",
    ),
    "empty_reason": (
        "waivers:\n  - {plugin: p, finding: f, reason: '', approver: a, expires: 2030-01-01}\n",
        "waivers[0].reason: is required and must be non-empty text",
    ),
    "not_yaml": ("waivers: [\n", "not valid YAML"),
}


@pytest.mark.parametrize("how", ["option", "environment"])
@pytest.mark.parametrize("case", sorted(MALFORMED_WAIVERS))
def test_malformed_waiver_file_is_a_gate_error_naming_file_and_field(
    review: Review, tmp_path: Path, case: str, how: str
) -> None:
    text, reason = MALFORMED_WAIVERS[case]
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(text)

    if how == "option":
        run = review(FIXTURES / "clean", "--format", "json", "--waivers", waivers)
    else:
        run = review(FIXTURES / "clean", "--format", "json", env={"HYDROGEN_WAIVERS": str(waivers)})

    assert run.returncode == EXIT_GATE_ERROR
    assert run.stdout == ""  # no verdict is given under waivers that could not be read
    assert f"waiver file {waivers}: {reason}" in run.error_text


# ---- the scan cache --------------------------------------------------------------------------


def test_second_review_of_an_unchanged_plugin_comes_from_the_cache(review: Review) -> None:
    first = review(FIXTURES / "deps_vulnerable", "--format", "json")
    second = review(FIXTURES / "deps_vulnerable", "--format", "json")
    rescan = review(FIXTURES / "deps_vulnerable", "--format", "json", "--no-cache")

    assert first.verdict("deps_vulnerable")["cached"] is False
    assert second.verdict("deps_vulnerable")["cached"] is True
    assert rescan.verdict("deps_vulnerable")["cached"] is False
    assert first.returncode == second.returncode == rescan.returncode == EXIT_REFUSE
    assert where_found(first) == where_found(second) == where_found(rescan)
    assert "(cached)" in review(FIXTURES / "deps_vulnerable").stdout


def test_a_changed_file_or_a_waiver_never_reuses_a_stale_verdict(
    review: Review, tmp_path: Path
) -> None:
    plugin = copy_plugins(["clean"], tmp_path / "plugins") / "clean"
    assert review(plugin, "--format", "json").verdict("clean")["decision"] == "admit"

    with (plugin / "__init__.py").open("a") as module:
        module.write("\n\ndef run_snippet(code: str) -> None:\n    exec(code)\n")
    changed = review(plugin, "--format", "json").verdict("clean")
    assert changed["cached"] is False
    assert "bandit:B102" in ids(changed)

    # Waivers apply after the cache lookup: a cached scan never carries an old acceptance.
    waivers = waiver_file(tmp_path, "clean", "*", LONG_AGO)
    cached = review(plugin, "--format", "json", "--waivers", waivers).verdict("clean")
    assert cached["cached"] is True
    assert "gate:waiver-expired:bandit:B102" in ids(cached)


def test_plugin_without_requirements_is_cached_whatever_was_reviewed_before_it(
    review: Review,
) -> None:
    # The first run loads the advisory database for deps_vulnerable before it reviews clean.
    review(FIXTURES / "deps_vulnerable", FIXTURES / "clean", "--format", "json")

    assert review(FIXTURES / "clean", "--format", "json").verdict("clean")["cached"] is True


# ---- determinism ------------------------------------------------------------------------


def test_vulnerability_message_does_not_depend_on_the_order_of_its_aliases() -> None:
    pin = Pin("requests", "2.19.0", "requests==2.19.0", "plugin.yaml", None)
    messages = {
        _vulnerable(pin, _Vuln("PYSEC-2018-28", ["2.20.0"], aliases, "leaks a header")).message
        for aliases in (
            ["CVE-2018-18074", "GHSA-x84v-xcm2-53pg"],
            ["GHSA-x84v-xcm2-53pg", "CVE-2018-18074"],
        )
    }
    assert len(messages) == 1, messages
