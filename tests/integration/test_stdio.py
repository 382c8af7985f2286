"""Stray stdout cannot corrupt the wire; the worker's stderr lands in the plugin's logger."""

from __future__ import annotations

import logging
from functools import partial

import pytest

from tests.integration.support import assert_canary, supervisor, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

PLUGIN_LOGGER = "hydrogen.plugin.noisy"


def _logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(r.name == PLUGIN_LOGGER and text in r.getMessage() for r in caplog.records)


async def test_print_raw_fd1_and_child_stdout_do_not_reach_the_protocol() -> None:
    # The noisy plugin prints at import and in __init__, and its tool prints, writes a fake
    # frame header straight to fd 1 and runs a shell that writes to its inherited stdout.
    async with supervisor("noisy") as sup:
        for tag in ("first", "second", "third"):
            assert await sup.call("chatter", {"tag": tag}) == {"ok": True, "tag": tag}
        assert sup.status()["plugins"]["noisy"]["restarts"] == 0
        await assert_canary(sup)


async def test_worker_stderr_and_plugin_logging_reach_the_plugin_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=PLUGIN_LOGGER)
    async with supervisor("noisy") as sup:
        await sup.call("chatter", {"tag": "t-42"})

        # Log records travel on the protocol ahead of the response: present already.
        records = [r for r in caplog.records if "noisy-logging-marker t-42" in r.getMessage()]
        assert [r.name for r in records] == [PLUGIN_LOGGER]
        assert records[0].levelno == logging.WARNING
        assert getattr(records[0], "plugin", None) == "noisy"

        # Raw stderr (and the stdout junk redirected into it) is a separate pipe, drained
        # concurrently, so it is awaited.
        for text in (
            "noisy-stderr-marker",
            "noisy: junk printed by the tool",
            "noisy: junk from a child process",
            "noisy: junk printed at import",
        ):
            await wait_until(partial(_logged, caplog, text), f"{text!r} logged")
        await assert_canary(sup)
