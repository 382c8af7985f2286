"""Hot reload through `hydrogen serve --http`: SIGHUP and --watch, seen by an HTTP client."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.http.support import HttpServer, wait_until
from tests.integration.support import install_versioned, set_version

pytestmark = pytest.mark.integration


def version(server: HttpServer) -> str:
    with server.client() as client:
        reply = client.post("/execute", json={"tool": "which_version", "params": {}})
    assert reply.status_code == 200, reply.text
    return str(reply.json()["result"]["version"])


def test_sighup_reloads_a_changed_plugin(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugin = install_versioned(plugins)
    with HttpServer(tmp_path, plugins) as server:
        server.wait_settled()
        assert version(server) == "A"
        set_version(plugin, "B")
        assert version(server) == "A"  # no watcher: nothing changes until the operator asks
        server.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: version(server) == "B", "SIGHUP reloaded the plugin")
        assert server.proc.poll() is None  # SIGHUP did not end the server


def test_watch_reloads_on_file_changes(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugin = install_versioned(plugins)
    with HttpServer(tmp_path, plugins, extra=("--watch",)) as server:
        server.wait_settled()
        assert version(server) == "A"
        set_version(plugin, "B")
        wait_until(lambda: version(server) == "B", "the watcher reloaded the plugin")
