"""Property-based fuzzing of the served API: schemathesis against the OpenAPI document the
server itself serves, and hypothesis through the real tools.

schemathesis (its own runner: coverage and fuzzing phases, every check it has) calls each
operation with generated valid and invalid requests, with and without the token: no answer
may be a 5xx, and every answer must match the document (status, content type, headers, body).
The document cannot name real tools, so the second part sends arbitrary JSON params to them:
echo must give every value back exactly, and nothing may answer 5xx.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import REPO_ROOT
from tests.http.support import ECHO, HTTPKIT, HttpServer

pytestmark = pytest.mark.integration

SCHEMATHESIS: Final = REPO_ROOT / ".venv" / "bin" / "schemathesis"
TOKEN: Final = "fuzz-operator-token-0123"
CONFIG: Final[dict[str, Any]] = {
    "tokens": [{"role": "operator", "token": TOKEN}],
    "max_batch_calls": 4,
}
# Per operation: enough to reach every branch of these small schemas, few enough for two cores.
SCHEMATHESIS_EXAMPLES: Final = 50
ROUND_TRIPS: Final = 60
# Tools that answer at once whatever their params (crash and nap would be 5xx by design).
QUICK_TOOLS: Final = ("echo", "echo_sync", "tick", "tick_brief", "boom")

JSON: Final = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=16,
)
PARAMS: Final = st.dictionaries(st.text(max_size=8), JSON, max_size=5)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    with HttpServer(tmp_path_factory.mktemp("fuzzed"), ECHO, HTTPKIT, config=CONFIG) as server:
        server.wait_settled(TOKEN)
        yield server
        assert server.stop() == 0


@pytest.fixture(scope="module")
def client(fuzzed: HttpServer) -> Iterator[httpx.Client]:
    with fuzzed.client(TOKEN) as client:
        yield client


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    fuzzed: HttpServer, tmp_path: Path
) -> None:
    done = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{fuzzed.url}/openapi.json",
            "--header",
            f"Authorization: Bearer {TOKEN}",
            "--checks",
            "all",
            "--max-examples",
            str(SCHEMATHESIS_EXAMPLES),
            "--seed",
            "1",
            "--workers",
            "1",
            "--output-truncate",
            "false",
        ],
        capture_output=True,
        text=True,
        # schemathesis keeps its example database (.schemathesis/) in the working directory.
        cwd=tmp_path,
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 selected" in done.stdout
    assert "Fuzzing" in done.stdout


@settings(max_examples=ROUND_TRIPS, suppress_health_check=list(HealthCheck))
@given(params=PARAMS)
def test_echo_gives_back_any_json_params_exactly(client: httpx.Client, params: Any) -> None:
    reply = client.post("/execute", json={"tool": "echo", "params": params})

    assert reply.status_code == 200, reply.text
    assert reply.json()["result"] == {"echo": params}


@settings(max_examples=ROUND_TRIPS, suppress_health_check=list(HealthCheck))
@given(tool=st.sampled_from(QUICK_TOOLS), params=PARAMS, timeout=st.none() | st.floats(5, 60))
def test_any_params_to_a_real_tool_get_a_documented_non_5xx_answer(
    client: httpx.Client, tool: str, params: Any, timeout: float | None
) -> None:
    reply = client.post("/execute", json={"tool": tool, "params": params, "timeout": timeout})

    assert reply.status_code in (200, 400), reply.text
    body = reply.json()
    assert body["tool"] == tool
    assert body["success"] is (reply.status_code == 200 and tool != "boom")
    assert ("result" in body) is body["success"]
