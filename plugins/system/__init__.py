"""The bundled ``system`` plugin: host health checks and system information from psutil."""

from __future__ import annotations

from typing import Any, Final

import psutil

from .tools.config import parse_disk_paths, parse_targets, parse_thresholds
from .tools.health_tool import HealthCheckTool
from .tools.info_tool import SystemInfoTool

__all__ = ["HealthCheckTool", "SystemInfoTool", "SystemPlugin"]

TOOL_NAMES: Final = ("health_check", "system_info")


class SystemPlugin:
    """Built by the worker with the whole plugin.yaml mapping.

    Configuration is validated here, at load time, so a bad threshold fails the plugin's start
    with the field named instead of failing every later health check.
    """

    def __init__(self, manifest: dict[str, Any]) -> None:
        config = manifest.get("configuration") or {}
        if not isinstance(config, dict):
            raise ValueError("configuration must be a mapping")
        self.thresholds = parse_thresholds(config.get("thresholds"), "configuration.thresholds")
        self.disk_paths = parse_disk_paths(config.get("disk_paths"), "configuration.disk_paths")
        self.network_targets = parse_targets(
            config.get("network_targets"), "configuration.network_targets"
        )

    def create_tool(self, name: str) -> HealthCheckTool | SystemInfoTool:
        if name == "health_check":
            return HealthCheckTool(self.thresholds, self.disk_paths, self.network_targets)
        if name == "system_info":
            return SystemInfoTool()
        raise ValueError(f"unknown tool {name!r}; this plugin has {', '.join(TOOL_NAMES)}")

    def health(self) -> dict[str, Any]:
        """Cheap by design: a liveness probe must not sample CPU or open sockets."""
        return {
            "healthy": True,
            "psutil_version": psutil.__version__,
            "thresholds": dict(self.thresholds),
            "disk_paths": list(self.disk_paths),
            "network_targets": [target.text for target in self.network_targets],
        }
