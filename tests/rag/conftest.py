"""Fixtures of the rag tests: the plugin's modules importable as ``rag``, supervisors over the
bundled plugin with a data dir of the test's own, and a session-wide anyio backend so a module
can share one supervisor (one model load) between its tests."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import BUNDLED_PLUGINS

# The plugin's own package name is ``rag`` (its folder), which is also how mypy checks it.
if str(BUNDLED_PLUGINS) not in sys.path:
    sys.path.insert(0, str(BUNDLED_PLUGINS))


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"
