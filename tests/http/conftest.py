"""HTTP front-end fixtures: one served set of test plugins per module that asks for it.

Test plugins run without the security gate and under the test profiles (set in the server's
environment by ``HttpServer``, as tests/mcp does), because the HTTP layer, not the gate, is
under test here. Property-based tests draw the same examples on every run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from tests.http.support import BUSY, ECHO, HTTPKIT, HttpServer

settings.register_profile("hydrogen-http", derandomize=True, database=None, deadline=None)
settings.load_profile("hydrogen-http")

# Small enough limits that tests can cross them; alerts evaluated often, none expected to fire.
SHARED_CONFIG: dict[str, Any] = {
    "max_body_bytes": 4096,
    "max_batch_calls": 8,
    "alerts": {"interval_seconds": 0.2},
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    """echo, httpkit and busy behind one server for the whole module, started once."""
    tmp: Path = tmp_path_factory.mktemp("served")
    with HttpServer(tmp, ECHO, HTTPKIT, BUSY, config=SHARED_CONFIG) as server:
        server.wait_settled()
        yield server
        assert server.stop() == 0
