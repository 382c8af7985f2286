"""Environment escapes: the supervisor's secrets, loader and interpreter injection, and
admission of plugins that declare more than their profile grants."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Final

import pytest

from runtime import PluginUnavailableError
from runtime.host.worker import FIXED_ENV
from tests.escape.support import STRICT_PROFILE, assert_survived, escape_supervisor
from tests.integration.support import plugin_status

pytestmark = [pytest.mark.escape, pytest.mark.anyio]

# What build_environment (runtime/host/worker.py) gives every worker, whatever the host has.
WORKER_VARIABLES: Final = frozenset(FIXED_ENV) | {"PATH", "HOME", "TMPDIR"}
SITECUSTOMIZE: Final = "import os\nos.environ['HYDROGEN_INJECTED'] = 'sitecustomize ran'\n"


@pytest.fixture
def evil_site(tmp_path: Path) -> Path:
    """An import directory whose sitecustomize marks the environment if it is ever imported."""
    site = tmp_path / "evil-site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return site


@pytest.mark.layers("landlock")
async def test_supervisor_secrets_reach_neither_the_environment_nor_proc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = secrets.token_hex(16)
    monkeypatch.setenv("HYDROGEN_ESCAPE_SECRET", secret)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    async with escape_supervisor("env_snooper") as sup:
        pid = plugin_status(sup, "env_snooper")["pid"]

        seen = await sup.call("read_environment")

        assert set(seen["environ"]) == WORKER_VARIABLES
        assert secret not in repr(seen)
        # /proc/<supervisor>/environ: Landlock, /proc is not granted.
        assert seen["parent_environ"] == "EACCES"
        await assert_survived(sup, "env_snooper", pid)


async def test_loader_and_interpreter_injection_never_reach_the_worker(evil_site: Path) -> None:
    injected = {
        "LD_PRELOAD": str(evil_site / "evil.so"),
        "LD_LIBRARY_PATH": str(evil_site),
        "LD_AUDIT": str(evil_site / "audit.so"),
        "PYTHONPATH": str(evil_site),
        "PYTHONSTARTUP": str(evil_site / "sitecustomize.py"),
        "PYTHONINSPECT": "1",
    }
    async with escape_supervisor("env_snooper", environ={**os.environ, **injected}) as sup:
        pid = plugin_status(sup, "env_snooper")["pid"]

        seen = await sup.call("read_environment")

        assert set(seen["environ"]) == WORKER_VARIABLES
        assert str(evil_site) not in seen["sys_path"]
        assert seen["sitecustomize"] is None
        # python -I: even a PYTHON* variable that got through would be ignored.
        assert seen["isolated"] == 1
        await assert_survived(sup, "env_snooper", pid)


async def test_declaring_loader_variables_the_profile_does_not_grant_is_refused() -> None:
    environ = {"LD_PRELOAD": "/tmp/evil.so", "PYTHONPATH": "/tmp/evil"}
    async with escape_supervisor("loader_hijacker", environ=environ) as sup:
        entry = plugin_status(sup, "loader_hijacker")

        assert entry["state"] == "refused"
        assert entry["pid"] is None
        assert entry["reason"] == (
            f"plugin 'loader_hijacker' needs the environment variable LD_PRELOAD; "
            f"grant it under grants.env in {STRICT_PROFILE}; "
            f"plugin 'loader_hijacker' needs the environment variable PYTHONPATH; "
            f"grant it under grants.env in {STRICT_PROFILE}"
        )
        with pytest.raises(PluginUnavailableError) as caught:
            await sup.call("loader_hijacker_ping")
        assert caught.value.state == "refused"
        await assert_survived(sup, "loader_hijacker")


async def test_declaring_more_than_strict_grants_is_refused_naming_each_key_and_the_profile() -> (
    None
):
    async with escape_supervisor("overreacher") as sup:
        entry = plugin_status(sup, "overreacher")

        where = f"in {STRICT_PROFILE}"
        assert entry["state"] == "refused"
        assert entry["pid"] is None
        assert entry["reason"].split("; plugin ") == [
            f"plugin 'overreacher' needs read access to /etc/shadow; "
            f"grant it under grants.filesystem.read {where}",
            f"'overreacher' needs write access to /etc; "
            f"grant it under grants.filesystem.write {where}",
            f"'overreacher' needs network access to *:443; grant it under grants.network {where}",
            f"'overreacher' needs to start subprocesses; set grants.subprocess: true {where}",
            f"'overreacher' needs the UNIX socket /run/docker.sock; "
            f"grant it under grants.unix_sockets {where}",
            f"'overreacher' needs the environment variable AWS_SECRET_ACCESS_KEY; "
            f"grant it under grants.env {where}",
        ]
        with pytest.raises(PluginUnavailableError) as caught:
            await sup.call("overreacher_ping")
        assert caught.value.state == "refused"
        await assert_survived(sup, "overreacher")
