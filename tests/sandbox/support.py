"""Run confinement in a forked child, never in the test process, and bring back what happened.

A test hands ``in_child`` a function that confines the child and then tries things; each try
goes through ``attempt``, which turns the outcome into ``"ok"`` or the errno's name (``"EACCES"``),
so a test asserts the kernel's exact answer.
"""

from __future__ import annotations

import errno
import json
import os
import select
import signal
from collections.abc import Callable
from typing import Any, Final

import pytest

__all__ = ["CHILD_TIMEOUT", "attempt", "in_child"]

# Seconds for a confined child to answer; it does a handful of system calls.
CHILD_TIMEOUT: Final = 20.0
ERROR_KEY: Final = "__error__"


def attempt(action: Callable[[], object]) -> str:
    """``"ok"``, the errno name of the OSError the action raised, or the exception's type name."""
    try:
        action()
    except OSError as exc:
        if exc.errno is None:
            return type(exc).__name__
        return errno.errorcode.get(exc.errno, str(exc.errno))
    except Exception as exc:
        return type(exc).__name__
    return "ok"


def in_child(body: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Fork, run ``body`` in the child (which then exits), return its JSON-able result."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child must never return into pytest
        try:
            os.close(read_fd)
            try:
                result = body()
            except BaseException as exc:
                result = {ERROR_KEY: f"{type(exc).__name__}: {exc}"}
            with os.fdopen(write_fd, "w") as out:
                json.dump(result, out)
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd) as source:
        ready, _, _ = select.select([source], [], [], CHILD_TIMEOUT)
        data = source.read() if ready else ""
    if not ready:
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    if not data:
        pytest.fail(f"the confined child gave no answer within {CHILD_TIMEOUT}s")
    answer: dict[str, Any] = json.loads(data)
    if ERROR_KEY in answer:
        pytest.fail(f"the confined child raised {answer[ERROR_KEY]}")
    return answer
