"""Network entries (host:port, URLs, ${VAR}) to the host:port targets the sandbox enforces."""

from __future__ import annotations

import pytest

from runtime.sandbox.endpoints import EndpointError, expand_entries


@pytest.mark.parametrize(
    ("entry", "targets"),
    [
        ("db.internal:27017", ("db.internal:27017",)),
        ("*:443", ("*:443",)),
        ("https://api.example.com/v1/chat", ("api.example.com:443",)),
        ("http://qdrant:6333", ("qdrant:6333",)),
        ("mongodb://user:p%40ss@h1:27017,h2:27018/db?replicaSet=rs", ("h1:27017", "h2:27018")),
        ("mongodb://127.0.0.1", ("127.0.0.1:27017",)),
        ("postgresql://[::1]:5433/app", ("[::1]:5433",)),
        ("", None),
    ],
)
def test_entries_expand_to_host_port_targets(entry: str, targets: tuple[str, ...] | None) -> None:
    assert expand_entries((entry,), {}) == targets


def test_variables_resolve_with_defaults_and_empty_results_are_dropped() -> None:
    entries = ("${DB_URL:-mongodb://localhost}", "${QDRANT_URL:-}", "${API}:443")
    assert expand_entries(entries, {"API": "api.example.com"}) == (
        "localhost:27017",
        "api.example.com:443",
    )
    assert expand_entries(("${QDRANT_URL:-}",), {}) is None
    assert expand_entries(("${A:-x:1}", "x:1"), {}) == ("x:1",)


@pytest.mark.parametrize(
    ("entry", "environ", "says"),
    [
        ("${DB_URL}", {}, "${DB_URL} is not set"),
        ("${SECRET:-x:1}", {}, "${SECRET}, which is not declared; add SECRET to permissions.env"),
        ("mongodb+srv://cluster.example.net/db", {}, "find their hosts by DNS"),
        ("ftp://files.example.com", {}, "has no port"),
        ("localhost", {}, "is not host:port or a URL"),
        ("h:70000", {}, "outside 1-65535"),
        ("https://", {}, "names no host"),
        ("http://a b:80", {}, "is not a host or host:port"),
    ],
)
def test_bad_entries_say_what_to_write(entry: str, environ: dict[str, str], says: str) -> None:
    with pytest.raises(EndpointError) as caught:
        expand_entries(("ok:1", entry), environ, may_reference=lambda name: name != "SECRET")
    assert caught.value.index == 1
    assert says in caught.value.reason


def test_credentials_never_appear_in_an_error() -> None:
    with pytest.raises(EndpointError) as caught:
        expand_entries(("mongodb://admin:hunter2@db.internal:99999/x",), {})
    assert "hunter2" not in str(caught.value)
    assert "db.internal" in str(caught.value)


def test_placeholders_check_declared_names_and_defaults_before_the_environment_is_known() -> None:
    declared = {"DB_URL"}.__contains__
    assert expand_entries(("${DB_URL}",), {}, may_reference=declared, placeholders=True) is None
    with pytest.raises(EndpointError, match="not declared"):
        expand_entries(("${OTHER}",), {}, may_reference=declared, placeholders=True)
    with pytest.raises(EndpointError, match="not host:port"):
        expand_entries(("${DB_URL:-nonsense}",), {}, may_reference=declared, placeholders=True)
