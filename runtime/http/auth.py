"""Who is calling: bearer tokens to caller roles, and where the server may listen without them.

Tokens are kept and compared as SHA-256 digests, so the table never holds a secret the file
did not (``token_sha256`` entries hold none). Without tokens the server is open to anything
that can reach it, so it may then only listen on loopback.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable
from typing import Final

import msgspec

from runtime.errors import ConfigError
from runtime.http.config import DEFAULT_SOURCE, HttpConfig, HttpConfigError, TokenEntry

__all__ = ["Identity", "TokenTable", "check_bind", "check_roles", "is_loopback"]

_BEARER: Final = b"bearer "
LOOPBACK_NAMES: Final = frozenset({"localhost", "ip6-localhost", "ip6-loopback"})


class Identity(msgspec.Struct, frozen=True):
    """A caller: the role its calls run as (None: the policy's default role) and a label."""

    role: str | None
    label: str


class TokenTable:
    def __init__(self, entries: Iterable[TokenEntry]) -> None:
        self._by_digest: dict[bytes, Identity] = {}
        for entry in entries:
            if entry.token_sha256 is not None:
                digest = bytes.fromhex(entry.token_sha256)
            else:
                digest = hashlib.sha256((entry.token or "").encode()).digest()
            self._by_digest[digest] = Identity(entry.role, entry.label)

    @property
    def required(self) -> bool:
        return bool(self._by_digest)

    def identify(self, authorization: bytes | None) -> Identity | str:
        """The caller behind an ``Authorization`` header value, or why there is none."""
        if authorization is None:
            return "missing_token"
        if authorization[: len(_BEARER)].lower() != _BEARER:
            return "invalid_token"
        # Looked up by digest: the lookup's timing can only reveal how much of a stored
        # digest matches the digest of a guess, which says nothing usable about the token.
        digest = hashlib.sha256(authorization[len(_BEARER) :].strip()).digest()
        return self._by_digest.get(digest) or "invalid_token"


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, config: HttpConfig) -> None:
    """Refuse to listen beyond loopback without bearer tokens."""
    if config.tokens or is_loopback(host):
        return
    reason = f"listening on {host} would let anyone who can reach it call every tool"
    if config.source == DEFAULT_SOURCE:
        raise ConfigError(
            f"{reason}: give bearer tokens under 'tokens' in an HTTP config file "
            f"(--http-config or $HYDROGEN_HTTP_CONFIG), or listen on 127.0.0.1"
        )
    raise HttpConfigError(
        config.source, "tokens", reason, "give bearer tokens here, or listen on 127.0.0.1"
    )


def check_roles(config: HttpConfig, defined: frozenset[str] | None) -> None:
    """Each token's role must be one the caller policy defines (when there is a policy)."""
    if defined is None:
        return
    for index, entry in enumerate(config.tokens):
        if entry.role not in defined:
            raise HttpConfigError(
                config.source,
                f"tokens[{index}].role",
                f"{entry.role!r} is not a role of the caller policy",
                f"defined roles: {', '.join(sorted(defined)) or 'none'}",
            )
