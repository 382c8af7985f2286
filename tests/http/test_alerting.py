"""Alerts end to end: a crash loop in a real worker reaches the log, /health, the webhook the
test runs and ``hydrogen status``; and ``hydrogen status`` evaluates the rules on its own."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.http.support import CRASHLOOP, ECHO, HYDROGEN, TEST_PROFILES, HttpServer, WebhookReceiver

pytestmark = pytest.mark.integration


def crash_loop_fired(event: dict[str, Any]) -> bool:
    alert = event["alert"]
    return event["state"] == "firing" and (alert["rule"], alert["subject"]) == (
        "crash_loop",
        "crashloop",
    )


def test_a_crash_loop_raises_an_alert_seen_in_the_log_health_webhook_and_status(
    tmp_path: Path,
) -> None:
    with WebhookReceiver() as receiver:
        config = {
            "alerts": {
                "interval_seconds": 0.1,
                "crash_loop": {"restarts": 2, "window_seconds": 60},
                "webhook": {"url": receiver.url, "headers": {"X-Hook-Key": "secret-1"}},
            }
        }
        with HttpServer(tmp_path, ECHO, CRASHLOOP, config=config) as server:
            first = receiver.wait_for(crash_loop_fired, "crash_loop firing for crashloop")
            critical = receiver.wait_for(
                lambda e: crash_loop_fired(e) and e["alert"]["severity"] == "critical",
                "crash_loop escalated to critical once crashloop was quarantined",
            )
            health = server.wait_settled()
            with server.client() as client:
                unavailable = client.post("/execute", json={"tool": "never_served"})
                still_serving = client.post("/execute", json={"tool": "echo", "params": {}})
            status = subprocess.run(
                [str(HYDROGEN), "status", "--server", server.url, "--json"],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
            assert server.stop() == 0

    assert first["source"] == "hydrogen"
    assert "restarted" in first["alert"]["message"] or "quarantined" in first["alert"]["message"]
    assert "quarantined" in critical["alert"]["message"]
    assert receiver.headers[0]["X-Hook-Key"] == "secret-1"
    assert health["status"] == "degraded"
    assert health["plugins"]["crashloop"]["state"] == "quarantined"
    assert health["plugins"]["echo"]["state"] == "active"
    [alert] = health["alerts"]
    assert (alert["rule"], alert["subject"], alert["severity"]) == (
        "crash_loop",
        "crashloop",
        "critical",
    )
    assert unavailable.status_code == 503
    assert unavailable.json()["code"] == "unavailable"
    assert still_serving.status_code == 200
    assert any("ALERT crash_loop [critical]" in line for line in server.lines)
    reported = json.loads(status.stdout)
    assert reported["status"] == "degraded"
    assert [a["rule"] for a in reported["alerts"]] == ["crash_loop"]


def test_hydrogen_status_evaluates_the_alert_rules_once_on_its_own(tmp_path: Path) -> None:
    config = tmp_path / "http.yaml"
    # Any worker uses more than 1% of a 512 MiB limit: the rule is sure to fire.
    config.write_text(yaml.safe_dump({"alerts": {"worker_memory": {"ratio": 0.01}}}))
    env = {"HYDROGEN_GATE": "off", "HYDROGEN_PROFILES": str(TEST_PROFILES), "PATH": "/usr/bin:/bin"}

    done = subprocess.run(
        [str(HYDROGEN), "--plugins", str(ECHO), "status", "--json", "--http-config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    table = subprocess.run(
        [str(HYDROGEN), "--plugins", str(ECHO), "status", "--http-config", str(config)],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "200"},
        timeout=60,
        check=True,
    )

    [alert] = json.loads(done.stdout)["alerts"]
    assert (alert["rule"], alert["subject"], alert["severity"]) == (
        "worker_memory",
        "echo",
        "warning",
    )
    assert "Alerts firing" in table.stdout
    assert "worker_memory" in table.stdout
