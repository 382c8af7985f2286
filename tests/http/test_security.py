"""Tokens, roles, the caller policy and the audit log over HTTP, against a real server."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.http.support import ECHO, HTTPKIT, HYDROGEN, TEST_PROFILES, HttpServer

pytestmark = pytest.mark.integration

OPERATOR = "operator-token-0123456789"
ANALYST = "analyst-token-0123456789"
POLICY: dict[str, Any] = {
    "roles": {
        "operator": {"allow": ["*"]},
        "analyst": {"allow": ["echo", "tick"]},
    }
}
CONFIG: dict[str, Any] = {
    "tokens": [
        {"name": "ops-console", "role": "operator", "token": OPERATOR},
        {"role": "analyst", "token_sha256": hashlib.sha256(ANALYST.encode()).hexdigest()},
    ],
}


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    tmp = tmp_path_factory.mktemp("secured")
    with HttpServer(
        tmp, ECHO, HTTPKIT, config=CONFIG, policy=POLICY, audit_log=tmp / "audit.jsonl"
    ) as server:
        server.wait_settled(OPERATOR)
        yield server
        assert server.stop() == 0


def audit_lines(server: HttpServer) -> list[dict[str, Any]]:
    assert server.audit_log is not None
    return [json.loads(line) for line in server.audit_log.read_text().splitlines()]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/tools"),
        ("POST", "/execute"),
        ("POST", "/execute/batch"),
        ("GET", "/health"),
        ("GET", "/metrics"),
    ],
)
def test_every_endpoint_needs_a_token_and_says_how_to_send_one(
    secured: HttpServer, method: str, path: str
) -> None:
    with secured.client() as client:
        reply = client.request(method, path, json={"tool": "echo"})

    assert reply.status_code == 401
    assert reply.headers["www-authenticate"] == 'Bearer realm="hydrogen"'
    assert reply.json()["code"] == "missing_token"
    assert "Authorization: Bearer" in reply.json()["detail"]


@pytest.mark.parametrize("header", ["Bearer not-a-token", f"Basic {OPERATOR}", OPERATOR])
def test_a_token_the_server_does_not_know_is_401(secured: HttpServer, header: str) -> None:
    with secured.client() as client:
        reply = client.get("/tools", headers={"Authorization": header})

    assert reply.status_code == 401
    assert reply.json()["code"] == "invalid_token"


def test_the_api_document_is_public_and_declares_the_bearer_scheme(secured: HttpServer) -> None:
    with secured.client() as client:
        document = client.get("/openapi.json").json()

    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    execute = document["paths"]["/execute"]["post"]
    assert execute["security"] == [{"bearerAuth": []}]
    assert "401" in execute["responses"]


def test_each_token_sees_only_the_tools_its_role_may_call(secured: HttpServer) -> None:
    with secured.client(ANALYST) as analyst, secured.client(OPERATOR) as operator:
        theirs = {t["name"] for t in analyst.get("/tools").json()["tools"]}
        ours = {t["name"] for t in operator.get("/tools").json()["tools"]}

    assert theirs == {"echo", "tick"}
    assert {"echo", "tick", "boom", "nap"} <= ours


def test_the_policy_refuses_a_role_with_403_naming_the_role_and_the_key(
    secured: HttpServer,
) -> None:
    with secured.client(ANALYST) as client:
        reply = client.post("/execute", json={"tool": "boom", "params": {}})
        unknown = client.post("/execute", json={"tool": "nap", "params": {"seconds": 0}})

    assert reply.status_code == 403
    body = reply.json()
    assert (body["success"], body["code"], body["plugin"]) == (False, "denied", "httpkit")
    assert "caller role 'analyst'" in body["error"]
    assert "roles.analyst.allow" in body["error"]
    # Like the embedded API, a role is refused before it learns anything of tools it may not use.
    assert unknown.status_code == 403


def test_cache_entries_are_per_role_and_hits_are_audited(secured: HttpServer) -> None:
    call = {"tool": "tick", "params": {"k": "roles"}}
    with secured.client(OPERATOR) as operator, secured.client(ANALYST) as analyst:
        first = operator.post("/execute", json=call).json()
        theirs = analyst.post("/execute", json=call).json()
        again = operator.post("/execute", json=call).json()

    assert (first["cached"], theirs["cached"], again["cached"]) == (False, False, True)
    assert theirs["result"]["n"] != first["result"]["n"]
    assert again["result"] == first["result"]
    ticks = [line for line in audit_lines(secured) if line["tool"] == "tick"]
    assert [(line["caller"], line["outcome"]) for line in ticks[-3:]] == [
        ("operator", "ok"),
        ("analyst", "ok"),
        ("operator", "ok"),
    ]
    assert ticks[-3]["worker_pid"] is not None
    assert ticks[-1]["worker_pid"] is None  # answered from the cache: no worker ran
    assert ticks[-1]["params_sha256"] == ticks[-3]["params_sha256"]


def test_denials_are_audited_and_counted_in_metrics(secured: HttpServer) -> None:
    with secured.client(ANALYST) as analyst, secured.client(OPERATOR) as operator:
        analyst.post("/execute", json={"tool": "boom", "params": {"message": "x"}})
        with secured.client() as anonymous:
            anonymous.get("/tools")
        metrics = operator.get("/metrics").text

    denied = [line for line in audit_lines(secured) if line["outcome"] == "denied"]
    assert denied[-1]["caller"] == "analyst"
    assert denied[-1]["tool"] == "boom"
    assert 'hydrogen_security_denials_total{reason="policy"}' in metrics
    assert 'hydrogen_security_denials_total{reason="missing_token"}' in metrics


# ---- refusals at start, before any plugin runs ----------------------------------------------


def serve(
    tmp_path: Path, *args: str, config: str | None = None
) -> subprocess.CompletedProcess[str]:
    command = [str(HYDROGEN), "--plugins", str(ECHO), *args]
    if config is not None:
        path = tmp_path / "http.yaml"
        path.write_text(config)
        command += ["--http-config", str(path)]
    env = {"HYDROGEN_GATE": "off", "HYDROGEN_PROFILES": str(TEST_PROFILES), "PATH": "/usr/bin:/bin"}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)


def test_listening_beyond_loopback_without_tokens_is_refused(tmp_path: Path) -> None:
    done = serve(tmp_path, "serve", "--http", "--host", "0.0.0.0", "--port", "0")

    said = " ".join(done.stderr.split())
    assert done.returncode == 1
    assert "listening on 0.0.0.0 would let anyone who can reach it call every tool" in said
    assert "bearer tokens under 'tokens'" in said
    assert "listen on 127.0.0.1" in said


def test_a_token_role_the_policy_does_not_define_is_refused(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("roles: {operator: {allow: ['*']}}\n")
    done = serve(
        tmp_path,
        "--policy",
        str(policy),
        "serve",
        "--http",
        "--port",
        "0",
        config=f"tokens: [{{role: admin, token: {OPERATOR}}}]\n",
    )

    said = " ".join(done.stderr.split())
    assert done.returncode == 1
    assert "tokens[0].role: 'admin' is not a role of the caller policy" in said


def test_a_bad_config_file_is_refused_naming_the_field(tmp_path: Path) -> None:
    done = serve(tmp_path, "serve", "--http", "--port", "0", config="alerts: {webhok: {}}\n")

    said = " ".join(done.stderr.split())
    assert done.returncode == 1
    assert "alerts.webhok: unknown key" in said
    assert "allowed keys: crash_loop, error_rate, host" in said


def test_http_options_without_http_are_a_usage_error(tmp_path: Path) -> None:
    done = serve(tmp_path, "serve", "--stdio", "--port", "9")

    assert done.returncode == 2
    assert "--host, --port and --http-config need --http" in " ".join(done.stderr.split())
