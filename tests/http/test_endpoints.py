"""Every endpoint's shape and every error, against one real server driven by httpx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.http.support import HttpServer, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def client(served: HttpServer) -> httpx.Client:
    with served.client() as client:
        return client


def execute(served: HttpServer, body: Any) -> httpx.Response:
    with served.client() as client:
        return client.post("/execute", json=body)


# ---- GET /tools, GET /health -----------------------------------------------------------------


def test_tools_lists_every_tool_in_the_platform_shape(served: HttpServer) -> None:
    with served.client() as client:
        reply = client.get("/tools")

    assert reply.status_code == 200
    body = reply.json()
    names = {tool["name"] for tool in body["tools"]}
    assert {"echo", "echo_sync", "tick", "tick_brief", "nap", "boom", "crash"} <= names
    assert body["total"] == len(body["tools"])
    echo = next(tool for tool in body["tools"] if tool["name"] == "echo")
    assert echo == {
        "name": "echo",
        "type": "plugin",
        "plugin": "echo",
        "available": True,
        "description": "Return the params unchanged",
        "schema": {"type": "object", "properties": {"text": {"type": "string"}}},
        "timeout": 10.0,
        "cache_ttl": 0.0,
    }
    tick = next(tool for tool in body["tools"] if tool["name"] == "tick")
    assert tick["cache_ttl"] == 3600.0


def test_health_is_healthy_with_each_plugin_state_and_tool_count(served: HttpServer) -> None:
    with served.client() as client:
        reply = client.get("/health")

    assert reply.status_code == 200
    body = reply.json()
    assert body["status"] == "healthy"
    assert body["plugins"]["echo"]["state"] == "active"
    assert body["plugins"]["echo"]["tools"] == 2
    assert body["plugins"]["httpkit"]["tools"] == 6
    assert body["plugins"]["httpkit"]["available"] is True
    assert body["tools"] == {"total": 9, "available": 9}
    assert body["alerts"] == []
    assert body["uptime_s"] > 0


# ---- POST /execute ---------------------------------------------------------------------------


def test_execute_answers_success_tool_and_result(served: HttpServer) -> None:
    reply = execute(served, {"tool": "echo", "params": {"text": "hi"}})

    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/json"
    body = reply.json()
    assert body["success"] is True
    assert body["tool"] == "echo"
    assert body["result"] == {"echo": {"text": "hi"}}
    assert body["cached"] is False
    assert "Cache-Status" not in reply.headers


def test_params_may_be_left_out_or_null_and_unknown_keys_are_ignored(served: HttpServer) -> None:
    for body in ({"tool": "echo"}, {"tool": "echo", "params": None}, {"tool": "echo", "x": 1}):
        reply = execute(served, body)
        assert reply.status_code == 200, reply.text
        assert reply.json()["result"] == {"echo": {}}


def test_a_tool_that_raises_is_success_false_with_its_error(served: HttpServer) -> None:
    reply = execute(served, {"tool": "boom", "params": {"message": "disk on fire"}})

    assert reply.status_code == 200
    body = reply.json()
    assert (body["success"], body["tool"], body["code"]) == (False, "boom", "tool_failed")
    assert "ValueError: disk on fire" in body["error"]
    assert "result" not in body


def test_unknown_tool_is_404_naming_the_available_tools(served: HttpServer) -> None:
    reply = execute(served, {"tool": "no_such_tool", "params": {}})

    assert reply.status_code == 404
    body = reply.json()
    assert (body["success"], body["tool"], body["code"]) == (
        False,
        "no_such_tool",
        "tool_not_found",
    )
    assert "no_such_tool" in body["error"]
    assert "echo" in body["error"]
    assert {"echo", "tick"} <= set(body["available_tools"])


@pytest.mark.parametrize(
    ("content", "field", "says"),
    [
        (b"{bad json", None, "not valid JSON"),
        (b"", None, "empty"),
        (b"[1, 2]", None, "Expected `object`"),
        (b'{"params": {}}', "tool", "tool: is required"),
        (b'{"tool": 7}', "tool", "Expected `str`"),
        (b'{"tool": ""}', "tool", "length"),
        (b'{"tool": "echo", "params": [1]}', "params", "Expected `object | null`"),
        (b'{"tool": "echo", "timeout": 0}', "timeout", "> 0"),
        (b'{"tool": "echo", "params": {"a": ' + b"[" * 2000 + b"]" * 2000 + b"}}", None, "deeply"),
    ],
    ids=[
        "malformed",
        "empty",
        "array",
        "no-tool",
        "tool-int",
        "tool-empty",
        "params",
        "timeout",
        "deep",
    ],
)
def test_a_bad_request_is_400_naming_the_field_and_the_fix(
    served: HttpServer, content: bytes, field: str | None, says: str
) -> None:
    with served.client() as client:
        reply = client.post("/execute", content=content)

    assert reply.status_code == 400, reply.text
    body = reply.json()
    assert (body["success"], body["code"]) == (False, "bad_request")
    assert says in body["error"]
    assert '{"tool": "NAME", "params": {...}}' in body["error"]
    assert body.get("field") == field


def test_a_bad_request_names_the_tool_it_meant(served: HttpServer) -> None:
    reply = execute(served, {"tool": "echo", "params": "text"})

    assert reply.status_code == 400
    assert reply.json()["tool"] == "echo"


def test_params_the_tool_schema_refuses_are_400_naming_the_field(served: HttpServer) -> None:
    reply = execute(served, {"tool": "echo_sync", "params": {"text": 5}})

    assert reply.status_code == 400
    body = reply.json()
    assert (body["code"], body["field"], body["plugin"]) == (
        "invalid_params",
        "params.text",
        "echo",
    )
    assert "is not of type 'string'" in body["error"]


def test_timeout_is_504_naming_the_tool_and_the_deadline(served: HttpServer) -> None:
    reply = execute(served, {"tool": "nap", "params": {"seconds": 30}, "timeout": 0.2})

    assert reply.status_code == 504
    body = reply.json()
    assert (body["success"], body["code"], body["plugin"]) == (False, "timeout", "httpkit")
    assert "'nap'" in body["error"]
    assert "0.2s" in body["error"]


def test_body_over_the_limit_is_413_before_it_is_read(served: HttpServer) -> None:
    padding = "x" * 5000
    with served.client() as client:
        declared = client.post("/execute", json={"tool": "echo", "params": {"text": padding}})
        chunked = client.post(
            "/execute",
            content=iter([b'{"tool": "echo", "params": {"text": "', padding.encode(), b'"}}']),
        )

    for reply in (declared, chunked):
        assert reply.status_code == 413
        body = reply.json()
        assert body["code"] == "body_too_large"
        assert "4096" in body["detail"]
        assert "max_body_bytes" in body["detail"]


# ---- result cache ----------------------------------------------------------------------------


def test_identical_calls_within_the_ttl_are_answered_from_the_cache(served: HttpServer) -> None:
    first = execute(served, {"tool": "tick", "params": {"k": "cache", "v": [1, 2]}})
    again = execute(served, {"tool": "tick", "params": {"v": [1, 2], "k": "cache"}})
    other = execute(served, {"tool": "tick", "params": {"k": "other"}})

    assert first.json()["cached"] is False
    assert first.headers["Cache-Status"] == "hydrogen; fwd=miss"
    assert again.json()["cached"] is True
    assert again.headers["Cache-Status"] == "hydrogen; hit"
    assert again.json()["result"] == first.json()["result"]
    assert other.json()["cached"] is False
    assert other.json()["result"]["n"] > first.json()["result"]["n"]


def test_a_cached_answer_expires_after_its_ttl(served: HttpServer) -> None:
    first = execute(served, {"tool": "tick_brief", "params": {"k": "expiry"}})
    seen = first.json()["result"]["n"]

    def fresh_again() -> bool:
        reply = execute(served, {"tool": "tick_brief", "params": {"k": "expiry"}}).json()
        return reply["cached"] is False and reply["result"]["n"] > seen

    wait_until(fresh_again, "tick_brief answered by the worker again after its 0.2s TTL")


def test_failures_are_never_cached(served: HttpServer) -> None:
    replies = [execute(served, {"tool": "boom", "params": {"message": "again"}}) for _ in range(2)]

    assert [r.json()["code"] for r in replies] == ["tool_failed", "tool_failed"]
    assert all("cached" not in r.json() for r in replies)


# ---- POST /execute/batch ---------------------------------------------------------------------


def test_batch_runs_calls_concurrently_each_with_its_own_result(served: HttpServer) -> None:
    # Each rendezvous call returns only once three of them wait at the same time: a batch
    # run one call after another would time them out.
    calls: list[dict[str, Any]] = [
        {"tool": "rendezvous", "params": {"parties": 3}} for _ in range(3)
    ]
    calls += [
        {"tool": "echo", "params": {"text": "x"}},
        {"tool": "no_such_tool"},
        {"tool": "echo_sync", "params": {}},
        {"tool": "boom"},
    ]
    with served.client() as client:
        reply = client.post("/execute/batch", json={"calls": calls})

    assert reply.status_code == 200
    body = reply.json()
    assert (body["total"], body["succeeded"], body["failed"]) == (7, 4, 3)
    results = body["results"]
    assert [r["status"] for r in results] == [200, 200, 200, 200, 404, 400, 200]
    assert [r["success"] for r in results] == [True, True, True, True, False, False, False]
    assert [r["result"] for r in results[:3]] == [{"met": 3}] * 3
    assert results[3]["result"] == {"echo": {"text": "x"}}
    assert results[4]["code"] == "tool_not_found"
    assert results[5]["field"] == "params"
    assert results[6]["code"] == "tool_failed"


def test_a_plugin_with_a_full_queue_answers_busy_503(served: HttpServer) -> None:
    # busy runs one call and queues one: started in this order, the third finds both taken.
    calls = [{"tool": "hold", "params": {}, "timeout": 0.5}] * 3
    with served.client() as client:
        reply = client.post("/execute/batch", json={"calls": calls})

    results = reply.json()["results"]
    assert [r["status"] for r in results] == [504, 504, 503]
    assert [r["code"] for r in results] == ["timeout", "timeout", "busy"]
    assert "retry tool 'hold' later" in results[2]["error"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"calls": [{"tool": "echo"}] * 9}, "calls: Expected `array` of length <= 8"),
        ({"calls": [{"tool": "echo"}, {"params": {}}]}, "calls[1].tool: is required"),
        ([{"tool": "echo"}], "Expected `object`, got `array`"),
    ],
    ids=["too-many", "no-tool", "bare-list"],
)
def test_a_bad_batch_is_400_naming_the_field(served: HttpServer, body: Any, says: str) -> None:
    with served.client() as client:
        reply = client.post("/execute/batch", json=body)

    assert reply.status_code == 400
    assert reply.json()["code"] == "bad_request"
    assert says in reply.json()["detail"]


# ---- GET /metrics ----------------------------------------------------------------------------


def scrape(served: HttpServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with served.client() as client:
        reply = client.get("/metrics")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(reply.text)
        for sample in family.samples
    }


def metric(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_calls_errors_latency_and_cache_use(served: HttpServer) -> None:
    before = scrape(served)
    for _ in range(3):
        execute(served, {"tool": "echo", "params": {"n": 1}})
    execute(served, {"tool": "echo_sync", "params": {}})
    execute(served, {"tool": "boom", "params": {}})
    execute(served, {"tool": "no_such_tool"})
    execute(served, {"tool": "tick", "params": {"k": "metrics"}})
    execute(served, {"tool": "tick", "params": {"k": "metrics"}})
    after = scrape(served)

    def grew(name: str, **labels: str) -> float:
        return metric(after, name, **labels) - metric(before, name, **labels)

    assert grew("hydrogen_tool_calls_total", plugin="echo", tool="echo") == 3
    assert (
        grew("hydrogen_tool_errors_total", plugin="echo", tool="echo_sync", kind="invalid_params")
        == 1
    )
    assert grew("hydrogen_tool_call_duration_seconds_count", plugin="echo", tool="echo") == 3
    assert (
        grew("hydrogen_tool_call_duration_seconds_bucket", plugin="echo", tool="echo", le="+Inf")
        == 3
    )
    assert grew("hydrogen_tool_call_duration_seconds_count", plugin="httpkit", tool="boom") == 1
    assert (
        grew("hydrogen_tool_errors_total", plugin="httpkit", tool="boom", kind="tool_failed") == 1
    )
    assert grew("hydrogen_http_requests_total", route="/execute", method="POST", status="404") == 1
    assert grew("hydrogen_result_cache_hits_total", tool="tick") == 1
    assert grew("hydrogen_result_cache_misses_total", tool="tick") == 1
    assert grew("hydrogen_http_requests_total", route="/execute", method="POST", status="400") == 1
    assert (
        metric(after, "hydrogen_tool_latency_seconds", plugin="echo", tool="echo", quantile="0.99")
        > 0
    )
    assert metric(after, "hydrogen_plugin_state", plugin="echo", state="active") == 1
    assert metric(after, "hydrogen_plugin_state", plugin="echo", state="error") == 0
    assert metric(after, "hydrogen_plugin_restarts_total", plugin="httpkit") == 0
    assert metric(after, "hydrogen_plugin_load_seconds", plugin="httpkit") > 0
    assert metric(after, "hydrogen_worker_rss_bytes", plugin="echo") > 0
    assert metric(after, "hydrogen_worker_memory_limit_bytes", plugin="echo") == 512 * 1024 * 1024
    assert ("hydrogen_worker_cpu_seconds_total", (("mode", "user"), ("plugin", "echo"))) in after
    assert metric(after, "hydrogen_result_cache_entries") >= 1


# ---- GET /openapi.json -----------------------------------------------------------------------


def test_openapi_document_describes_every_endpoint_and_answer(served: HttpServer) -> None:
    with served.client() as client:
        document = client.get("/openapi.json").json()

    paths = document["paths"]
    assert set(paths) == {"/tools", "/execute", "/execute/batch", "/health", "/metrics"}
    execute_answers = paths["/execute"]["post"]["responses"]
    assert set(execute_answers) == {"200", "400", "403", "404", "413", "500", "502", "503", "504"}
    assert execute_answers["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ExecuteResponse"
    }
    batch_body = document["components"]["schemas"]["BatchRequest"]["properties"]["calls"]
    assert batch_body["maxItems"] == 8
    assert "securitySchemes" not in document["components"]
