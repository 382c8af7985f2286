"""A bounded in-memory cache of tool results, for tools that declare ``cache_ttl`` in plugin.yaml.

Two calls are the same call when they name the same tool of the same plugin code, run as the
same caller role and carry the same params once canonicalised (JSON with sorted keys), so a
result computed for one role is never served to another. Only successful results are kept,
encoded as JSON bytes: a hit hands out a fresh copy, so no caller can change what the next one
gets. Memory is bounded twice: by entry count and by the bytes of the stored results (plus a
fixed per-entry overhead); the least recently used entries go first, and a result bigger than
``max_entry_bytes`` is never stored, so one huge answer cannot flush everything else.

Concurrent identical misses each reach the plugin (no request coalescing): the first answer to
come back is stored, and a tool that is slow enough for that to matter can say so with a
longer ``cache_ttl``.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Final

import msgspec

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_ENTRIES",
    "DEFAULT_MAX_ENTRY_BYTES",
    "CacheStatistics",
    "ResultCache",
    "call_key",
]

DEFAULT_MAX_ENTRIES: Final = 10_000
DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024
DEFAULT_MAX_ENTRY_BYTES: Final = 1024 * 1024
# What an entry costs beyond its result bytes (key, expiry, dict slot), charged against
# max_bytes so that many tiny results are bounded too.
ENTRY_OVERHEAD_BYTES: Final = 256

_CANONICAL: Final = msgspec.json.Encoder(order="sorted")
_SEPARATOR: Final = b"\x00"


def call_key(tool: str, revision: str, role: str | None, params: Mapping[str, Any]) -> bytes:
    """The identity of a call: tool, plugin code revision, caller role, canonical params.

    Raises ``msgspec.EncodeError`` (or ``UnicodeEncodeError``) for params JSON cannot carry;
    the caller has already refused those, so this is never the first place they are seen.
    """
    digest = hashlib.sha256()
    for part in (tool, revision, "" if role is None else f"role:{role}"):
        digest.update(part.encode())
        digest.update(_SEPARATOR)
    digest.update(_CANONICAL.encode(params))
    return digest.digest()


class CacheStatistics(msgspec.Struct, frozen=True):
    entries: int
    bytes: int
    hits: dict[str, int]
    misses: dict[str, int]
    evictions: int


class _Entry:
    __slots__ = ("encoded", "expires_at", "size", "tool")

    def __init__(self, tool: str, encoded: bytes, expires_at: float) -> None:
        self.tool = tool
        self.encoded = encoded
        self.expires_at = expires_at
        self.size = len(encoded) + ENTRY_OVERHEAD_BYTES


class ResultCache:
    """Results by ``call_key``; ``clock`` is injectable so expiry is tested without waiting."""

    def __init__(
        self,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1 or max_bytes < 1 or max_entry_bytes < 1:
            raise ValueError("cache limits must be positive")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        self._clock = clock
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._bytes = 0
        self._hits: Counter[str] = Counter()
        self._misses: Counter[str] = Counter()
        self._evictions = 0

    def get(self, key: bytes, tool: str) -> bytes | None:
        """The stored result's JSON, or None (a miss, counted for ``tool``)."""
        entry = self._entries.get(key)
        if entry is not None:
            if entry.expires_at > self._clock():
                self._entries.move_to_end(key)
                self._hits[tool] += 1
                return entry.encoded
            self._drop(key)
        self._misses[tool] += 1
        return None

    def put(self, key: bytes, tool: str, encoded: bytes, ttl: float) -> bool:
        """Store one result for ``ttl`` seconds; False when it is too big to keep."""
        size = len(encoded)
        if ttl <= 0 or size > self.max_entry_bytes or size + ENTRY_OVERHEAD_BYTES > self.max_bytes:
            return False
        if key in self._entries:
            self._drop(key)
        entry = _Entry(tool, encoded, self._clock() + ttl)
        self._entries[key] = entry
        self._bytes += entry.size
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            oldest = next(iter(self._entries))
            self._drop(oldest)
            self._evictions += 1
        return True

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def statistics(self) -> CacheStatistics:
        return CacheStatistics(
            entries=len(self._entries),
            bytes=self._bytes,
            hits=dict(self._hits),
            misses=dict(self._misses),
            evictions=self._evictions,
        )

    def _drop(self, key: bytes) -> None:
        entry = self._entries.pop(key)
        self._bytes -= entry.size
