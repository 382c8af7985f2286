"""Hydrogen: a sandboxed subprocess plugin runtime. The public API is exactly ``__all__``."""

from runtime.errors import (
    CallError,
    ConfigError,
    DuplicateToolError,
    HydrogenError,
    InvalidParamsError,
    ManifestError,
    PermissionDeniedError,
    PluginBusyError,
    PluginCrashedError,
    PluginStartError,
    PluginUnavailableError,
    PolicyError,
    ProfileError,
    ProtocolError,
    ToolFailedError,
    ToolNotFoundError,
    ToolTimeoutError,
)
from runtime.host.supervisor import Supervisor, ToolInfo

__all__ = [
    "CallError",
    "ConfigError",
    "DuplicateToolError",
    "HydrogenError",
    "InvalidParamsError",
    "ManifestError",
    "PermissionDeniedError",
    "PluginBusyError",
    "PluginCrashedError",
    "PluginStartError",
    "PluginUnavailableError",
    "PolicyError",
    "ProfileError",
    "ProtocolError",
    "Supervisor",
    "ToolFailedError",
    "ToolInfo",
    "ToolNotFoundError",
    "ToolTimeoutError",
]
