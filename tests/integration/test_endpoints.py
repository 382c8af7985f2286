"""Network grants written as ${VAR} URLs, resolved from the supervisor's environment at admission.

The endpoint_dialer plugin declares ``network: ["${DIALER_URL:-}"]`` and its profile grants the
same, the way a deployment configures a database or an API by one URL. Each case starts a real
confined worker and dials for real, so what is checked is what the kernel enforces.
"""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from runtime import Supervisor, ToolFailedError
from tests.conftest import TEST_PLUGINS
from tests.integration.support import TEST_PROFILES, plugin_status, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

DIALER: Final = TEST_PLUGINS / "grants" / "endpoint_dialer"


@pytest.fixture
def listeners() -> Iterator[tuple[int, int]]:
    """Two loopback TCP listeners: the configured endpoint and one that was never granted."""
    servers = [socket.create_server(("127.0.0.1", 0)) for _ in range(2)]
    try:
        yield servers[0].getsockname()[1], servers[1].getsockname()[1]
    finally:
        for server in servers:
            server.close()


def dialer(environ: dict[str, str], plugin_dir: Path = DIALER) -> Supervisor:
    return Supervisor([plugin_dir], profiles_dir=TEST_PROFILES, environ=environ)


async def test_a_url_in_the_environment_grants_exactly_its_port(
    listeners: tuple[int, int],
) -> None:
    granted, other = listeners
    url = f"http://user:secret@127.0.0.1:{granted}/api?x=1"
    async with dialer({"DIALER_URL": url}) as sup:
        entry = plugin_status(sup, "endpoint_dialer")
        assert entry["state"] == "active", entry
        assert (await sup.call("dial", {"host": "127.0.0.1", "port": granted})) == {
            "connect": "connected"
        }
        # Refused for every other port: the audit hook names the missing grant before Landlock's
        # TCP rule (the boundary, tested in tests/escape) would answer EACCES.
        refused = (await sup.call("dial", {"host": "127.0.0.1", "port": other}))["connect"]
        assert f"needs network access to 127.0.0.1:{other}" in refused


async def test_an_unset_variable_with_an_empty_default_means_no_network(
    listeners: tuple[int, int],
) -> None:
    granted, _ = listeners
    async with dialer({}) as sup:
        entry = plugin_status(sup, "endpoint_dialer")
        assert entry["state"] == "active", entry
        assert entry["layers"]["netns"].startswith("on"), entry["layers"]
        result = await sup.call("dial", {"host": "127.0.0.1", "port": granted})
        # seccomp refuses IP sockets when there is no network grant at all.
        assert result["connect"] != "connected"


async def test_a_resolved_target_beyond_the_profile_is_refused_naming_it(
    tmp_path: Path, listeners: tuple[int, int]
) -> None:
    granted, other = listeners
    plugin = tmp_path / "endpoint_dialer"
    plugin.mkdir()
    manifest = (DIALER / "plugin.yaml").read_text()
    # The plugin asks for a second endpoint that the profile's ${DIALER_URL} grant does not cover.
    (plugin / "plugin.yaml").write_text(
        manifest.replace('["${DIALER_URL:-}"]', f'["${{DIALER_URL:-}}", "127.0.0.1:{other}"]')
    )
    (plugin / "__init__.py").write_text((DIALER / "__init__.py").read_text())
    async with dialer({"DIALER_URL": f"http://127.0.0.1:{granted}"}, plugin) as sup:
        entry = plugin_status(sup, "endpoint_dialer")
        assert entry["state"] == "refused", entry
        assert f"needs network access to 127.0.0.1:{other}" in entry["reason"]
        assert "grants.network" in entry["reason"]


async def test_a_variable_the_profile_needs_but_nobody_set_is_a_profile_problem(
    tmp_path: Path,
) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    text = (TEST_PROFILES / "endpoint.yaml").read_text()
    (profiles / "endpoint.yaml").write_text(text.replace("${DIALER_URL:-}", "${DIALER_URL}"))
    async with Supervisor([DIALER], profiles_dir=profiles, environ={}) as sup:
        problems = [str(p) for p in sup.problems]
        assert any("grants.network[0]" in p and "DIALER_URL" in p for p in problems), problems
        assert plugin_status(sup, "endpoint_dialer")["state"] == "error"


KEEPER: Final = TEST_PLUGINS / "grants" / "data_keeper"


async def test_a_data_dir_named_by_a_variable_is_created_and_outlives_the_worker(
    tmp_path: Path,
) -> None:
    data = tmp_path / "state" / "keeper"
    async with Supervisor(
        [KEEPER], profiles_dir=TEST_PROFILES, environ={"KEEPER_DATA": str(data)}
    ) as sup:
        assert data.is_dir()
        assert (await sup.call("keep", {"key": "k", "value": "v1"})) == {"kept": "k"}
        first = await sup.call("recall", {"key": "k"})
        os.kill(first["pid"], signal.SIGKILL)  # a crash: the supervisor starts a new worker
        await wait_until(
            lambda: plugin_status(sup, "data_keeper")["pid"] not in (None, first["pid"]),
            "data_keeper restarted",
        )
        again = await sup.call("recall", {"key": "k"})
        assert again["value"] == "v1"
        assert again["pid"] != first["pid"]
        with pytest.raises(ToolFailedError, match="permission denied"):
            await sup.call("keep", {"key": "../escaped", "value": "x"})
    assert not (tmp_path / "state" / "escaped").exists()


async def test_an_unset_data_dir_variable_refuses_the_plugin_naming_it() -> None:
    async with Supervisor([KEEPER], profiles_dir=TEST_PROFILES, environ={}) as sup:
        entry = plugin_status(sup, "data_keeper")
        assert entry["state"] == "refused", entry
        assert "permissions.filesystem.write[0]" in entry["reason"]
        assert "${KEEPER_DATA} is not set" in entry["reason"]
