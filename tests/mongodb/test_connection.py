"""Connection handling and confinement of the mongodb worker, with real sockets and a real mongod.

An unreachable or silent server is reported naming the URI (never its password) well before the
tool's timeout; the worker may connect to the configured host and port and to nothing else.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from pymongo import uri_parser

from runtime import ToolFailedError
from tests.mongodb.support import PLUGIN_DIR, supervisor

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

TOOL: Final = "mongodb_collection_stats"
PARAMS: Final = {"database": "hydrogen_test_connection", "collection": "c"}
# Seconds. The configured server selection timeout is 0.5 s; the call must end long before the
# tool's own 60 s timeout, with room for a loaded machine.
PROMPT: Final = 10.0


@pytest.fixture
def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts TCP connections (the kernel completes the handshake) and never says a word."""
    with socket.create_server(("127.0.0.1", 0), backlog=16) as server:
        yield server.getsockname()[1]


async def failed_call(
    uri: str, plugin_dir: Path = PLUGIN_DIR, **kwargs: Any
) -> tuple[ToolFailedError, float]:
    async with supervisor(uri, plugin_dir, **kwargs) as sup:
        assert sup.status()["plugins"]["mongodb"]["state"] == "active"
        started = time.monotonic()
        with pytest.raises(ToolFailedError) as caught:
            await sup.call(TOOL, PARAMS)
        elapsed = time.monotonic() - started
        # The worker survived: the failure was an answer, not a crash.
        assert sup.status()["plugins"]["mongodb"]["restarts"] == 0
    return caught.value, elapsed


async def test_an_unreachable_server_is_named_without_credentials(closed_port: int) -> None:
    uri = f"mongodb://app:s3cret@127.0.0.1:{closed_port}/?serverSelectionTimeoutMS=500"
    error, elapsed = await failed_call(uri)
    assert error.error_type == "ServerUnreachableError"
    message = error.remote_message
    assert message.startswith(f"cannot reach MongoDB at mongodb://127.0.0.1:{closed_port}: ")
    assert "no usable server answered within" in message
    assert "Connection refused" in message
    assert "MONGODB_URI" in message
    assert "s3cret" not in str(error)
    assert "s3cret" not in error.remote_traceback
    assert elapsed < PROMPT


async def test_a_server_that_never_answers_does_not_hang_the_call(silent_server: int) -> None:
    uri = f"mongodb://127.0.0.1:{silent_server}/?serverSelectionTimeoutMS=500&connectTimeoutMS=300"
    error, elapsed = await failed_call(uri)
    assert error.error_type == "ServerUnreachableError"
    assert f"mongodb://127.0.0.1:{silent_server}" in error.remote_message
    assert elapsed < PROMPT


async def test_the_worker_is_granted_exactly_the_hosts_of_the_uri(mongodb_uri: str) -> None:
    host, port = uri_parser.parse_uri(mongodb_uri)["nodelist"][0]
    replica_set = f"mongodb://{host}:{port},db2.internal/?replicaSet=rs0"
    async with supervisor(replica_set) as sup:
        grants = sup.status()["plugins"]["mongodb"]["profile"]["grants"]
    assert list(grants["network"]) == [f"{host}:{port}", "db2.internal:27017"]
    assert list(grants["env"]) == ["MONGODB_URI"]


async def test_the_worker_cannot_reach_a_server_outside_its_grant(
    mongodb_uri: str, silent_server: int, tmp_path: Path
) -> None:
    """The plugin is pointed at the real mongod while the grant names another port: Landlock
    refuses the connection and the error names the missing grant."""
    host, port = uri_parser.parse_uri(mongodb_uri)["nodelist"][0]
    plugin = tmp_path / "mongodb"
    plugin.mkdir()
    for source in PLUGIN_DIR.rglob("*"):
        if source.is_file() and "__pycache__" not in source.parts:
            target = plugin / source.relative_to(PLUGIN_DIR)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    manifest = plugin / "plugin.yaml"
    literal = f"mongodb://{host}:{port}/?serverSelectionTimeoutMS=500"
    text = manifest.read_text().replace(
        "uri: ${MONGODB_URI:-mongodb://127.0.0.1:27017}", f"uri: {literal}"
    )
    assert literal in text
    manifest.write_text(text)
    # The gate is not under test here (the copy differs from the reviewed plugin); the sandbox is.
    error, _ = await failed_call(f"mongodb://127.0.0.1:{silent_server}", plugin, gate=False)
    assert error.error_type == "ServerUnreachableError"
    assert f"needs network access to {host}:{port}" in error.remote_message
    assert "grants.network" in error.remote_message


async def test_the_plugin_is_admitted_by_the_gate_and_runs_confined(mongodb_uri: str) -> None:
    async with supervisor(mongodb_uri) as sup:
        entry = sup.status()["plugins"]["mongodb"]
    assert entry["gate"]["decision"] == "admit", entry["gate"]
    assert entry["gate"]["findings"] == []
    layers = entry["layers"]
    for layer in ("landlock", "seccomp", "capabilities", "rlimits"):
        assert layers[layer].startswith("on"), layers
    assert layers["netns"] == "not used (network granted)"
