"""Validation shared by the plugin's configuration and the tools' per-call overrides.

Every error is a ``ValueError`` whose message starts with the offending field, so an operator
reading a load failure or a caller reading a tool error knows exactly what to change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "DEFAULT_THRESHOLDS",
    "METRICS",
    "Target",
    "parse_disk_paths",
    "parse_number",
    "parse_targets",
    "parse_thresholds",
]

METRICS: Final = ("cpu", "memory", "disk")
DEFAULT_THRESHOLDS: Final[dict[str, float]] = {"cpu": 80.0, "memory": 85.0, "disk": 90.0}


@dataclass(frozen=True)
class Target:
    """A TCP endpoint to probe; ``text`` is kept so results echo what the caller wrote."""

    text: str
    host: str
    port: int


def parse_number(value: Any, field: str, low: float, high: float) -> float:
    """A finite number in ``[low, high]``.

    Numeric strings are accepted because ``${VAR}`` substitution in plugin.yaml always yields
    strings; booleans are refused even though Python treats them as ints.
    """
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError(f"{field} must be a number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{field} must be a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise ValueError(f"{field} must be between {low:g} and {high:g}, got {value!r}")
    return number


def parse_thresholds(
    value: Any, field: str, base: dict[str, float] | None = None
) -> dict[str, float]:
    """Merge a partial ``{cpu, memory, disk}`` mapping of percentages over ``base``."""
    merged = dict(DEFAULT_THRESHOLDS if base is None else base)
    if value is None:
        return merged
    if not isinstance(value, dict):
        raise ValueError(f"{field} must be a mapping of cpu/memory/disk to percentages")
    for key, raw in value.items():
        if key not in METRICS:
            raise ValueError(
                f"{field}.{key} is not a known metric; use one of {', '.join(METRICS)}"
            )
        merged[key] = parse_number(raw, f"{field}.{key}", 0.0, 100.0)
    return merged


def _parse_target(text: Any, field: str) -> Target:
    if not isinstance(text, str):
        raise ValueError(f"{field} must be a 'host:port' string, got {type(text).__name__}")
    host, sep, port_text = text.strip().rpartition(":")
    # Brackets let IPv6 literals carry colons of their own, as in URLs.
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"{field} must be 'host:port' with a port 1-65535, got {text!r}")
    return Target(text=text, host=host, port=int(port_text))


def parse_targets(value: Any, field: str) -> tuple[Target, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ValueError(f"{field} must be a list of 'host:port' strings")
    return tuple(_parse_target(item, f"{field}[{i}]") for i, item in enumerate(value))


def parse_disk_paths(value: Any, field: str) -> tuple[str, ...]:
    if value is None:
        return ("/",)
    if not isinstance(value, list) or not all(isinstance(p, str) and p for p in value):
        raise ValueError(f"{field} must be a list of non-empty path strings")
    return tuple(value)
