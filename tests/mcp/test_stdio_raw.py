"""The server's wire behaviour with plain JSON lines: error codes, negotiation, shutdown."""

from __future__ import annotations

import psutil
import pytest

from tests.mcp.support import BUNDLED_PLUGINS, EXCHANGE_TIMEOUT, MCP_PLUGINS, RawServer

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("offered", "negotiated"),
    [
        ("2025-11-25", "2025-11-25"),
        ("2025-06-18", "2025-06-18"),
        ("2025-03-26", "2025-03-26"),
        ("2099-01-01", "2025-11-25"),
    ],
)
def test_initialize_negotiates_a_supported_version(offered: str, negotiated: str) -> None:
    server = RawServer(MCP_PLUGINS)
    reply = server.initialize(offered)
    assert reply["id"] == 0
    assert reply["result"]["protocolVersion"] == negotiated
    assert server.close() == 0


def test_junk_and_malformed_requests_get_json_rpc_errors_and_the_server_keeps_serving() -> None:
    server = RawServer(MCP_PLUGINS)
    server.initialize()
    server.write_line(b"this is not json")
    assert_error(server.read(), None, -32700)
    server.write_line(b"[1, 2]")
    assert_error(server.read(), None, -32600)
    server.send({"id": 7})
    assert_error(server.read(), 7, -32600)
    server.request(8, "no/such/method")
    assert_error(server.read(), 8, -32601)
    server.request(9, "tools/call", {"arguments": {}})
    assert_error(server.read(), 9, -32602)
    server.request(10, "tools/call", {"name": "progress", "arguments": [1]})
    assert_error(server.read(), 10, -32602)
    server.request(11, "logging/setLevel", {"level": "loud"})
    assert_error(server.read(), 11, -32602)
    server.request(12, "ping")
    assert server.read() == {"jsonrpc": "2.0", "id": 12, "result": {}}
    assert server.close() == 0


def assert_error(reply: dict[str, object], request_id: object, code: int) -> None:
    assert reply["id"] == request_id, reply
    error = reply["error"]
    assert isinstance(error, dict)
    assert error["code"] == code, reply
    assert error["message"]


def test_tools_list_pages_and_rejects_a_bad_cursor() -> None:
    server = RawServer(MCP_PLUGINS)
    server.initialize()
    server.request(1, "tools/list")
    page = server.read()["result"]
    assert {t["name"] for t in page["tools"]} == {"slow", "progress", "chatty", "fail", "crash"}
    assert "nextCursor" not in page
    server.request(2, "tools/list", {"cursor": "bogus"})
    assert_error(server.read(), 2, -32602)
    assert server.close() == 0


def test_stdin_eof_exits_zero_and_stops_every_worker() -> None:
    server = RawServer(BUNDLED_PLUGINS)
    server.initialize()
    server.request(1, "tools/call", {"name": "system_info", "arguments": {}})
    assert server.read()["result"]["isError"] is False
    workers = psutil.Process(server.proc.pid).children(recursive=True)
    assert workers, "the bundled plugin's worker should be running"
    assert server.close() == 0
    _gone, alive = psutil.wait_procs(workers, timeout=EXCHANGE_TIMEOUT)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]


def test_an_oversized_message_is_refused_without_being_buffered_and_the_server_goes_on() -> None:
    from runtime.mcp.protocol import MAX_LINE_BYTES

    server = RawServer(MCP_PLUGINS)
    server.initialize()
    server.write_line(
        b'{"jsonrpc": "2.0", "id": 5, "method": "ping", "pad": "' + b"x" * MAX_LINE_BYTES
    )
    reply = server.read()
    assert reply["id"] is None
    assert reply["error"]["code"] == -32600
    assert "dropped" in reply["error"]["message"]
    server.request(6, "ping")
    assert server.read() == {"jsonrpc": "2.0", "id": 6, "result": {}}
    assert server.close() == 0
