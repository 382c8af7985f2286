"""What every contender echoes, and the check that its first answer really is an echo."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

import anyio

__all__ = ["ECHO_PARAMS", "FIRST_ANSWER_TIMEOUT_SECONDS", "BenchError", "check_first_echo"]

# Trivial on purpose: the bench measures the transport and dispatch, not the JSON codec.
ECHO_PARAMS: Final[dict[str, Any]] = {"text": "hello"}
# Start-up plus one call; a contender silent this long is hung, and the bench must go on.
FIRST_ANSWER_TIMEOUT_SECONDS: Final = 30.0


class BenchError(Exception):
    """A contender could not be started or answered wrongly."""

    def __init__(self, contender: str, reason: str) -> None:
        super().__init__(f"{contender}: {reason}")
        self.contender = contender
        self.reason = reason


async def check_first_echo(contender: str, call: Callable[[], Awaitable[object]]) -> None:
    # A contender that answers every call with an error would otherwise look very fast.
    try:
        with anyio.fail_after(FIRST_ANSWER_TIMEOUT_SECONDS):
            answer = await call()
    except TimeoutError as exc:
        raise BenchError(contender, f"no answer within {FIRST_ANSWER_TIMEOUT_SECONDS:g} s") from exc
    expected = {"echo": ECHO_PARAMS}
    if answer != expected:
        raise BenchError(contender, f"expected {expected!r}, got {answer!r}")
