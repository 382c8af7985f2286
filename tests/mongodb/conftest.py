"""One MongoDB server per session: the wheel's mongod on a free loopback port, or $MONGODB_URI.

The server is started before any test's process snapshot (session scope is set up first), so
tests/conftest.py's leak check sees it as pre-existing and never flags it; it is stopped by its
pid when the session ends, and ``test_no_mongod_outlives_its_context`` proves that path.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import MongoClient

from runtime.devservices import mongodb_server


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Session-wide, so a module can share one supervisor between its tests."""
    return "asyncio"


@pytest.fixture(scope="session")
def mongodb_uri() -> Iterator[str]:
    with mongodb_server() as uri:
        yield uri


@pytest.fixture(scope="session")
def mongo(mongodb_uri: str) -> Iterator[MongoClient[dict[str, Any]]]:
    """A direct client of the test process: to set data up and to check what the tools say."""
    client: MongoClient[dict[str, Any]] = MongoClient(
        mongodb_uri, serverSelectionTimeoutMS=5000, tz_aware=True
    )
    try:
        yield client
    finally:
        client.close()
