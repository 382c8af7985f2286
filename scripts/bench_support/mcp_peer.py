"""The peer: the MCP Python SDK's own stdio client session driving ``mcp_echo_server``."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client

from bench_support.children import SCRIPTS_DIR, module_command
from bench_support.contenders import (
    ECHO_PARAMS,
    FIRST_ANSWER_TIMEOUT_SECONDS,
    BenchError,
    check_first_echo,
)
from bench_support.load import Call

__all__ = ["open_mcp"]

NAME = "mcp"


@asynccontextmanager
async def open_mcp() -> AsyncIterator[Call]:
    command, *args = module_command("mcp_echo_server")
    server = StdioServerParameters(command=command, args=args, cwd=SCRIPTS_DIR)
    # stdio_client stops the server process itself when the block exits.
    async with (
        stdio_client(server, errlog=sys.stderr) as (read, write),
        ClientSession(read, write) as session,
    ):
        with anyio.fail_after(FIRST_ANSWER_TIMEOUT_SECONDS):
            await session.initialize()

        async def call() -> object:
            result = await session.call_tool("echo", ECHO_PARAMS)
            # The SDK reports tool failures as a result, not an exception; a failing server
            # must not pass for a fast one.
            if result.is_error:
                raise BenchError(NAME, f"echo failed: {result.content!r}")
            return result.structured_content

        await check_first_echo(NAME, call)
        yield call
