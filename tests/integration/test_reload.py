"""Hot reload: a plugin changed, added or removed while calls flow, and no call fails.

Each test installs its own copy of tests/plugins/versioned under tmp_path and rewrites it, the
way an operator edits a deployed plugin; workers are real and confined.
"""

from __future__ import annotations

import os
import shutil
import signal
import textwrap
from pathlib import Path
from typing import Final

import anyio
import pytest

from runtime import CallError, Supervisor, ToolNotFoundError
from runtime.errors import UnknownPluginError
from runtime.host.reload import Outcome
from tests.integration.support import (
    TEST_PROFILES,
    pid_gone,
    plugin_status,
    set_version,
    wait_until,
)
from tests.integration.support import (
    install_versioned as install,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

RELOADS: Final = 50
CALLERS: Final = 8
# Seconds a hammering call sleeps in its worker, so swaps happen with calls in flight.
CALL_DELAY: Final = 0.005
# Seconds for the watcher to notice a change and finish the reload it triggers; poll step.
WATCH_WAIT: Final = 15.0
POLL: Final = 0.1


def hosting(plugins: Path, **kwargs: object) -> Supervisor:
    return Supervisor([plugins], profiles_dir=TEST_PROFILES, **kwargs)  # type: ignore[arg-type]


async def test_fifty_reloads_under_load_fail_no_call(tmp_path: Path) -> None:
    plugin = install(tmp_path)
    answered: list[str] = []
    failures: list[CallError] = []
    async with hosting(tmp_path) as sup:
        first_pid = plugin_status(sup, "versioned")["pid"]
        stop = anyio.Event()

        async def hammer() -> None:
            while not stop.is_set():
                try:
                    result = await sup.call("which_version", {"delay": CALL_DELAY})
                except CallError as exc:
                    failures.append(exc)
                else:
                    answered.append(result["version"])

        async with anyio.create_task_group() as tg:
            for _ in range(CALLERS):
                tg.start_soon(hammer)
            for index in range(RELOADS):
                version = "B" if index % 2 == 0 else "A"
                set_version(plugin, version)
                record = await sup.reload("versioned")
                assert record.outcome == Outcome.RELOADED, record
                assert (record.version_before, record.version_after) == (
                    "A" if version == "B" else "B",
                    version,
                )
                # Routing swapped before reload() returned: the next call is the new code's.
                assert (await sup.call("which_version", {}))["version"] == version
            stop.set()
        status = plugin_status(sup, "versioned")
        assert status["reloads"] == RELOADS
        assert status["last_reload"]["outcome"] == "reloaded"
        assert status["tools"]["which_version"]["calls"] >= len(answered)
    assert failures == []
    assert set(answered) == {"A", "B"}
    assert pid_gone(first_pid)


BROKEN: Final = {
    "syntax error": (
        "__init__.py",
        "def broken(:\n",
        "did not start",
    ),
    "crash on start": (
        "__init__.py",
        "import os\nos._exit(3)\n",
        "did not start",
    ),
    "failing health": (
        "__init__.py",
        None,  # the template with health() reporting unhealthy
        "failed its health check",
    ),
    "invalid manifest": (
        "plugin.yaml",
        "name: versioned\nversion: [unclosed\n",
        "plugin.yaml",
    ),
    "tool list changed without the manifest": (
        "__init__.py",
        None,
        "did not start",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
async def test_a_broken_new_version_rolls_back_and_the_old_one_keeps_answering(
    tmp_path: Path, case: str
) -> None:
    plugin = install(tmp_path)
    filename, content, says = BROKEN[case]
    async with hosting(tmp_path) as sup:
        before = await sup.call("which_version", {})
        if case == "failing health":
            content = (
                (plugin / filename)
                .read_text()
                .replace('return {"healthy": True', 'return {"healthy": False')
            )
        elif case == "tool list changed without the manifest":
            # The worker serves the tool under another name than plugin.yaml declares.
            content = (plugin / filename).read_text() + textwrap.dedent(
                """
                class Renamed(VersionedPlugin):
                    def create_tool(self, name: str) -> Any:
                        raise ValueError("no such tool: " + name)
                """
            )
            manifest = (plugin / "plugin.yaml").read_text()
            (plugin / "plugin.yaml").write_text(
                manifest.replace("class: VersionedPlugin", "class: Renamed")
            )
        assert content is not None
        (plugin / filename).write_text(content)
        record = await sup.reload("versioned")
        assert record.outcome == Outcome.ROLLED_BACK, record
        assert says in record.reason, record.reason
        status = plugin_status(sup, "versioned")
        assert status["state"] == "active"
        assert status["last_reload"]["outcome"] == "rolled back"
        after = await sup.call("which_version", {})
        assert after == before  # same version, same worker: it never stopped serving
        assert sup.problems == []  # a failed reload is reported in its record, not as a problem


WARMING_UP: Final = '''

import time as _time

_LOADED_AT = _time.monotonic() + {delay}


def _ready() -> bool:
    return _time.monotonic() >= _LOADED_AT


class WarmingUp(VersionedPlugin):
    """Like a model loading in the background: serves only once ready, and says so."""

    def create_tool(self, name: str) -> Any:
        tool = WhichVersion()
        answer = tool.execute

        async def execute(params: dict[str, Any]) -> dict[str, Any]:
            if not _ready():
                raise RuntimeError("still warming up")
            return await answer(params)

        tool.execute = execute  # type: ignore[method-assign]
        return tool

    def health(self) -> dict[str, Any]:
        return {{"healthy": True, "ready": _ready()}}
'''


def warm_up_version(plugin: Path, delay: float, profile: str = "strict") -> None:
    set_version(plugin, "B")
    (plugin / "__init__.py").write_text(
        (plugin / "__init__.py").read_text() + WARMING_UP.format(delay=delay)
    )
    manifest = (plugin / "plugin.yaml").read_text()
    (plugin / "plugin.yaml").write_text(
        manifest.replace("class: VersionedPlugin", "class: WarmingUp").replace(
            "sandbox: strict", f"sandbox: {profile}"
        )
    )


async def test_routing_swaps_only_once_the_new_version_says_it_is_ready(tmp_path: Path) -> None:
    plugin = install(tmp_path)
    async with hosting(tmp_path) as sup:
        warm_up_version(plugin, delay=1.0)
        record = await sup.reload("versioned")
        assert record.outcome == Outcome.RELOADED, record
        # Had the swap come before ready, this call would meet "still warming up".
        assert (await sup.call("which_version", {}))["version"] == "B"


async def test_a_version_that_never_becomes_ready_rolls_back(tmp_path: Path) -> None:
    plugin = install(tmp_path)
    async with hosting(tmp_path) as sup:
        before = await sup.call("which_version", {})
        warm_up_version(plugin, delay=3600, profile="quickstart")
        record = await sup.reload("versioned")
        assert record.outcome == Outcome.ROLLED_BACK, record
        assert "did not become ready within its start timeout (3s" in record.reason
        assert (await sup.call("which_version", {})) == before


async def test_a_version_the_gate_refuses_rolls_back(tmp_path: Path) -> None:
    plugin = install(tmp_path)
    async with hosting(tmp_path, gate=True) as sup:
        before = await sup.call("which_version", {})
        code = (plugin / "__init__.py").read_text()
        (plugin / "__init__.py").write_text(
            "import subprocess\n" + code + "\n\ndef run() -> None:\n"
            "    subprocess.run(['sh', '-c', 'id'], check=False)\n"
        )
        record = await sup.reload("versioned")
        assert record.outcome == Outcome.ROLLED_BACK, record
        assert "subprocess" in record.reason, record.reason
        assert (await sup.call("which_version", {})) == before
        assert plugin_status(sup, "versioned")["gate"]["decision"] != "refuse"


async def test_plugins_are_added_and_removed_while_serving(tmp_path: Path) -> None:
    install(tmp_path)
    async with hosting(tmp_path) as sup:
        assert [r.outcome for r in await sup.reload_all()] == []  # nothing changed
        added = install(tmp_path, "newcomer")
        records = await sup.reload_all()
        assert [(r.plugin, r.outcome) for r in records] == [("newcomer", Outcome.ADDED)]
        assert (await sup.call("newcomer_version", {}))["version"] == "A"
        pid = plugin_status(sup, "newcomer")["pid"]
        shutil.rmtree(added)
        records = await sup.reload_all()
        assert [(r.plugin, r.outcome) for r in records] == [("newcomer", Outcome.REMOVED)]
        with pytest.raises(ToolNotFoundError):
            await sup.call("newcomer_version", {})
        assert "newcomer" not in sup.status()["plugins"]
        await wait_until(lambda: pid_gone(pid), "the removed plugin's worker exited")
        assert (await sup.call("which_version", {}))["version"] == "A"


async def test_reload_of_an_unknown_plugin_names_the_known_ones(tmp_path: Path) -> None:
    install(tmp_path)
    async with hosting(tmp_path) as sup:
        with pytest.raises(UnknownPluginError, match=r"no plugin named 'ghost'.*versioned"):
            await sup.reload("ghost")


async def test_the_watcher_reloads_a_changed_plugin(tmp_path: Path) -> None:
    plugin = install(tmp_path)
    async with hosting(tmp_path, watch=True) as sup:
        assert (await sup.call("which_version", {}))["version"] == "A"
        set_version(plugin, "B")

        async def version() -> str:
            return str((await sup.call("which_version", {}))["version"])

        with anyio.fail_after(WATCH_WAIT):
            # The change is in another process's view of the disk: poll the answers.
            while await version() != "B":  # noqa: ASYNC110
                await anyio.sleep(POLL)
        assert plugin_status(sup, "versioned")["last_reload"]["outcome"] == "reloaded"


async def test_a_running_version_keeps_its_own_files_while_the_folder_changes(
    tmp_path: Path,
) -> None:
    """Workers import from a private snapshot: editing the folder cannot reach them."""
    plugin = install(tmp_path)
    async with hosting(tmp_path) as sup:
        (plugin / "__init__.py").write_text("raise SystemExit('half-saved')\n")
        # A crash now restarts the worker from the admitted snapshot, not from the folder.
        pid = plugin_status(sup, "versioned")["pid"]
        os.kill(pid, signal.SIGKILL)
        await wait_until(
            lambda: plugin_status(sup, "versioned")["pid"] not in (None, pid),
            "versioned restarted",
        )
        assert (await sup.call("which_version", {}))["version"] == "A"
