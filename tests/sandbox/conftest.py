"""Fixtures for confinement tests: what the kernel supports, and processes and listeners that
live outside the confined child (its would-be targets)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import uuid
from collections.abc import Callable, Iterator
from typing import Final

import pytest

from runtime.sandbox.probe import LayerSupport, probe

# An unprivileged uid that owns nothing here (nobody).
OTHER_UID: Final = 65534
# Seconds a target process sleeps; it is killed at teardown long before.
TARGET_LIFETIME: Final = "300"
TARGET_EXIT_WAIT: Final = 10.0


@pytest.fixture(scope="session")
def layers() -> LayerSupport:
    return probe()


def _sleeper(user: int | None) -> Iterator[subprocess.Popen[bytes]]:
    sleep = shutil.which("sleep")
    assert sleep is not None
    proc = subprocess.Popen([sleep, TARGET_LIFETIME], user=user)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait(TARGET_EXIT_WAIT)


@pytest.fixture
def target() -> Iterator[subprocess.Popen[bytes]]:
    """A process of ours (root), outside any domain the child creates."""
    yield from _sleeper(None)


@pytest.fixture
def other_user_target() -> Iterator[subprocess.Popen[bytes]]:
    """A process of another user, which only capabilities would let uid 0 signal or trace."""
    yield from _sleeper(OTHER_UID)


@pytest.fixture
def tcp_listener() -> Iterator[Callable[[], int]]:
    """Open loopback TCP listeners in the test's own network namespace; returns their ports."""
    opened: list[socket.socket] = []

    def listen() -> int:
        server = socket.create_server(("127.0.0.1", 0))
        opened.append(server)
        port: int = server.getsockname()[1]
        return port

    yield listen
    for server in opened:
        server.close()


@pytest.fixture
def abstract_listener() -> Iterator[str]:
    """A listening abstract UNIX socket; the name starts with a NUL byte."""
    name = f"\0hydrogen-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(name)
        server.listen()
        yield name
