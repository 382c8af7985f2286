"""Hydrogen's embedded Supervisor with only the echo test plugin, as an embedding app uses it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

from bench_support.children import REPO_ROOT
from bench_support.contenders import ECHO_PARAMS, BenchError, check_first_echo
from bench_support.load import Call
from runtime import Supervisor

__all__ = ["ECHO_PLUGIN_DIR", "open_hydrogen"]

NAME = "hydrogen"
ECHO_PLUGIN_DIR: Final = REPO_ROOT / "tests" / "plugins" / "echo"
ECHO_TOOL: Final = "echo"


@asynccontextmanager
async def open_hydrogen() -> AsyncIterator[Call]:
    async with Supervisor(plugin_dirs=[ECHO_PLUGIN_DIR]) as supervisor:
        if supervisor.problems:
            raise BenchError(NAME, "; ".join(supervisor.problems))

        async def call() -> dict[str, Any]:
            return await supervisor.call(ECHO_TOOL, ECHO_PARAMS)

        await check_first_echo(NAME, call)
        yield call
