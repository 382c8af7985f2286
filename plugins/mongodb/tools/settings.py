"""The plugin's configuration, validated once at load time, and the URI shown in messages.

Timeouts are checked against the tools' own: every call runs under a deadline of its tool's
``timeout`` minus ``call_margin_seconds``, and server selection and connecting must give up
before that deadline, so an unreachable server is reported as such instead of as a timeout.
Options written in the URI (``?serverSelectionTimeoutMS=500``) win over the configuration.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Final

from pymongo import uri_parser
from pymongo.errors import ConfigurationError, InvalidURI

from .errors import InvalidArgumentError

__all__ = ["DEFAULT_URI", "Settings", "parse_number", "parse_settings", "redact_uri"]

DEFAULT_URI: Final = "mongodb://127.0.0.1:27017"
DEFAULT_APP_NAME: Final = "hydrogen-mongodb"
DEFAULT_TOOL_TIMEOUT: Final = 30.0
SRV_SCHEME: Final = "mongodb+srv://"
# (default, low, high) per numeric key of ``configuration``.
NUMERIC_KEYS: Final[dict[str, tuple[float, float, float]]] = {
    "max_pool_size": (10, 1, 1000),
    "min_pool_size": (0, 0, 1000),
    "max_idle_time_ms": (60_000, 0, 3_600_000),
    "connect_timeout_ms": (5_000, 100, 600_000),
    "server_selection_timeout_ms": (5_000, 100, 600_000),
    "call_margin_seconds": (2.0, 0.5, 60.0),
    "profiler_sample_limit": (500, 1, 100_000),
}
# The same options as URI query keys (pymongo lower-cases them); a URI value wins.
URI_KEYS: Final = {
    "max_pool_size": "maxpoolsize",
    "min_pool_size": "minpoolsize",
    "max_idle_time_ms": "maxidletimems",
    "connect_timeout_ms": "connecttimeoutms",
    "server_selection_timeout_ms": "serverselectiontimeoutms",
}
CLIENT_KWARGS: Final = {
    "max_pool_size": "maxPoolSize",
    "min_pool_size": "minPoolSize",
    "max_idle_time_ms": "maxIdleTimeMS",
    "connect_timeout_ms": "connectTimeoutMS",
    "server_selection_timeout_ms": "serverSelectionTimeoutMS",
}
OTHER_KEYS: Final = frozenset({"enabled", "auto_start", "uri", "app_name"})
_CREDENTIALS: Final = re.compile(r"^([a-z+]+://)[^@/]*@", re.IGNORECASE)


@dataclass(frozen=True)
class Settings:
    uri: str
    # Scheme and hosts only: no credentials, no options (which may hold secrets too).
    shown_uri: str
    default_database: str | None
    client_kwargs: dict[str, Any]
    server_selection_timeout_ms: float
    call_margin_seconds: float
    profiler_sample_limit: int
    # Seconds a call of each tool may use: its plugin.yaml timeout minus the margin.
    budgets: dict[str, float] = field(default_factory=dict)

    def budget(self, tool: str) -> float:
        return self.budgets.get(tool, DEFAULT_TOOL_TIMEOUT - self.call_margin_seconds)


def redact_uri(uri: str) -> str:
    """``scheme://hosts`` of a MongoDB URI: what errors and logs may show."""
    text = _CREDENTIALS.sub(r"\1", uri.strip())
    scheme, sep, rest = text.partition("://")
    if not sep:
        return "<not a mongodb:// URI>"
    hosts = re.split(r"[/?]", rest, maxsplit=1)[0]
    return f"{scheme}://{hosts}"


def parse_number(value: Any, field: str, low: float, high: float, *, integer: bool) -> float:
    """A finite number in ``[low, high]``; numeric strings too (``${VAR}`` yields strings)."""
    kind = "an integer" if integer else "a number"
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise InvalidArgumentError(field, f"must be {kind}, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgumentError(field, f"must be {kind}, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise InvalidArgumentError(field, f"must be between {low:g} and {high:g}, got {value!r}")
    if integer and not number.is_integer():
        raise InvalidArgumentError(field, f"must be {kind}, got {value!r}")
    return number


def parse_settings(manifest: dict[str, Any]) -> Settings:
    config = manifest.get("configuration") or {}
    if not isinstance(config, dict):
        raise InvalidArgumentError("configuration", "must be a mapping")
    unknown = set(config) - OTHER_KEYS - set(NUMERIC_KEYS)
    if unknown:
        allowed = ", ".join(sorted(OTHER_KEYS | set(NUMERIC_KEYS)))
        raise InvalidArgumentError(
            f"configuration.{sorted(unknown)[0]}",
            "is not a setting of this plugin",
            f"use {allowed}",
        )
    uri = config.get("uri", DEFAULT_URI)
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidArgumentError("configuration.uri", "must be a mongodb:// URI string")
    uri = uri.strip()
    shown = redact_uri(uri)
    uri_options, database = _parse_uri(uri, shown)
    app_name = config.get("app_name", DEFAULT_APP_NAME)
    if not isinstance(app_name, str) or not app_name:
        raise InvalidArgumentError("configuration.app_name", "must be a non-empty string")

    values: dict[str, float] = {}
    # Where each value came from, so an error names the place to change it.
    fields: dict[str, str] = {}
    for key, (default, low, high) in NUMERIC_KEYS.items():
        uri_key = URI_KEYS.get(key)
        if uri_key is not None and uri_key in uri_options:
            raw = uri_options[uri_key]
            # pymongo hands URI timeouts over in seconds.
            value = raw * 1000 if key.endswith("_ms") and isinstance(raw, int | float) else raw
            fields[key] = f"configuration.uri ({uri_key})"
            integer = False
        else:
            value = config.get(key, default)
            fields[key] = f"configuration.{key}"
            integer = not key.endswith("_seconds")
        values[key] = parse_number(value, fields[key], low, high, integer=integer)
    if values["min_pool_size"] > values["max_pool_size"]:
        raise InvalidArgumentError(
            fields["min_pool_size"],
            f"({values['min_pool_size']:g}) is above max_pool_size ({values['max_pool_size']:g})",
            "lower it or raise max_pool_size",
        )
    margin = values["call_margin_seconds"]
    budgets = _budgets(manifest, margin)
    _check_timeouts_fit(values, fields, budgets)
    kwargs: dict[str, Any] = {"appname": app_name}
    for key, name in CLIENT_KWARGS.items():
        if URI_KEYS[key] not in uri_options:
            kwargs[name] = int(values[key])
    return Settings(
        uri=uri,
        shown_uri=shown,
        default_database=database,
        client_kwargs=kwargs,
        server_selection_timeout_ms=values["server_selection_timeout_ms"],
        call_margin_seconds=margin,
        profiler_sample_limit=int(values["profiler_sample_limit"]),
        budgets=budgets,
    )


def _parse_uri(uri: str, shown: str) -> tuple[dict[str, Any], str | None]:
    if uri.lower().startswith(SRV_SCHEME):
        raise InvalidArgumentError(
            "configuration.uri",
            f"{shown}: mongodb+srv:// finds its hosts by DNS at run time, which the sandbox "
            "cannot grant",
            "list every host in a mongodb:// URI (mongodb://h1:27017,h2:27017/?replicaSet=rs0)",
        )
    try:
        parsed = uri_parser.parse_uri(uri)
    except (InvalidURI, ConfigurationError, ValueError) as exc:
        # pymongo's message can quote the URI, credentials included: say what, not its words.
        raise InvalidArgumentError(
            "configuration.uri",
            f"{shown} is not a valid MongoDB URI ({type(exc).__name__})",
            "write mongodb://[user:password@]host[:port][,host:port...][/database][?options]",
        ) from None
    options = {str(k).lower(): v for k, v in parsed["options"].items()}
    return options, parsed["database"]


def _budgets(manifest: dict[str, Any], margin: float) -> dict[str, float]:
    budgets: dict[str, float] = {}
    for entry in manifest.get("tools") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        timeout = float(entry.get("timeout") or DEFAULT_TOOL_TIMEOUT)
        if timeout <= margin:
            raise InvalidArgumentError(
                "configuration.call_margin_seconds",
                f"({margin:g} s) leaves no time for {entry['name']} (timeout {timeout:g} s)",
                "lower the margin or raise the tool's timeout",
            )
        budgets[entry["name"]] = timeout - margin
    return budgets


def _check_timeouts_fit(
    values: dict[str, float], fields: dict[str, str], budgets: dict[str, float]
) -> None:
    if not budgets:
        return
    tool, budget = min(budgets.items(), key=lambda item: item[1])
    for key in ("server_selection_timeout_ms", "connect_timeout_ms"):
        if values[key] / 1000 >= budget:
            raise InvalidArgumentError(
                fields[key],
                f"({values[key]:g} ms) must be shorter than the call budget of {tool} "
                f"({budget:g} s: its timeout minus call_margin_seconds)",
                "lower it, so an unreachable server is reported before the call times out",
            )
