"""Validate one plugin.yaml into a `Manifest`, reporting every problem: file, field, reason.

Validation is hand-written rather than delegated to a schema library because the errors are the
product: each one names the exact field (``tools[2].timeout``), says what is wrong, and, where it
helps, how to fix it. All problems in a file are reported at once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

import msgspec

from runtime.errors import ManifestError
from runtime.manifest.model import (
    DEFAULT_CLASS,
    DEFAULT_PROFILE,
    DEFAULT_TOOL_TIMEOUT,
    NO_CACHE,
    Concurrency,
    Manifest,
    Parameter,
    Permissions,
    ToolEntry,
)
from runtime.manifest.yamlfile import YamlProblem, read_yaml_mapping
from runtime.sandbox.endpoints import EndpointError, expand_entries
from runtime.sandbox.references import UnresolvedReference, has_unresolvable, substitute

__all__ = ["MANIFEST_FILENAME", "MAX_CACHE_TTL", "MAX_TOOL_TIMEOUT", "load_manifest"]

MANIFEST_FILENAME: Final = "plugin.yaml"
# A tool that needs more than an hour is a job, not a tool call.
MAX_TOOL_TIMEOUT: Final = 3600.0
# A day: an answer that may be older than that belongs in a data store, not a call cache.
MAX_CACHE_TTL: Final = 86400.0
MAX_IN_FLIGHT_LIMIT: Final = 4096
MAX_QUEUED_LIMIT: Final = 100_000

PLUGIN_NAME_RE: Final = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
TOOL_NAME_RE: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$")
IDENTIFIER_RE: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ENV_NAME_RE: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

TOP_LEVEL_KEYS: Final = frozenset(
    {
        "name",
        "version",
        "description",
        "class",
        "author",
        "category",
        "license",
        "homepage",
        "tags",
        "tools",
        "configuration",
        "requirements",
        "sandbox",
        "permissions",
        "concurrency",
    }
)
TOOL_KEYS: Final = frozenset(
    {
        "name",
        "description",
        "type",
        "timeout",
        "cache_ttl",
        "parameters",
        "tags",
        "examples",
        "returns",
        "category",
        "deprecated",
        "version",
    }
)
PARAMETER_KEYS: Final = frozenset(
    {"name", "type", "required", "default", "description", "enum", "items"}
)
PERMISSION_KEYS: Final = frozenset({"filesystem", "network", "subprocess", "unix_sockets", "env"})
FILESYSTEM_KEYS: Final = frozenset({"read", "write"})
CONCURRENCY_KEYS: Final = frozenset({"max_in_flight", "max_queued"})

# Parameter types as JSON Schema names; Python spellings are accepted for ported plugins.
PARAMETER_TYPES: Final = {
    "string": "string",
    "str": "string",
    "integer": "integer",
    "int": "integer",
    "number": "number",
    "float": "number",
    "boolean": "boolean",
    "bool": "boolean",
    "array": "array",
    "list": "array",
    "object": "object",
    "dict": "object",
}


class _Problems:
    """Collects problems for one file so all of them can be reported together."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.items: list[ManifestError] = []

    def add(self, field: str, reason: str, hint: str = "") -> None:
        self.items.append(ManifestError(self.path, field, reason, hint))

    def unknown_keys(self, where: str, data: dict[str, Any], allowed: frozenset[str]) -> None:
        for key in data:
            if key not in allowed:
                field = f"{where}.{key}" if where else str(key)
                self.add(field, "unknown key", f"allowed keys: {', '.join(sorted(allowed))}")

    def text(self, data: dict[str, Any], key: str, where: str, default: str | None) -> str:
        field = f"{where}.{key}" if where else key
        if key not in data:
            if default is None:
                self.add(field, "is required")
                return ""
            return default
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.add(field, f"must be a string, got {type(value).__name__}")
            return default or ""
        return str(value)

    def flag(self, data: dict[str, Any], key: str, where: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            self.add(f"{where}.{key}" if where else key, f"must be true or false, got {value!r}")
            return default
        return value

    def strings(self, value: Any, field: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.add(field, "must be a list of strings")
            return ()
        return tuple(value)

    def mapping(self, value: Any, field: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.add(field, f"must be a mapping, got {type(value).__name__}")
            return {}
        return value


def load_manifest(path: Path) -> tuple[Manifest | None, list[ManifestError]]:
    """Read and validate ``path``. Returns the manifest, or None and every problem found."""
    problems = _Problems(path)
    try:
        data = read_yaml_mapping(path)
    except YamlProblem as exc:
        problems.add("", str(exc))
        return None, problems.items

    problems.unknown_keys("", data, TOP_LEVEL_KEYS)
    name = problems.text(data, "name", "", None)
    if name and not PLUGIN_NAME_RE.match(name):
        problems.add(
            "name",
            f"{name!r} is not a valid plugin name",
            "use lowercase letters, digits, '_' or '-', starting with a letter",
        )
    version = problems.text(data, "version", "", None)
    description = problems.text(data, "description", "", "")
    author = problems.text(data, "author", "", "")
    category = problems.text(data, "category", "", "")
    class_name = problems.text(data, "class", "", DEFAULT_CLASS)
    if class_name and not IDENTIFIER_RE.match(class_name):
        problems.add("class", f"{class_name!r} is not a Python class name")
    sandbox = problems.text(data, "sandbox", "", DEFAULT_PROFILE)
    if sandbox and not PLUGIN_NAME_RE.match(sandbox):
        problems.add("sandbox", f"{sandbox!r} is not a valid profile name")
    for key in ("tags",):
        problems.strings(data.get(key), key)

    tools = _tools(data.get("tools"), problems)
    configuration = problems.mapping(data.get("configuration"), "configuration")
    enabled = problems.flag(configuration, "enabled", "configuration", True)
    auto_start = problems.flag(configuration, "auto_start", "configuration", True)
    requirements = problems.strings(data.get("requirements"), "requirements")
    permissions = _permissions(data.get("permissions"), problems)
    concurrency = _concurrency(data.get("concurrency"), problems)
    if not tools and not auto_start:
        problems.add(
            "configuration.auto_start",
            "is false but 'tools' lists no tools",
            "a lazily started plugin must list its tools so they can be routed before it runs",
        )

    if problems.items:
        return None, problems.items
    return (
        Manifest(
            path=path,
            name=name,
            version=version,
            description=description,
            class_name=class_name,
            author=author,
            category=category,
            sandbox=sandbox,
            tools=tools,
            enabled=enabled,
            auto_start=auto_start,
            raw=data,
            requirements=requirements,
            permissions=permissions,
            concurrency=concurrency,
        ),
        [],
    )


def _tools(value: Any, problems: _Problems) -> tuple[ToolEntry, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.add("tools", f"must be a list of tool entries, got {type(value).__name__}")
        return ()
    entries: list[ToolEntry] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        where = f"tools[{index}]"
        if isinstance(item, str):
            item = {"name": item}  # a bare name is shorthand for {name: ...}
        if not isinstance(item, dict):
            problems.add(where, f"must be a mapping with at least 'name', got {item!r}")
            continue
        problems.unknown_keys(where, item, TOOL_KEYS)
        name = problems.text(item, "name", where, None)
        if name and not TOOL_NAME_RE.match(name):
            problems.add(f"{where}.name", f"{name!r} is not a valid tool name")
        if name and name in seen:
            problems.add(f"{where}.name", f"tool {name!r} is listed twice")
        seen.add(name)
        timeout = item.get("timeout", DEFAULT_TOOL_TIMEOUT)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float):
            problems.add(f"{where}.timeout", f"must be a number of seconds, got {timeout!r}")
            timeout = DEFAULT_TOOL_TIMEOUT
        elif not 0 < timeout <= MAX_TOOL_TIMEOUT:
            problems.add(f"{where}.timeout", f"must be in (0, {MAX_TOOL_TIMEOUT:g}], got {timeout}")
        entries.append(
            ToolEntry(
                name=name,
                description=problems.text(item, "description", where, ""),
                type=problems.text(item, "type", where, "function"),
                timeout=float(timeout),
                parameters=_parameters(item.get("parameters"), f"{where}.parameters", problems),
                cache_ttl=_cache_ttl(item.get("cache_ttl", NO_CACHE), where, problems),
            )
        )
    return tuple(entries)


def _cache_ttl(value: Any, where: str, problems: _Problems) -> float:
    field = f"{where}.cache_ttl"
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.add(
            field,
            f"must be a number of seconds, got {value!r}",
            "0 (the default) means results are never cached",
        )
        return NO_CACHE
    if not 0 <= value <= MAX_CACHE_TTL:
        problems.add(
            field,
            f"must be in [0, {MAX_CACHE_TTL:g}] seconds, got {value}",
            "0 (the default) means results are never cached",
        )
        return NO_CACHE
    return float(value)


def _parameters(value: Any, where: str, problems: _Problems) -> tuple[Parameter, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.add(where, "must be a list of {name, type, required, default} entries")
        return ()
    params: list[Parameter] = []
    for index, item in enumerate(value):
        field = f"{where}[{index}]"
        if not isinstance(item, dict):
            problems.add(field, "must be a mapping with at least 'name'")
            continue
        problems.unknown_keys(field, item, PARAMETER_KEYS)
        name = problems.text(item, "name", field, None)
        raw_type = problems.text(item, "type", field, "string")
        json_type = PARAMETER_TYPES.get(raw_type)
        if json_type is None:
            problems.add(
                f"{field}.type",
                f"unknown type {raw_type!r}",
                f"use one of {', '.join(sorted(set(PARAMETER_TYPES.values())))}",
            )
            json_type = "string"
        enum = item.get("enum")
        if enum is not None and not isinstance(enum, list):
            problems.add(f"{field}.enum", "must be a list of allowed values")
            enum = None
        params.append(
            Parameter(
                name=name,
                type=json_type,
                required=problems.flag(item, "required", field, False),
                default=item.get("default", msgspec.UNSET),
                description=problems.text(item, "description", field, ""),
                enum=enum,
            )
        )
    return tuple(params)


def _permissions(value: Any, problems: _Problems) -> Permissions:
    data = problems.mapping(value, "permissions")
    problems.unknown_keys("permissions", data, PERMISSION_KEYS)
    fs = problems.mapping(data.get("filesystem"), "permissions.filesystem")
    problems.unknown_keys("permissions.filesystem", fs, FILESYSTEM_KEYS)
    env = problems.strings(data.get("env"), "permissions.env")
    for index, var in enumerate(env):
        if not ENV_NAME_RE.match(var):
            problems.add(
                f"permissions.env[{index}]", f"{var!r} is not an environment variable name"
            )
    network_value = data.get("network", "none")
    network: tuple[str, ...] | None = None
    if network_value in ("none", None, False):
        network = None
    elif isinstance(network_value, list):
        # Kept as written: ${VAR} references are resolved against the supervisor's environment
        # at admission (runtime.sandbox.grants.resolve_permissions). Checked here so a typo is
        # reported when the manifest is read, with or without the variables set.
        network = problems.strings(network_value, "permissions.network")
        for index, entry in enumerate(network):
            try:
                expand_entries(
                    (entry,), {}, may_reference=lambda name: name in env, placeholders=True
                )
            except EndpointError as exc:
                problems.add(f"permissions.network[{index}]", exc.reason)
    else:
        problems.add(
            "permissions.network", "must be 'none' or a list of 'host:port' strings or URLs"
        )
    return Permissions(
        fs_read=_absolute(fs.get("read"), "permissions.filesystem.read", problems, env),
        fs_write=_absolute(fs.get("write"), "permissions.filesystem.write", problems, env),
        network=network,
        subprocess=problems.flag(data, "subprocess", "permissions", False),
        unix_sockets=_absolute(data.get("unix_sockets"), "permissions.unix_sockets", problems, env),
        env=env,
    )


def _absolute(value: Any, field: str, problems: _Problems, env: tuple[str, ...]) -> tuple[str, ...]:
    """Absolute paths, kept as written; ``${VAR}`` references are resolved at admission."""
    paths = problems.strings(value, field)
    for index, path in enumerate(paths):
        try:
            if has_unresolvable(path, env.__contains__):
                continue
            path = substitute(path, {})
        except UnresolvedReference as exc:
            problems.add(f"{field}[{index}]", str(exc))
            continue
        if path and not path.startswith("/"):
            problems.add(
                f"{field}[{index}]",
                f"{path!r} is not an absolute path",
                "the plugin's own folder and a private work dir are granted already",
            )
    return paths


def _concurrency(value: Any, problems: _Problems) -> Concurrency:
    data = problems.mapping(value, "concurrency")
    problems.unknown_keys("concurrency", data, CONCURRENCY_KEYS)
    defaults = Concurrency()
    result: dict[str, int] = {}
    for key, low, high in (
        ("max_in_flight", 1, MAX_IN_FLIGHT_LIMIT),
        ("max_queued", 0, MAX_QUEUED_LIMIT),
    ):
        raw = data.get(key, getattr(defaults, key))
        if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
            problems.add(
                f"concurrency.{key}", f"must be an integer in [{low}, {high}], got {raw!r}"
            )
            raw = getattr(defaults, key)
        result[key] = raw
    return Concurrency(**result)
