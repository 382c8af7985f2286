"""Helpers of the mongodb tests: the plugin's modules in-process, supervisors over the plugin."""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import anyio
from pymongo import MongoClient
from pymongo.database import Database

from runtime import Supervisor
from tests.conftest import BUNDLED_PLUGINS, PROFILES_DIR

__all__ = [
    "PLUGIN_DIR",
    "database_for",
    "plugin_module",
    "supervisor",
    "wait_until",
]

PLUGIN_DIR: Final = BUNDLED_PLUGINS / "mongodb"
# A private package name keeps this import apart from the worker's own.
PACKAGE: Final = "hydrogen_test_mongodb"
# Seconds: bounds for waits on the server (TTL expiry); a bound is a failure report, not a pace.
SERVER_WAIT: Final = 15.0
POLL_INTERVAL: Final = 0.1


def plugin_module(name: str = "") -> Any:
    """``plugin_module("tools.plans")``: a module of the plugin, imported in this process.

    Typed as Any: mypy checks the plugin as its own package, and this name is not that one.
    """
    if PACKAGE not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            PACKAGE, PLUGIN_DIR / "__init__.py", submodule_search_locations=[str(PLUGIN_DIR)]
        )
        assert spec is not None
        assert spec.loader is not None
        package: ModuleType = importlib.util.module_from_spec(spec)
        sys.modules[PACKAGE] = package
        spec.loader.exec_module(package)
    return importlib.import_module(f"{PACKAGE}.{name}" if name else PACKAGE)


def supervisor(uri: str, plugin_dir: Path = PLUGIN_DIR, **kwargs: Any) -> Supervisor:
    """A supervisor over the mongodb plugin, the real profiles, and ``MONGODB_URI=uri``."""
    environ = {**os.environ, "MONGODB_URI": uri}
    return Supervisor([plugin_dir], profiles_dir=PROFILES_DIR, environ=environ, **kwargs)


def database_for(client: MongoClient[dict[str, Any]], module: str) -> Database[dict[str, Any]]:
    """A database of its own per test module, emptied first."""
    name = "hydrogen_test_" + re.sub(r"\W", "_", module.rsplit(".", 1)[-1])
    client.drop_database(name)
    return client[name]


async def wait_until(predicate: Any, what: str, timeout: float = SERVER_WAIT) -> None:
    """Poll ``predicate`` (a state inside the server) until it holds; fail naming ``what``."""
    try:
        with anyio.fail_after(timeout):
            # Nothing to await: the state lives in the server.
            while not await anyio.to_thread.run_sync(predicate):  # noqa: ASYNC110
                await anyio.sleep(POLL_INTERVAL)
    except TimeoutError:
        raise AssertionError(f"not within {timeout:g}s: {what}") from None
