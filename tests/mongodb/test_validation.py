"""Validation before anything reaches a server: index options, inputs and the configuration.

Every refusal is an ``InvalidArgumentError`` whose ``field`` names the parameter and whose
message says how to fix it.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from tests.mongodb.support import PLUGIN_DIR, plugin_module

errors = plugin_module("tools.errors")
index_spec = plugin_module("tools.index_spec")
inputs = plugin_module("tools.inputs")
settings = plugin_module("tools.settings")
esr = plugin_module("tools.esr")


def refused(call: Any, *args: Any) -> Any:
    with pytest.raises(errors.InvalidArgumentError) as caught:
        call(*args)
    return caught.value


@pytest.fixture
def manifest() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((PLUGIN_DIR / "plugin.yaml").read_text())
    data["configuration"]["uri"] = "mongodb://127.0.0.1:27017"
    return data


def test_every_index_kind_and_option_becomes_the_server_spelling() -> None:
    request = index_spec.parse_index_request(
        {
            "keys": [["tenant", 1], ["title", "text"], ["body", "text"]],
            "name": "search",
            "weights": {"title": 10},
            "default_language": "french",
            "partial_filter": {"created": {"$gte": {"$date": "2024-01-01T00:00:00Z"}}},
        }
    )
    assert request.keys == (("tenant", 1), ("title", "text"), ("body", "text"))
    assert request.name == "search"
    assert request.kinds == ["compound", "text", "partial"]
    assert request.options["weights"] == {"title": 10}
    # Extended JSON in filters is decoded to BSON types.
    assert request.options["partialFilterExpression"]["created"]["$gte"].year == 2024
    ttl = index_spec.parse_index_request({"keys": {"seen": 1}, "expire_after_seconds": 60})
    assert (ttl.kinds, ttl.options) == (["single", "ttl"], {"expireAfterSeconds": 60})
    assert index_spec.parse_index_request({"keys": {"h": "hashed"}}).kinds == ["single", "hashed"]
    geo = index_spec.parse_index_request({"keys": {"loc": "2dsphere", "t": 1}, "sparse": True})
    assert geo.kinds == ["compound", "2dsphere", "sparse"]
    assert geo.name == "loc_2dsphere_t_1"


@pytest.mark.parametrize(
    ("params", "field", "fix"),
    [
        ({}, "keys", "pass e.g."),
        ({"keys": {}}, "keys", "name at least one field"),
        ({"keys": "status"}, "keys", ""),
        ({"keys": {"status": "up"}}, "keys.status", "use one of"),
        ({"keys": {"status": True}}, "keys.status", "use one of"),
        ({"keys": {"$bad": 1}}, "keys.$bad", "write a path"),
        ({"keys": [["a", 1], ["a", -1]]}, "keys.a", "list each field once"),
        ({"keys": [["a"]]}, "keys[0]", ""),
        ({"keys": {"a": "hashed", "b": "hashed"}}, "keys", "keep one hashed key"),
        ({"keys": {"a": "hashed"}, "unique": True}, "unique", "ascending (1) or descending"),
        ({"keys": {"a": "text"}, "unique": True}, "unique", ""),
        ({"keys": {"a": 1}, "unique": "yes"}, "unique", ""),
        ({"keys": {"a": 1, "b": 1}, "expire_after_seconds": 5}, "expire_after_seconds", "single"),
        ({"keys": {"a": "2dsphere"}, "expire_after_seconds": 5}, "expire_after_seconds", ""),
        ({"keys": {"_id": 1}, "expire_after_seconds": 5}, "expire_after_seconds", "date field"),
        ({"keys": {"a": 1}, "expire_after_seconds": -1}, "expire_after_seconds", ""),
        ({"keys": {"a": 1}, "expire_after_seconds": 1.5}, "expire_after_seconds", ""),
        ({"keys": {"a": 1}, "sparse": True, "partial_filter": {"a": 1}}, "sparse", ""),
        ({"keys": {"a": 1}, "partial_filter": {}}, "partial_filter", ""),
        ({"keys": {"a": 1}, "partial_filter": {"$where": "1"}}, "partial_filter.$where", ""),
        ({"keys": {"a": 1}, "partial_filter": {"d": {"$date": "x"}}}, "partial_filter", ""),
        ({"keys": {"a": 1}, "weights": {"a": 2}}, "weights", 'add a "text" key'),
        ({"keys": {"a": "text"}, "weights": {"b": 2}}, "weights.b", "weight one of a"),
        ({"keys": {"a": "text"}, "weights": {"a": 0}}, "weights.a", ""),
        ({"keys": {"a": 1}, "name": "*"}, "name", ""),
    ],
)
def test_bad_index_requests_name_their_field(params: dict[str, Any], field: str, fix: str) -> None:
    error = refused(index_spec.parse_index_request, params)
    assert error.field == field
    assert str(error).startswith(f"{field}: ")
    assert fix in str(error)


def test_an_existing_text_index_with_default_options_is_equivalent() -> None:
    request = index_spec.parse_index_request({"keys": {"body": "text", "title": "text"}})
    existing = esr.IndexInfo.from_server(
        {
            "key": {"_fts": "text", "_ftsx": 1},
            "name": "title_text_body_text",
            "weights": {"title": 1, "body": 1},
            "default_language": "english",
            "language_override": "language",
            "textIndexVersion": 3,
        }
    )
    assert request.equivalent_to(existing)
    heavier = index_spec.parse_index_request(
        {"keys": {"body": "text", "title": "text"}, "weights": {"title": 3}}
    )
    assert not heavier.equivalent_to(existing)


def test_unique_differs_from_plain_and_false_options_equal_absent_ones() -> None:
    plain = esr.IndexInfo.from_server({"key": {"a": 1}, "name": "a_1", "v": 2})
    assert index_spec.parse_index_request({"keys": {"a": 1}, "unique": False}).equivalent_to(plain)
    assert not index_spec.parse_index_request({"keys": {"a": 1}, "unique": True}).equivalent_to(
        plain
    )
    assert not index_spec.parse_index_request({"keys": {"a": -1}}).equivalent_to(plain)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"collection": "c"}, "database"),
        ({"database": "a.b", "collection": "c"}, "database"),
        ({"database": "x" * 64, "collection": "c"}, "database"),
        ({"database": "d"}, "collection"),
        ({"database": "d", "collection": "system.profile"}, "collection"),
        ({"database": "d", "collection": "a$b"}, "collection"),
    ],
)
def test_bad_namespaces_name_their_field(params: dict[str, Any], field: str) -> None:
    assert refused(inputs.parse_namespace, params, None).field == field


def test_the_uri_database_is_the_default_namespace() -> None:
    assert inputs.parse_namespace({"collection": "c"}, "shop") == ("shop", "c")


@pytest.mark.parametrize(
    ("queries", "field"),
    [
        ({"filter": {}}, "queries"),
        ([{"filter": []}], "queries[0].filter"),
        ([{"filter": {}, "sort": {"a": 2}}], "queries[0].sort.a"),
        ([{"filter": {}, "sort": {"$natural": 1}}], "queries[0].sort.$natural"),
        ([{"filter": {}, "limit": -1}], "queries[0].limit"),
        ([{"filter": {}, "hint": "a_1"}], "queries[0].hint"),
        ([{"filter": {"$where": "sleep(1)"}}], "queries[0].filter.$where"),
        ([{}] * 51, "queries"),
    ],
)
def test_bad_queries_name_their_field(queries: Any, field: str) -> None:
    assert refused(inputs.parse_queries, queries, "queries").field == field


def test_configuration_defaults_and_budgets(manifest: dict[str, Any]) -> None:
    parsed = settings.parse_settings(manifest)
    assert parsed.shown_uri == "mongodb://127.0.0.1:27017"
    assert parsed.client_kwargs["maxPoolSize"] == 10
    assert parsed.client_kwargs["serverSelectionTimeoutMS"] == 5000
    timeouts = {t["name"]: t["timeout"] for t in manifest["tools"]}
    assert parsed.budgets == {name: timeout - 2 for name, timeout in timeouts.items()}


def test_uri_options_win_over_the_configuration(manifest: dict[str, Any]) -> None:
    manifest["configuration"]["uri"] = (
        "mongodb://app:s3cret@db1:27017,db2:27018/shop?serverSelectionTimeoutMS=700&maxPoolSize=3"
    )
    parsed = settings.parse_settings(manifest)
    assert parsed.shown_uri == "mongodb://db1:27017,db2:27018"
    assert parsed.default_database == "shop"
    assert parsed.server_selection_timeout_ms == 700
    # Left to the URI, which pymongo reads itself.
    assert "serverSelectionTimeoutMS" not in parsed.client_kwargs
    assert "maxPoolSize" not in parsed.client_kwargs


@pytest.mark.parametrize(
    ("change", "field", "fix"),
    [
        (
            {"server_selection_timeout_ms": 60_000},
            "configuration.server_selection_timeout_ms",
            "lower it",
        ),
        ({"connect_timeout_ms": "58000"}, "configuration.connect_timeout_ms", "lower it"),
        ({"max_pool_size": 0}, "configuration.max_pool_size", ""),
        ({"max_pool_size": "many"}, "configuration.max_pool_size", ""),
        ({"min_pool_size": 20}, "configuration.min_pool_size", "raise max_pool_size"),
        ({"call_margin_seconds": 60}, "configuration.call_margin_seconds", "lower the margin"),
        ({"pool": 3}, "configuration.pool", "use app_name"),
        (
            {"uri": "mongodb+srv://u:pw@cluster0.example.net"},
            "configuration.uri",
            "list every host",
        ),
        ({"uri": "http://u:pw@h:1"}, "configuration.uri", "write mongodb://"),
        (
            {"uri": "mongodb://u:pw@h:1/?serverSelectionTimeoutMS=59000"},
            "configuration.uri (serverselectiontimeoutms)",
            "",
        ),
    ],
)
def test_bad_configuration_names_the_setting_and_never_the_password(
    manifest: dict[str, Any], change: dict[str, Any], field: str, fix: str
) -> None:
    broken = copy.deepcopy(manifest)
    broken["configuration"].update(change)
    error = refused(settings.parse_settings, broken)
    assert error.field == field
    assert fix in str(error)
    assert "pw" not in str(error)


def test_redacted_uris_keep_hosts_only() -> None:
    assert settings.redact_uri("mongodb://u:p@a:1,b/db?authSource=admin") == "mongodb://a:1,b"
    assert settings.redact_uri("not a uri") == "<not a mongodb:// URI>"


def test_pymongo_errors_are_translated_in_one_place_without_credentials(
    manifest: dict[str, Any],
) -> None:
    from pymongo.errors import (
        AutoReconnect,
        ExecutionTimeout,
        OperationFailure,
        ServerSelectionTimeoutError,
    )

    client = plugin_module("tools.client")
    manifest["configuration"]["uri"] = "mongodb://app:s3cret@db1:27017/shop"
    parsed = settings.parse_settings(manifest)

    def translate(exc: Exception) -> Any:
        return client.translate(exc, parsed, 18.0, "collecting statistics of shop.c", 512.4)

    unreachable = translate(
        ServerSelectionTimeoutError("db1:27017: [Errno 111] Connection refused, Timeout: 0.5s")
    )
    assert type(unreachable).__name__ == "ServerUnreachableError"
    assert str(unreachable).startswith(
        "cannot reach MongoDB at mongodb://db1:27017: no usable server answered within 512 ms "
        "(db1:27017: [Errno 111] Connection refused)"
    )
    slow = translate(ExecutionTimeout("operation exceeded time limit", 50, {"errmsg": "x"}))
    assert type(slow).__name__ == "OperationTimeoutError"
    assert "did not finish within the call's budget of 18 s" in str(slow)
    lost = translate(AutoReconnect("connection closed"))
    assert str(lost).startswith("lost the connection to MongoDB at mongodb://db1:27017")
    denied = translate(
        OperationFailure(
            "auth failed",
            18,
            {"errmsg": "Authentication failed.", "codeName": "AuthenticationFailed"},
        )
    )
    assert (denied.code, denied.code_name) == (18, "AuthenticationFailed")
    assert "check the user, password and roles" in str(denied)
    assert all("s3cret" not in str(e) for e in (unreachable, slow, lost, denied))
