"""The loopback OSV server answers pip-audit's exact query, over real HTTP, and stops cleanly."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from http import HTTPStatus
from typing import Any

import pytest

from runtime.gate.advisories import Advisories
from runtime.gate.osv_server import QUERY_PATH, OsvServer, answer_query


def _pip_audit_body(name: str, version: str) -> bytes:
    # Byte for byte what pip_audit/_service/osv.py sends: json.dumps of this dict.
    return json.dumps({"package": {"name": name, "ecosystem": "PyPI"}, "version": version}).encode()


def _post(url: str, body: bytes) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_answer_lists_the_advisories_affecting_that_version(advisories: Advisories) -> None:
    status, body = answer_query(advisories, _pip_audit_body("requests", "2.19.0"))

    assert status == HTTPStatus.OK
    vulns = json.loads(body)["vulns"]
    by_id = {v["id"]: v for v in vulns}
    assert "PYSEC-2018-28" in by_id
    record = by_id["PYSEC-2018-28"]
    assert {"CVE-2018-18074", "GHSA-x84v-xcm2-53pg"} <= set(record["aliases"])
    assert record["details"]
    (ecosystem_range,) = [
        r for a in record["affected"] for r in a["ranges"] if r["type"] == "ECOSYSTEM"
    ]
    assert {"fixed": "2.20.0"} in ecosystem_range["events"]


def test_answer_is_empty_for_a_clean_version_or_an_unknown_package(
    advisories: Advisories,
) -> None:
    assert answer_query(advisories, _pip_audit_body("requests", "2.32.3")) == (
        HTTPStatus.OK,
        b"{}",
    )
    assert answer_query(advisories, _pip_audit_body("no-such-package-xyz", "1.0")) == (
        HTTPStatus.OK,
        b"{}",
    )


def test_served_records_carry_the_canonical_name_and_only_parsable_events(
    advisories: Advisories,
) -> None:
    # pip-audit reads fixed versions only where the name equals the canonical one, and crashes
    # on a fixed version that is not PEP 440 (binderhub's record has "0.2.0-n653").
    status, body = answer_query(advisories, _pip_audit_body("binderhub", "0.1.0"))

    assert status == HTTPStatus.OK
    vulns = json.loads(body)["vulns"]
    assert vulns
    for vuln in vulns:
        for affected in vuln["affected"]:
            assert affected["package"]["name"] == "binderhub"
            for r in affected.get("ranges", []):
                if r["type"] == "ECOSYSTEM":
                    assert all("0.2.0-n653" not in e.values() for e in r["events"])


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"package": {"name": "left-pad", "ecosystem": "npm"}, "version": "1.0.0"}',
        b'{"package": {"purl": "pkg:pypi/requests@2.19.0"}}',
        b'{"commit": "c45d7c49ea75133e52ab22a8e9e13173938e36ff"}',
        b'{"package": {"name": "requests", "ecosystem": "PyPI"}, "version": "not a version!"}',
    ],
)
def test_questions_it_cannot_answer_truthfully_are_400_never_empty(
    advisories: Advisories, body: bytes
) -> None:
    status, answer = answer_query(advisories, body)

    assert status == HTTPStatus.BAD_REQUEST
    assert json.loads(answer)["message"]


def test_query_without_version_lists_every_advisory_of_the_package(
    advisories: Advisories,
) -> None:
    status, body = answer_query(
        advisories, b'{"package": {"name": "Requests", "ecosystem": "PyPI"}}'
    )

    assert status == HTTPStatus.OK
    assert {v["id"] for v in json.loads(body)["vulns"]} >= {"PYSEC-2018-28", "PYSEC-2023-74"}


def test_server_answers_pip_audits_request_over_http(advisories: Advisories) -> None:
    with OsvServer(advisories) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert server.url.endswith(QUERY_PATH)

        status, body = _post(server.url, _pip_audit_body("requests", "2.19.0"))
        assert status == 200
        assert "PYSEC-2018-28" in {v["id"] for v in body["vulns"]}

        assert _post(server.url, _pip_audit_body("requests", "2.32.3")) == (200, {})
        assert _post(server.url.replace(QUERY_PATH, "/v1/querybatch"), b"{}")[0] == 404
        bad = b'{"package": {"name": "x", "ecosystem": "npm"}, "version": "1"}'
        assert _post(server.url, bad)[0] == 400
        assert server.queries == 3


def test_stop_closes_the_port_and_joins_its_thread(advisories: Advisories) -> None:
    server = OsvServer(advisories)
    with server:
        port = int(server.url.rsplit(":", 1)[1].split("/")[0])
        thread = server._thread
        assert thread is not None
        assert thread.is_alive()

    assert not thread.is_alive()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    server.stop()  # idempotent
