"""Alerts for ``hydrogen status``: evaluated once here, or read from a running server.

Without ``--server`` the command starts its own Supervisor, so only what one look can tell is
reported (a quarantined plugin, a worker near its memory limit, the host over a threshold,
restarts since start); a running server's alerts, with their history, come from its
``/health``.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

import msgspec

from runtime.alerts.config import AlertsConfig
from runtime.alerts.engine import evaluate_once
from runtime.alerts.host import read_host, resolve_host
from runtime.alerts.sample import take_sample
from runtime.errors import ConfigError, HydrogenError
from runtime.host.supervisor import Supervisor
from runtime.http.view import SupervisorView

__all__ = ["alerts_for", "fetch_health"]

# Seconds to wait for a server's /health; it answers from memory, so this is generous.
FETCH_TIMEOUT: Final = 10.0


def alerts_for(
    supervisor: Supervisor, status: Mapping[str, Any], config: AlertsConfig
) -> list[dict[str, Any]]:
    rule = config.host
    host = resolve_host(rule, SupervisorView(supervisor).plugin_configuration(rule.plugin))
    watch_host = rule.enabled and bool(host.thresholds)
    sample = take_sample(
        status,
        at=time.monotonic(),
        denials=0,
        host=read_host(host) if watch_host else None,
    )
    alerts = evaluate_once(config, sample, host)
    builtins: list[dict[str, Any]] = msgspec.to_builtins(alerts)
    return builtins


def fetch_health(url: str, token: str | None) -> dict[str, Any]:
    """GET ``url``/health; its JSON whatever the status (503 means starting)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--server {url!r} is not an http:// or https:// URL")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url.rstrip("/") + "/health", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as reply:
            body = reply.read()
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            raise HydrogenError(
                f"{url} needs a bearer token for /health: pass --token or set $HYDROGEN_TOKEN"
            ) from None
        if exc.code != 503:
            raise HydrogenError(f"{url}/health answered HTTP {exc.code} {exc.reason}") from None
        body = exc.read()
    except OSError as exc:
        raise HydrogenError(f"cannot reach {url}: {exc}") from None
    try:
        report: dict[str, Any] = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise HydrogenError(f"{url}/health did not answer JSON: {exc}") from None
    return report
