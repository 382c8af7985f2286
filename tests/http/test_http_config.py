"""The HTTP config file and the token table: strict reading, errors that name file and field."""

from __future__ import annotations

import hashlib
import logging
import textwrap
from pathlib import Path

import pytest

from runtime.errors import ConfigError
from runtime.http.auth import Identity, TokenTable, check_bind, check_roles, is_loopback
from runtime.http.config import (
    CONFIG_ENV,
    DEFAULT_MAX_BODY_BYTES,
    HttpConfig,
    HttpConfigError,
    load_http_config,
)

OPERATOR_TOKEN = "operator-token-0123456789"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "http.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    path.chmod(0o600)
    return path


def problem(tmp_path: Path, text: str) -> HttpConfigError:
    path = write(tmp_path, text)
    with pytest.raises(HttpConfigError) as caught:
        load_http_config(path)
    assert str(path) in str(caught.value)
    return caught.value


def test_no_file_means_the_documented_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)

    config = load_http_config(None)

    assert config == HttpConfig()
    assert config.max_body_bytes == DEFAULT_MAX_BODY_BYTES
    assert config.tokens == []
    assert config.alerts.crash_loop.enabled


def test_the_environment_names_the_file_when_the_option_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "max_batch_calls: 3\n")
    monkeypatch.setenv(CONFIG_ENV, str(path))

    config = load_http_config(None)

    assert config.max_batch_calls == 3
    assert config.source == str(path)


def test_every_section_is_read(tmp_path: Path) -> None:
    digest = hashlib.sha256(b"analyst-token-0123456789").hexdigest()
    config = load_http_config(
        write(
            tmp_path,
            f"""\
            tokens:
              - {{name: ci, role: operator, token: {OPERATOR_TOKEN}}}
              - {{role: analyst, token_sha256: {digest}}}
            max_body_bytes: 2048
            public_health: true
            drain_seconds: 2.5
            cache: {{max_entries: 10, max_bytes: 4096, max_entry_bytes: 100}}
            alerts:
              interval_seconds: 1
              webhook: {{url: "https://hooks.example/x", headers: {{X-Key: k}}}}
              crash_loop: {{restarts: 2, window_seconds: 30}}
              error_rate: {{enabled: false}}
              host: {{plugin: sys2, thresholds: {{disk: 95}}}}
            """,
        )
    )

    assert [t.label for t in config.tokens] == ["ci", "role analyst"]
    assert (config.max_body_bytes, config.public_health, config.drain_seconds) == (2048, True, 2.5)
    assert config.cache.max_entry_bytes == 100
    assert config.alerts.webhook is not None
    assert config.alerts.webhook.headers == {"X-Key": "k"}
    assert (config.alerts.crash_loop.restarts, config.alerts.crash_loop.window_seconds) == (2, 30)
    assert not config.alerts.error_rate.enabled
    assert config.alerts.host.thresholds.disk == 95
    assert config.alerts.host.thresholds.cpu is None


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        ("max_body: 5\n", "max_body", "unknown key"),
        ("alerts: {crash_loop: {restart: 2}}\n", "alerts.crash_loop.restart", "unknown key"),
        ("alerts: {interval_seconds: fast}\n", "alerts.interval_seconds", "Expected `float`"),
        ("alerts: {interval_seconds: 0}\n", "alerts.interval_seconds", ">= 0.05"),
        ("max_body_bytes: 10\n", "max_body_bytes", ">= 1024"),
        ("public_health: yes please\n", "public_health", "Expected `bool`"),
        ("tokens: [{token: " + OPERATOR_TOKEN + "}]\n", "tokens[0].role", "is required"),
        ("tokens: [{role: a}]\n", "tokens[0]", "exactly one of token or token_sha256"),
        ("tokens: [{role: a, token: short}]\n", "tokens[0]", "at least 16 characters"),
        ("tokens: [{role: a, token_sha256: abc}]\n", "tokens[0]", "64 lowercase hex"),
        (
            "tokens: [{role: a, token: " + OPERATOR_TOKEN + ", scope: x}]\n",
            "tokens[0].scope",
            "unknown key",
        ),
        ("alerts: {webhook: {url: 'ftp://x/y'}}\n", "alerts.webhook", "http:// or https://"),
        ("alerts: {error_rate: {ratio: 1.5}}\n", "alerts.error_rate.ratio", "<= 1.0"),
        ("alerts: {host: {thresholds: {disk: 101}}}\n", "alerts.host.thresholds.disk", "<= 100"),
        ("source: x\n", "source", "unknown key"),
    ],
    ids=[
        "unknown-top",
        "unknown-nested",
        "type",
        "interval-range",
        "body-range",
        "bool",
        "token-role",
        "token-none",
        "token-short",
        "token-sha",
        "token-key",
        "webhook-scheme",
        "ratio",
        "percent",
        "internal-field",
    ],
)
def test_a_bad_field_is_an_error_naming_file_and_field(
    tmp_path: Path, text: str, field: str, reason: str
) -> None:
    error = problem(tmp_path, text)

    assert error.field == field
    assert reason in error.reason
    assert f": {field}: " in str(error)


def test_an_unknown_key_hint_lists_the_keys_allowed_there(tmp_path: Path) -> None:
    error = problem(tmp_path, "alerts: {crash_loop: {restart: 2}}\n")

    assert error.hint == "allowed keys: enabled, restarts, window_seconds"


def test_the_same_token_twice_is_an_error_even_as_its_digest(tmp_path: Path) -> None:
    digest = hashlib.sha256(OPERATOR_TOKEN.encode()).hexdigest()
    error = problem(
        tmp_path,
        f"""\
        tokens:
          - {{role: a, token: {OPERATOR_TOKEN}}}
          - {{role: b, token_sha256: {digest}}}
        """,
    )

    assert error.field == "tokens[1]"
    assert "tokens[0]" in error.reason


def test_a_file_holding_tokens_that_others_can_read_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, f"tokens: [{{role: a, token: {OPERATOR_TOKEN}}}]\n")
    path.chmod(0o644)

    with caplog.at_level(logging.WARNING, logger="hydrogen.http"):
        load_http_config(path)

    assert "chmod 600" in caplog.text


def test_invalid_yaml_is_an_error_naming_the_file(tmp_path: Path) -> None:
    error = problem(tmp_path, "tokens: [\n")

    assert "not valid YAML" in error.reason


# ---- where the server may listen, and who a token is ------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.1.2.3", False),
        ("example.com", False),
    ],
)
def test_loopback_addresses_are_recognised(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_listening_beyond_loopback_needs_tokens(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="give bearer tokens under 'tokens' in an HTTP config"):
        check_bind("0.0.0.0", HttpConfig())
    config = load_http_config(write(tmp_path, "max_batch_calls: 3\n"))
    with pytest.raises(HttpConfigError) as caught:
        check_bind("10.0.0.1", config)

    assert caught.value.field == "tokens"
    assert "127.0.0.1" in caught.value.hint
    check_bind("127.0.0.1", HttpConfig())
    check_bind("::1", config)


def test_a_token_role_must_be_defined_by_the_policy(tmp_path: Path) -> None:
    config = load_http_config(
        write(tmp_path, f"tokens: [{{role: ops, token: {OPERATOR_TOKEN}}}]\n")
    )

    with pytest.raises(HttpConfigError) as caught:
        check_roles(config, frozenset({"operator", "analyst"}))

    assert caught.value.field == "tokens[0].role"
    assert caught.value.hint == "defined roles: analyst, operator"
    check_roles(config, None)


def test_the_token_table_maps_bearer_tokens_to_roles(tmp_path: Path) -> None:
    digest = hashlib.sha256(b"analyst-token-0123456789").hexdigest()
    config = load_http_config(
        write(
            tmp_path,
            f"""\
            tokens:
              - {{name: ci, role: operator, token: {OPERATOR_TOKEN}}}
              - {{role: analyst, token_sha256: {digest}}}
            """,
        )
    )
    table = TokenTable(config.tokens)

    assert table.required
    assert table.identify(f"Bearer {OPERATOR_TOKEN}".encode()) == Identity("operator", "ci")
    assert table.identify(b"bearer analyst-token-0123456789") == Identity("analyst", "role analyst")
    assert table.identify(None) == "missing_token"
    assert table.identify(b"Bearer nope") == "invalid_token"
    assert table.identify(OPERATOR_TOKEN.encode()) == "invalid_token"
    assert table.identify(b"Basic b3BlcmF0b3I6eA==") == "invalid_token"
    assert not TokenTable([]).required
