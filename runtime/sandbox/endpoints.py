"""Network entries as people write them, turned into the ``host:port`` targets the sandbox enforces.

A plugin that talks to a database or an API rarely knows the address when it is written: the
operator configures it, usually as one URL in an environment variable. So an entry of
``permissions.network`` (plugin.yaml) or ``grants.network`` (a sandbox profile) may be:

- ``host:port``, ``*`` standing for any host or any port,
- a URL, ``scheme://[user:password@]host[:port][,host:port...][/path][?query]``: one target per
  host, the port defaulting by scheme (a MongoDB replica-set URI lists several hosts),
- either of the above with ``${VAR}`` or ``${VAR:-default}`` references, resolved from the
  supervisor's environment. An entry that resolves to nothing is dropped, and a list with nothing
  left means no network at all, so ``${QDRANT_URL:-}`` grants the network only when it is used.

Credentials in a URL never reach an error message. Nothing here touches the network: hosts are
kept as written, and ``mongodb+srv://`` (hosts found by a DNS query at run time) is refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Final

from runtime.sandbox.references import UnresolvedReference, has_unresolvable, substitute

__all__ = [
    "DEFAULT_PORTS",
    "HOST_PORT_RE",
    "EndpointError",
    "expand_entries",
]

HOST_PORT_RE: Final = re.compile(r"^(\*|[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\]):(\*|\d{1,5})$")
_HOST: Final = re.compile(r"^([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$")
MAX_PORT: Final = 65535

# Ports a URL implies when it names none (the IANA registrations these clients use).
DEFAULT_PORTS: Final[Mapping[str, int]] = {
    "http": 80,
    "https": 443,
    "ws": 80,
    "wss": 443,
    "mongodb": 27017,
    "postgres": 5432,
    "postgresql": 5432,
    "mysql": 3306,
    "redis": 6379,
    "rediss": 6379,
    "amqp": 5672,
    "amqps": 5671,
}
# Schemes whose hosts are only known after a DNS query, which admission must not depend on.
_DNS_DISCOVERED: Final = frozenset({"mongodb+srv"})


class EndpointError(ValueError):
    """One entry that cannot be turned into targets; ``reason`` says what to write instead."""

    def __init__(self, reason: str, index: int | None = None) -> None:
        super().__init__(reason if index is None else f"[{index}]: {reason}")
        self.reason = reason
        self.index = index


def expand_entries(
    entries: tuple[str, ...],
    environ: Mapping[str, str],
    *,
    may_reference: Callable[[str], bool] = lambda name: True,
    placeholders: bool = False,
) -> tuple[str, ...] | None:
    """Every ``host:port`` target of ``entries``; None when nothing is left (no network).

    ``may_reference`` says which variables an entry may use (a plugin only those it declares).
    Raises ``EndpointError`` naming the entry's index and the variable or part that is wrong.
    ``placeholders`` checks entries before the environment is known: a reference stands for its
    default, and an entry with a reference that has none is only checked for undeclared names.
    """
    targets: list[str] = []
    for index, entry in enumerate(entries):
        try:
            if placeholders and has_unresolvable(entry, may_reference):
                continue
            text = substitute(entry, environ, may_reference).strip()
            if text:
                targets.extend(_targets(text))
        except UnresolvedReference as exc:
            raise EndpointError(str(exc), index) from None
        except EndpointError as exc:
            raise EndpointError(exc.reason, index) from None
    return tuple(dict.fromkeys(targets)) or None


def _targets(text: str) -> list[str]:
    if "://" not in text:
        if not HOST_PORT_RE.match(text):
            raise EndpointError(
                f"{text!r} is not host:port or a URL; write e.g. 'db.internal:27017', "
                "'*:443' or 'https://api.example.com'"
            )
        _check_port(text.rpartition(":")[2], text)
        return [text]
    scheme, _, rest = text.partition("://")
    scheme = scheme.lower()
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0].rpartition("@")[2]
    shown = f"{scheme}://{authority}"  # never the credentials
    if scheme in _DNS_DISCOVERED:
        raise EndpointError(
            f"{scheme}:// URLs find their hosts by DNS at run time, which a sandbox grant cannot "
            "follow; list the hosts as host:port (or a mongodb:// URL with every host)"
        )
    if not authority:
        raise EndpointError(f"{shown} names no host")
    found: list[str] = []
    for part in authority.split(","):
        match = _HOST.match(part)
        if match is None:
            raise EndpointError(f"{part!r} in {shown} is not a host or host:port")
        host, port = match.group(1), match.group(2)
        if port is None:
            if scheme not in DEFAULT_PORTS:
                raise EndpointError(
                    f"{shown} has no port and {scheme}:// has no default this sandbox knows; "
                    "write the port in the URL"
                )
            port = str(DEFAULT_PORTS[scheme])
        _check_port(port, shown)
        found.append(f"{host}:{port}")
    return found


def _check_port(port: str, shown: str) -> None:
    if port != "*" and not 0 < int(port) <= MAX_PORT:
        raise EndpointError(f"{shown}: port {port} is outside 1-{MAX_PORT}")
