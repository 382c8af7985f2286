"""The HTTP server's configuration file: tokens, limits, result cache, alerts. Read strictly.

    tokens:                          # bearer tokens, each mapped to a caller role
      - {name: grafana, role: monitor, token_sha256: 9f86d0...}
      - {name: ci, role: operator, token: "a-long-random-string"}
    max_body_bytes: 1048576          # larger request bodies get 413
    max_batch_calls: 64              # calls per POST /execute/batch
    public_health: false             # true: GET /health needs no token (load balancers)
    drain_seconds: 10                # on SIGTERM, time in-flight requests get to finish
    cache: {max_entries: 10000, max_bytes: 67108864, max_entry_bytes: 1048576}
    alerts: {...}                    # runtime.alerts.config.AlertsConfig

Every key is optional. Unknown keys, wrong types and out-of-range values are errors naming
the file and the field (``tokens[1].role``), like the caller policy and plugin.yaml.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
from pathlib import Path
from typing import Annotated, Any, Final

import msgspec

from runtime.alerts.config import AlertsConfig
from runtime.errors import HttpConfigError
from runtime.host.result_cache import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ENTRIES,
    DEFAULT_MAX_ENTRY_BYTES,
)
from runtime.manifest.yamlfile import YamlProblem, read_yaml_mapping

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_SOURCE",
    "CacheLimits",
    "HttpConfig",
    "HttpConfigError",
    "TokenEntry",
    "load_http_config",
]

log = logging.getLogger("hydrogen.http")

CONFIG_ENV: Final = "HYDROGEN_HTTP_CONFIG"
# Long enough that guessing is hopeless, short enough for any secret store.
MIN_TOKEN_CHARS: Final = 16
DEFAULT_MAX_BODY_BYTES: Final = 1024 * 1024
MAX_BODY_BYTES_LIMIT: Final = 1024 * 1024 * 1024
DEFAULT_MAX_BATCH_CALLS: Final = 64
MAX_BATCH_CALLS_LIMIT: Final = 1000
DEFAULT_DRAIN_SECONDS: Final = 10.0
DEFAULT_SOURCE: Final = "the built-in defaults"
MAX_DRAIN_SECONDS: Final = 300.0

_SHA256_RE: Final = re.compile(r"^[0-9a-f]{64}$")
_AT_RE: Final = re.compile(r"^(?P<reason>.*) - at `\$(?P<path>[^`]*)`$")
_UNKNOWN_RE: Final = re.compile(r"^Object contains unknown field `(?P<name>[^`]*)`$")
_MISSING_RE: Final = re.compile(r"^Object missing required field `(?P<name>[^`]*)`$")


class TokenEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One bearer token: the secret itself or its SHA-256, and the caller role it acts as."""

    role: Annotated[str, msgspec.Meta(min_length=1)]
    token: str | None = None
    token_sha256: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if (self.token is None) == (self.token_sha256 is None):
            raise ValueError("give exactly one of token or token_sha256")
        if self.token is not None and len(self.token) < MIN_TOKEN_CHARS:
            raise ValueError(f"token must be at least {MIN_TOKEN_CHARS} characters")
        if self.token_sha256 is not None and not _SHA256_RE.match(self.token_sha256):
            raise ValueError(
                "token_sha256 must be 64 lowercase hex digits (printf %s TOKEN | sha256sum)"
            )

    @property
    def label(self) -> str:
        return self.name or f"role {self.role}"


class CacheLimits(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    max_entries: Annotated[int, msgspec.Meta(ge=1)] = DEFAULT_MAX_ENTRIES
    max_bytes: Annotated[int, msgspec.Meta(ge=1024)] = DEFAULT_MAX_BYTES
    max_entry_bytes: Annotated[int, msgspec.Meta(ge=1)] = DEFAULT_MAX_ENTRY_BYTES


class HttpConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    tokens: list[TokenEntry] = []
    max_body_bytes: Annotated[int, msgspec.Meta(ge=1024, le=MAX_BODY_BYTES_LIMIT)] = (
        DEFAULT_MAX_BODY_BYTES
    )
    max_batch_calls: Annotated[int, msgspec.Meta(ge=1, le=MAX_BATCH_CALLS_LIMIT)] = (
        DEFAULT_MAX_BATCH_CALLS
    )
    public_health: bool = False
    drain_seconds: Annotated[float, msgspec.Meta(gt=0, le=MAX_DRAIN_SECONDS)] = (
        DEFAULT_DRAIN_SECONDS
    )
    cache: CacheLimits = CacheLimits()
    alerts: AlertsConfig = AlertsConfig()
    # Where the file came from, for messages; not a key of the file.
    source: str = DEFAULT_SOURCE


def load_http_config(path: Path | str | None) -> HttpConfig:
    """Read ``path`` (or ``$HYDROGEN_HTTP_CONFIG``); the defaults when neither is given."""
    if path is None:
        path = os.environ.get(CONFIG_ENV) or None
    if path is None:
        return HttpConfig()
    path = Path(path)
    try:
        data = read_yaml_mapping(path)
    except YamlProblem as exc:
        raise HttpConfigError(path, "", str(exc)) from exc
    if "source" in data:
        raise _unknown(path, "", "source")
    try:
        config = msgspec.convert(data, HttpConfig)
    except msgspec.ValidationError as exc:
        raise _translate(path, str(exc)) from exc
    _check_tokens(path, config.tokens)
    if any(t.token is not None for t in config.tokens):
        _warn_if_readable(path)
    return msgspec.structs.replace(config, source=str(path))


def _translate(path: Path, message: str) -> HttpConfigError:
    """msgspec's "reason - at `$.a.b[0]`" -> field ``a.b[0]`` and a reason in our words."""
    match = _AT_RE.match(message)
    reason, where = (match["reason"], match["path"].lstrip(".")) if match else (message, "")
    if unknown := _UNKNOWN_RE.match(reason):
        return _unknown(path, where, unknown["name"])
    if missing := _MISSING_RE.match(reason):
        return HttpConfigError(path, _join(where, missing["name"]), "is required")
    return HttpConfigError(path, where, reason)


def _unknown(path: Path, where: str, name: str) -> HttpConfigError:
    allowed = _fields_at(where)
    hint = f"allowed keys: {', '.join(allowed)}" if allowed else ""
    return HttpConfigError(path, _join(where, name), "unknown key", hint)


def _fields_at(where: str) -> list[str]:
    """The keys the struct at ``where`` accepts (for the hint of an unknown key)."""
    kind: Any = HttpConfig
    for part in re.sub(r"\[\d+\]", ".[]", where).split("."):
        if not part:
            continue
        if part == "[]":
            continue  # a list item: _struct_in already stepped into the item type
        fields = {f.name: f.type for f in msgspec.structs.fields(kind)}
        kind = _struct_in(fields.get(part))
        if kind is None:
            return []
    return sorted(f.name for f in msgspec.structs.fields(kind) if f.name != "source")


def _struct_in(annotation: Any) -> Any:
    """The Struct type inside ``X``, ``X | None`` or ``list[X]``, else None."""
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _struct_in(arg)
        if found is not None:
            return found
    return None


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _check_tokens(path: Path, tokens: list[TokenEntry]) -> None:
    seen: dict[str, int] = {}
    for index, entry in enumerate(tokens):
        digest = entry.token_sha256 or _sha256(entry.token or "")
        if digest in seen:
            raise HttpConfigError(
                path,
                f"tokens[{index}]",
                f"the same token as tokens[{seen[digest]}]",
                "every token must be unique, so the role of a request is never ambiguous",
            )
        seen[digest] = index


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _warn_if_readable(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        log.warning(
            "%s holds bearer tokens and other users can read it: chmod 600 it, "
            "or write token_sha256 instead of token",
            path,
        )
