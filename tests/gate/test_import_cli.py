"""`hydrogen import-advisories` installs an export the gate then audits against."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HYDROGEN = Path(sys.executable).with_name("hydrogen")
FIXTURES = Path(__file__).parent / "fixtures"


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HYDROGEN), *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def test_an_imported_export_is_what_the_gate_audits_against(
    advisory_db: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "HYDROGEN_GATE_CACHE": str(tmp_path / "cache"), "HYDROGEN_OSV_LIVE": "0"}
    dest = tmp_path / "imported"
    done = _run("import-advisories", str(advisory_db), "--dest", str(dest), env=env)
    assert done.returncode == 0, done.stderr
    assert "installed" in done.stdout
    assert any(dest.rglob("PYSEC-2018-28.*"))

    env["HYDROGEN_ADVISORY_DB"] = str(dest)
    review = _run("review", str(FIXTURES / "deps_vulnerable"), "--format", "json", env=env)
    assert review.returncode == 1, review.stderr
    ids = {f["id"] for v in json.loads(review.stdout)["verdicts"] for f in v["findings"]}
    assert "deps:vulnerable:requests:PYSEC-2018-28" in ids


def test_importing_something_that_is_not_an_export_changes_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "HYDROGEN_GATE_CACHE": str(tmp_path / "cache")}
    bogus = tmp_path / "bogus.zip"
    bogus.write_bytes(b"not a zip")
    done = _run("import-advisories", str(bogus), "--dest", str(tmp_path / "db"), env=env)
    assert done.returncode == 1
    assert "error:" in done.stderr
    assert not (tmp_path / "db").exists()
