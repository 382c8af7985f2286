"""What an alert is, and the events that announce it: one ``firing``, later one ``resolved``."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

import msgspec

__all__ = ["Alert", "AlertEvent", "Finding", "Severity"]


class Severity(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"


class Finding(msgspec.Struct, frozen=True):
    """One rule's verdict on one subject in one evaluation: this is over its threshold now."""

    rule: str
    subject: str
    severity: Severity
    message: str
    value: float
    threshold: float


class Alert(msgspec.Struct, frozen=True):
    """A finding that holds, with when it started; ``(rule, subject)`` is its identity."""

    rule: str
    subject: str
    severity: Severity
    message: str
    value: float
    threshold: float
    since: datetime


class AlertEvent(msgspec.Struct, frozen=True):
    """Sent when an alert starts firing, escalates or de-escalates, and when it resolves."""

    state: Literal["firing", "resolved"]
    alert: Alert
    at: datetime
