"""Remote mode through the confined worker, as far as it goes without a Qdrant server here.

``QDRANT_URL`` switches the plugin to qdrant-client and grants the worker that one endpoint: the
client is imported and dials the configured port inside the sandbox, and the refusal it gets is
the server's absence (ECONNREFUSED), not the sandbox's (EACCES). The adapter itself is tested
against qdrant-client's local mode in test_store_contract.py.
"""

from __future__ import annotations

import socket

import pytest

from runtime import ToolFailedError
from tests.rag.support import rag_environ, supervisor

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_a_configured_server_is_dialled_through_the_sandbox() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    async with supervisor(rag_environ(None, QDRANT_URL=url)) as sup:
        layers = sup.status()["plugins"]["rag"]["layers"]
        assert layers["netns"] == "not used (network granted)"
        with pytest.raises(ToolFailedError) as caught:
            await sup.call("rag_collection_stats", {})
    error = caught.value
    assert error.error_type == "StoreError"
    assert url in error.remote_message
    assert "Connection refused" in error.remote_message
    assert "permission denied" not in error.remote_message.lower()
