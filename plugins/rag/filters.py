"""Metadata filters as callers write them, turned into the store's ``Filter``.

    {"category": "science"}               equals
    {"tags": ["ai", "ml"]}                any of (for a list-valued field: shares one of them)
    {"year": {"gte": 2020, "lt": 2024}}   range, for integer and float fields
    {"document_id": "doc-1"}              built in: only chunks of these documents

Only fields listed under ``configuration.filterable_fields`` (which are indexed) and
``document_id`` may be filtered on; anything else is an ``InputError`` naming the field.
"""

from __future__ import annotations

from typing import Any, Final

from .documents import is_of_type
from .errors import InputError
from .payload import DOCUMENT_ID, metadata_key
from .settings import FieldType, RagSettings
from .store import Condition, Filter, Match, MatchAny, Range

__all__ = ["parse_filters"]

RANGE_KEYS: Final = ("gte", "gt", "lte", "lt")
MAX_ANY_VALUES: Final = 1024


def parse_filters(value: Any, settings: RagSettings, field: str = "filters") -> Filter | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InputError(
            field, f"must be an object of field: condition, got {type(value).__name__}"
        )
    types: dict[str, FieldType] = {DOCUMENT_ID: "keyword", **settings.field_types}
    conditions: list[Condition] = []
    for name, condition in value.items():
        where = f"{field}.{name}"
        kind = types.get(name)
        if kind is None:
            known = ", ".join(f"{n} ({k})" for n, k in types.items())
            raise InputError(
                where,
                f"is not a filterable field; the filterable fields are {known}. To filter on "
                "another metadata field, add it under configuration.filterable_fields",
            )
        key = DOCUMENT_ID if name == DOCUMENT_ID else metadata_key(name)
        conditions.append(_condition(key, kind, condition, where))
    return Filter(must=tuple(conditions)) if conditions else None


def _condition(key: str, kind: FieldType, value: Any, where: str) -> Condition:
    if isinstance(value, dict):
        return _range(key, kind, value, where)
    if isinstance(value, list):
        if not value or len(value) > MAX_ANY_VALUES:
            raise InputError(where, f"a list matches any of its 1-{MAX_ANY_VALUES} values")
        if kind not in ("keyword", "integer"):
            raise InputError(where, f"lists work for keyword and integer fields; {kind} is not")
        for index, item in enumerate(value):
            _check_scalar(item, kind, f"{where}[{index}]")
        return MatchAny(key, tuple(value))
    _check_scalar(value, kind, where)
    if kind == "float":
        return Range(key, gte=float(value), lte=float(value))
    return Match(key, value)


def _range(key: str, kind: FieldType, value: dict[str, Any], where: str) -> Range:
    if kind not in ("integer", "float"):
        raise InputError(where, f"ranges work for integer and float fields; this one is {kind}")
    unknown = sorted(set(value) - set(RANGE_KEYS))
    if unknown or not value:
        raise InputError(
            where, f"a range takes one or more of {', '.join(RANGE_KEYS)}; got {sorted(value)}"
        )
    bounds: dict[str, float] = {}
    for bound, number in value.items():
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise InputError(f"{where}.{bound}", f"must be a number, got {number!r}")
        bounds[bound] = float(number)
    return Range(key, **bounds)


def _check_scalar(value: Any, kind: FieldType, where: str) -> None:
    if not is_of_type(value, kind):
        raise InputError(where, f"is a {kind} field; {value!r} is not a {kind} value")
