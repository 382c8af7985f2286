"""The main job and ``hydrogen call`` against a real mongod, as an operator runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Final

import pytest
from pymongo import MongoClient

from runtime.devservices import (
    DEMO_COLLECTION,
    DEMO_DATABASE,
    DEMO_DOCUMENTS,
    MongodNotFoundError,
    ensure_demo_collection,
    find_mongod,
)
from tests.conftest import REPO_ROOT
from tests.mongodb.support import PLUGIN_DIR

pytestmark = pytest.mark.integration

HYDROGEN: Final = Path(sys.executable).parent / "hydrogen"
# Seconds: a bound for one CLI run (start, gate cache hit, calls, stop), not a pace.
CLI_TIMEOUT: Final = 60


def hydrogen(uri: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HYDROGEN), "--plugins", str(PLUGIN_DIR), *args],
        env={**os.environ, "MONGODB_URI": uri},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )


def test_demo_calls_every_tool_with_its_example(mongodb_uri: str) -> None:
    ensure_demo_collection(mongodb_uri)
    run = hydrogen(mongodb_uri, "demo", "--json")
    assert run.returncode == 0, run.stderr
    outcome: dict[str, Any] = json.loads(run.stdout)
    calls = {row["tool"]: row for row in outcome["calls"]}
    assert set(calls) == {
        "mongodb_create_index",
        "mongodb_recommend_indexes",
        "mongodb_collection_stats",
    }
    assert all(row["ok"] for row in calls.values()), calls
    assert calls["mongodb_collection_stats"]["result"]["count"] > 0
    assert calls["mongodb_recommend_indexes"]["result"]["recommendations"]


def test_call_prints_the_tool_result_and_exits_1_naming_a_bad_field(
    mongodb_uri: str, mongo: MongoClient[dict[str, Any]]
) -> None:
    ensure_demo_collection(mongodb_uri)
    params = json.dumps({"database": DEMO_DATABASE, "collection": DEMO_COLLECTION})
    run = hydrogen(mongodb_uri, "call", "mongodb_collection_stats", params)
    assert run.returncode == 0, run.stderr
    expected = mongo[DEMO_DATABASE][DEMO_COLLECTION].count_documents({})
    assert json.loads(run.stdout)["count"] == expected
    bad = json.dumps({"collection": DEMO_COLLECTION, "database": DEMO_DATABASE, "keys": {"a": 2}})
    failed = hydrogen(mongodb_uri, "call", "mongodb_create_index", bad)
    assert failed.returncode == 1
    assert "params.keys.a" in failed.stderr


def test_the_main_job_runs_on_a_fresh_embedded_mongod_and_stops_it() -> None:
    """``python -m runtime.devservices -- hydrogen demo`` with no MONGODB_URI: the wheel's
    mongod is started, seeded, used by every tool's example, and stopped."""
    try:
        find_mongod()
    except MongodNotFoundError as exc:
        pytest.skip(str(exc))
    environ = {k: v for k, v in os.environ.items() if k != "MONGODB_URI"}
    command = [sys.executable, "-m", "runtime.devservices", "--", str(HYDROGEN)]
    run = subprocess.run(
        [*command, "--plugins", str(PLUGIN_DIR), "demo", "--json"],
        env=environ,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    calls = json.loads(run.stdout)["calls"]
    assert [row["ok"] for row in calls] == [True, True, True], calls
    stats = next(row for row in calls if row["tool"] == "mongodb_collection_stats")
    assert stats["result"]["count"] == DEMO_DOCUMENTS
