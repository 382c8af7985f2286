"""Load a plugin folder inside the worker and adapt its tools to one calling convention.

The contract is the one plugins of the platform Hydrogen replaces already follow, so they port
unchanged: a folder with plugin.yaml and an ``__init__.py`` exposing the class named by ``class``;
the class is built with the whole manifest mapping; tools come from ``create_tool(name)`` for each
listed tool or from ``get_tools()``; hooks and ``execute`` may be sync or async.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import inspect
import re
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import anyio
import anyio.to_thread

from runtime.manifest.schema import schema_from_manifest

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = ["LoadError", "LoadedPlugin", "LoadedTool", "load_plugin"]

PACKAGE_PREFIX: Final = "hydrogen_plugin_"
START_HOOKS: Final = ("initialize", "startup")
STOP_HOOKS: Final = ("cleanup", "shutdown")
_UNSAFE_MODULE_CHARS: Final = re.compile(r"[^A-Za-z0-9_]")


class LoadError(Exception):
    """The plugin could not be loaded; the message says what to fix."""


class LoadedTool:
    __slots__ = ("description", "execute", "is_async", "name", "schema")

    def __init__(
        self, name: str, description: str, execute: Callable[..., Any], schema: dict[str, Any]
    ) -> None:
        self.name = name
        self.description = description
        self.execute = execute
        self.is_async = inspect.iscoroutinefunction(execute)
        self.schema = schema


class LoadedPlugin:
    def __init__(
        self, instance: Any, tools: dict[str, LoadedTool], limiter: anyio.CapacityLimiter
    ) -> None:
        self.instance = instance
        self.tools = tools
        self.limiter = limiter

    async def call_hook(self, names: tuple[str, ...]) -> Any:
        """Run the first hook of ``names`` the plugin defines; sync hooks run in a thread."""
        for name in names:
            hook = getattr(self.instance, name, None)
            if callable(hook):
                return await run_maybe_async(hook, limiter=self.limiter)
        return None

    def has_hook(self, name: str) -> bool:
        return callable(getattr(self.instance, name, None))


async def run_maybe_async(
    fn: Callable[..., Any], *args: Any, limiter: anyio.CapacityLimiter
) -> Any:
    if inspect.iscoroutinefunction(fn):
        return await fn(*args)
    result = await anyio.to_thread.run_sync(fn, *args, limiter=limiter)
    if inspect.isawaitable(result):
        result = await result
    return result


class _SourceOnlyLoader(importlib.machinery.SourceFileLoader):
    """Compiles plugin modules from their source, never from a shipped ``__pycache__``.

    The gate reviews the source; a forged ``.pyc`` with a matching header would otherwise run in
    its place. Nothing is written back either: the plugin folder is read-only in the sandbox.
    """

    def get_data(self, path: str) -> bytes:
        if path.endswith(tuple(importlib.machinery.BYTECODE_SUFFIXES)):
            raise OSError(f"bytecode of plugin code is never loaded: {path}")
        return super().get_data(path)

    def set_data(self, path: str, data: Buffer, *, _mode: int = 0o666) -> None:
        return None


def _source_only_under(root: Path) -> Callable[[str], Any]:
    """A path hook: inside the plugin folder only ``.py`` sources import (no bytecode, no .so)."""
    prefix = str(root)

    def hook(path: str) -> Any:
        if path != prefix and not path.startswith(prefix + "/"):
            raise ImportError("not a plugin path")
        return importlib.machinery.FileFinder(
            path, (_SourceOnlyLoader, importlib.machinery.SOURCE_SUFFIXES)
        )

    return hook


def _import_package(plugin: str, root: Path) -> Any:
    """Import ``root/__init__.py`` as a private package; its own modules resolve from ``root``."""
    init = root / "__init__.py"
    module_name = PACKAGE_PREFIX + _UNSAFE_MODULE_CHARS.sub("_", plugin)
    sys.path_hooks.insert(0, _source_only_under(root))
    sys.path_importer_cache.clear()
    spec = importlib.util.spec_from_file_location(
        module_name,
        init,
        loader=_SourceOnlyLoader(module_name, str(init)),
        submodule_search_locations=[str(root)],
    )
    if spec is None or spec.loader is None:
        raise LoadError(f"cannot import {init}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    # `from tools.x import y` inside the plugin must work, as it did on the old platform.
    sys.path.insert(0, str(root))
    spec.loader.exec_module(module)
    return module


def _instantiate(cls: Any, manifest: dict[str, Any]) -> Any:
    try:
        params = [
            p
            for p in inspect.signature(cls).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
        ]
    except (TypeError, ValueError):
        params = [None]  # type: ignore[list-item]
    return cls(manifest) if params else cls()


def normalize_schema(raw: Any, where: str) -> dict[str, Any]:
    """Accept a full object schema, or a bare ``properties`` mapping as ported plugins write it."""
    if not isinstance(raw, dict):
        raise LoadError(f"{where} must be a JSON Schema object, got {type(raw).__name__}")
    if "properties" in raw or raw.get("type") == "object":
        full = dict(raw)
        full.setdefault("type", "object")
        return full
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, spec in raw.items():
        if not isinstance(spec, dict):
            raise LoadError(f"{where}.{name} must be a JSON Schema, got {spec!r}")
        spec = dict(spec)
        if spec.pop("required", False) is True:
            required.append(name)
        properties[name] = spec
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _adapt_tool(name: str, tool: Any, entry: dict[str, Any]) -> LoadedTool:
    execute = getattr(tool, "execute", None)
    if not callable(execute):
        raise LoadError(f"tool {name!r} has no callable execute(params)")
    get_schema = getattr(tool, "get_schema", None)
    parameters = getattr(tool, "parameters", None)
    if callable(get_schema):
        schema = normalize_schema(get_schema(), f"tool {name!r} get_schema()")
    elif isinstance(parameters, dict):
        schema = normalize_schema(parameters, f"tool {name!r} parameters")
    else:
        schema = schema_from_manifest(entry)
    description = entry.get("description") or getattr(tool, "description", "") or ""
    return LoadedTool(name, str(description), execute, schema)


async def load_plugin(
    *,
    plugin: str,
    root: Path,
    class_name: str,
    manifest: dict[str, Any],
    tool_names: list[str],
    sync_threads: int,
) -> LoadedPlugin:
    """Import, construct and start the plugin; every failure is a ``LoadError`` saying why."""
    module = _import_package(plugin, root)
    cls = getattr(module, class_name, None)
    if cls is None:
        raise LoadError(
            f"{root / '__init__.py'} does not define {class_name!r} "
            f"(set 'class' in plugin.yaml to the plugin class's name)"
        )
    instance = _instantiate(cls, manifest)
    entries = {e["name"]: e for e in (manifest.get("tools") or []) if isinstance(e, dict)}
    entries.update({e: {"name": e} for e in (manifest.get("tools") or []) if isinstance(e, str)})
    tools: dict[str, LoadedTool] = {}
    limiter = anyio.CapacityLimiter(sync_threads)
    loaded = LoadedPlugin(instance, tools, limiter)
    # Hooks run before tools are created so create_tool() can rely on initialized state.
    if await loaded.call_hook(START_HOOKS) is False:
        raise LoadError("initialize()/startup() returned False")
    if tool_names and callable(getattr(instance, "create_tool", None)):
        for name in tool_names:
            tool = await _maybe_await(instance.create_tool(name))
            if tool is None:
                raise LoadError(
                    f"create_tool({name!r}) returned None; it must return a tool object"
                )
            tools[name] = _adapt_tool(name, tool, entries.get(name, {}))
    elif callable(getattr(instance, "get_tools", None)):
        for tool in await _maybe_await(instance.get_tools()):
            tool_name = getattr(tool, "name", None)
            if not isinstance(tool_name, str) or not tool_name:
                raise LoadError(f"get_tools() returned {tool!r} without a 'name'")
            tools[tool_name] = _adapt_tool(tool_name, tool, entries.get(tool_name, {}))
    else:
        raise LoadError(f"class {class_name!r} has neither create_tool(name) nor get_tools()")
    return loaded


async def _maybe_await(value: Any) -> Any:
    if isinstance(value, Awaitable):
        return await value
    return value
