"""Tests of the bundled ``system`` plugin against the real host: psutil is not mocked."""

from __future__ import annotations

import importlib.util
import socket
import sys
from collections.abc import Iterator
from datetime import datetime
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import pytest
import yaml

PLUGIN_ROOT = Path(__file__).resolve().parents[1]


def _load_plugin_module() -> ModuleType:
    # A private name keeps this import apart from the one the worker's loader would make.
    name = "hydrogen_test_system_plugin"
    spec = importlib.util.spec_from_file_location(
        name, PLUGIN_ROOT / "__init__.py", submodule_search_locations=[str(PLUGIN_ROOT)]
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


system = _load_plugin_module()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def manifest() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((PLUGIN_ROOT / "plugin.yaml").read_text())
    return data


@pytest.fixture
def plugin(manifest: dict[str, Any]) -> Any:
    return system.SystemPlugin(manifest)


@pytest.fixture
def restore_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The worker's loader puts the plugin folder on sys.path and registers its modules, which
    would let a bare ``import tools`` elsewhere in the session resolve to this plugin."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    # Bound then closed: nothing listens there now, so a connect is refused straight away.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _runtime(module: str) -> Any:
    """Import the host runtime untyped: ``mypy plugins/system`` checks the plugin, and following
    these imports would make it report the runtime's own findings as the plugin's."""
    return importlib.import_module(module)


def _run(tool: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Call the tool as the worker does: sync ``execute`` goes to a thread, off the loop."""

    async def call() -> dict[str, Any]:
        result: dict[str, Any] = await anyio.to_thread.run_sync(tool.execute, params)
        return result

    return anyio.run(call)


def test_manifest_uses_only_allowed_keys_and_pins_installed_psutil(
    manifest: dict[str, Any],
) -> None:
    loaded, problems = _runtime("runtime.manifest.loader").load_manifest(
        PLUGIN_ROOT / "plugin.yaml"
    )
    assert problems == []
    assert loaded is not None
    assert [tool.name for tool in loaded.tools] == ["health_check", "system_info"]
    assert manifest["requirements"] == [f"psutil=={metadata.version('psutil')}"]


def test_tools_expose_closed_object_schemas(plugin: Any) -> None:
    for name in ("health_check", "system_info"):
        tool = plugin.create_tool(name)
        assert tool.name == name
        assert tool.description
        schema = tool.get_schema()
        assert schema["type"] == "object"
        assert schema["additionalProperties"] is False
        assert schema["properties"]


def test_unknown_tool_is_refused(plugin: Any) -> None:
    with pytest.raises(ValueError, match="unknown tool 'nope'"):
        plugin.create_tool("nope")


def test_health_check_reports_real_figures(plugin: Any) -> None:
    result = _run(plugin.create_tool("health_check"), {"cpu_interval": 0.1})
    cpu, memory = result["cpu"], result["memory"]
    assert 0.0 <= cpu["percent"] <= 100.0
    assert cpu["count_logical"] >= 1
    assert 0.0 <= memory["percent"] <= 100.0
    assert 0.0 <= memory["swap_percent"] <= 100.0
    assert 0 < memory["available"] <= memory["total"]
    [disk] = result["disks"]
    assert disk["path"] == "/"
    assert 0.0 <= disk["percent"] <= 100.0
    assert disk["used"] + disk["free"] <= disk["total"]
    assert result["network"] == {"targets": []}
    assert result["status"] in {"ok", "warning", "critical"}
    assert isinstance(result["reasons"], list)
    assert datetime.fromisoformat(result["checked_at"]).tzinfo is not None


def test_zero_thresholds_make_every_metric_critical(plugin: Any) -> None:
    params = {"cpu_interval": 0, "thresholds": {"cpu": 0, "memory": 0, "disk": 0}}
    result = _run(plugin.create_tool("health_check"), params)
    assert result["status"] == "critical"
    assert any(
        reason.startswith("cpu ") and "critical 0%" in reason for reason in result["reasons"]
    )
    assert any(reason.startswith("memory ") for reason in result["reasons"])
    assert any(reason.startswith("disk / ") for reason in result["reasons"])


def test_warning_band_is_ninety_percent_of_threshold() -> None:
    health = sys.modules["hydrogen_test_system_plugin.tools.health_tool"]
    assert health._grade("memory", 80.0, 80.0)[0][0] == "critical"
    assert health._grade("memory", 72.0, 80.0)[0][0] == "warning"
    assert health._grade("memory", 71.9, 80.0) == []


def test_closed_port_is_unreachable_and_warns(plugin: Any, closed_port: int) -> None:
    # Thresholds at 100 keep real load from turning the status critical and masking the warning.
    params = {
        "cpu_interval": 0,
        "thresholds": {"cpu": 100, "memory": 100, "disk": 100},
        "network_targets": [f"127.0.0.1:{closed_port}"],
    }
    result = _run(plugin.create_tool("health_check"), params)
    [probe] = result["network"]["targets"]
    assert probe["target"] == f"127.0.0.1:{closed_port}"
    assert probe["reachable"] is False
    assert probe["latency_ms"] is None
    assert probe["error"]
    assert result["status"] in {"warning", "critical"}
    assert any("unreachable" in reason for reason in result["reasons"])


def test_listening_port_is_reachable(plugin: Any, listening_port: int) -> None:
    params = {"cpu_interval": 0, "network_targets": [f"127.0.0.1:{listening_port}"]}
    result = _run(plugin.create_tool("health_check"), params)
    [probe] = result["network"]["targets"]
    assert probe["reachable"] is True
    assert probe["latency_ms"] >= 0
    assert probe["error"] is None
    assert not any("unreachable" in reason for reason in result["reasons"])


def test_configured_targets_are_probed(manifest: dict[str, Any], listening_port: int) -> None:
    manifest["configuration"]["network_targets"] = [f"localhost:{listening_port}"]
    plugin = system.SystemPlugin(manifest)
    result = _run(plugin.create_tool("health_check"), {"cpu_interval": 0})
    assert result["network"]["targets"][0]["reachable"] is True
    assert plugin.health()["network_targets"] == [f"localhost:{listening_port}"]


@pytest.mark.parametrize(
    ("thresholds", "field"),
    [
        ({"cpu": 101}, "configuration.thresholds.cpu"),
        ({"memory": -1}, "configuration.thresholds.memory"),
        ({"disk": "lots"}, "configuration.thresholds.disk"),
        ({"disk": True}, "configuration.thresholds.disk"),
        ({"gpu": 50}, "configuration.thresholds.gpu"),
    ],
)
def test_invalid_configured_thresholds_name_the_field(
    manifest: dict[str, Any], thresholds: dict[str, Any], field: str
) -> None:
    manifest["configuration"]["thresholds"] = thresholds
    with pytest.raises(ValueError, match=rf"^{field} "):
        system.SystemPlugin(manifest)


def test_invalid_call_parameters_name_the_field(plugin: Any) -> None:
    tool = plugin.create_tool("health_check")
    with pytest.raises(ValueError, match=r"^thresholds\.memory "):
        tool.execute({"thresholds": {"memory": 250}})
    with pytest.raises(ValueError, match=r"^network_targets\[0\] "):
        tool.execute({"network_targets": ["no-port-here"]})
    with pytest.raises(ValueError, match=r"^cpu_interval "):
        tool.execute({"cpu_interval": 9})


def test_system_info_lists_psutil_with_its_real_version(plugin: Any) -> None:
    result = _run(plugin.create_tool("system_info"), {})
    names = [package["name"].lower() for package in result["packages"]]
    assert names == sorted(names)
    [psutil_entry] = [p for p in result["packages"] if p["name"].lower() == "psutil"]
    assert psutil_entry["version"] == metadata.version("psutil")
    assert result["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert result["python"]["executable"] == sys.executable
    assert result["os"]["hostname"] == socket.gethostname()
    assert result["hardware"]["cpu_count_logical"] >= 1
    assert result["hardware"]["memory_total"] > 0
    assert datetime.fromisoformat(result["hardware"]["boot_time"]).tzinfo is not None


def test_system_info_filters_and_never_dumps_environment(plugin: Any) -> None:
    result = _run(plugin.create_tool("system_info"), {"package_filter": "PSUT"})
    names = [p["name"].lower() for p in result["packages"]]
    assert "psutil" in names
    assert all("psut" in name for name in names)
    assert set(result["environment"]) == {"in_virtualenv", "path_entries"}
    assert result["environment"]["in_virtualenv"] is (sys.prefix != sys.base_prefix)
    without = _run(plugin.create_tool("system_info"), {"include_packages": False})
    assert "packages" not in without


@pytest.mark.anyio
async def test_worker_loader_runs_the_plugin(
    manifest: dict[str, Any], restore_imports: None
) -> None:
    """End to end through the worker's own loader, so the plugin contract is checked for real."""
    host = _runtime("runtime.worker.plugin_host")
    loaded = await host.load_plugin(
        plugin="system", root=PLUGIN_ROOT, class_name="SystemPlugin", manifest=manifest,
        tool_names=["health_check", "system_info"], sync_threads=2,
    )  # fmt: skip
    tool = loaded.tools["health_check"]
    assert tool.is_async is False
    assert tool.schema["additionalProperties"] is False
    result = await host.run_maybe_async(tool.execute, {"cpu_interval": 0}, limiter=loaded.limiter)
    assert result["status"] in {"ok", "warning", "critical"}
    assert loaded.instance.health()["healthy"] is True
