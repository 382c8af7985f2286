"""Parameters the tools share: the namespace, query shapes, Extended JSON in and plain JSON out.

The supervisor has already checked params against each tool's JSON Schema; these checks repeat
what a schema cannot say (MongoDB's naming rules, operator placement) and make the tools safe to
call in-process too. Every failure is an ``InvalidArgumentError`` naming the field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

from bson import json_util

from .errors import InvalidArgumentError

__all__ = [
    "MAX_QUERIES",
    "NAMESPACE_SCHEMA",
    "QUERIES_SCHEMA",
    "Query",
    "parse_bool",
    "parse_filter",
    "parse_namespace",
    "parse_queries",
    "parse_sort",
    "plain",
]

MAX_QUERIES: Final = 50
MAX_DATABASE_NAME: Final = 63
DATABASE_FORBIDDEN: Final = re.compile(r"[/\\. \"$*<>:|?\x00]")
# Operators a filter may not carry: they run JavaScript or cannot be planned with an index.
FORBIDDEN_OPERATORS: Final = frozenset({"$where", "$function", "$accumulator"})

NAMESPACE_SCHEMA: Final[dict[str, Any]] = {
    "database": {
        "type": "string", "minLength": 1, "maxLength": MAX_DATABASE_NAME,
        "description": "Database name; default: the database of the configured URI.",
    },
    "collection": {
        "type": "string", "minLength": 1, "maxLength": 255,
        "description": "Collection name.",
    },
}  # fmt: skip
SORT_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": {"enum": [1, -1]},
    "description": 'Sort as MongoDB writes it, in order: {"created_at": -1}.',
}
QUERIES_SCHEMA: Final[dict[str, Any]] = {
    "type": "array",
    "maxItems": MAX_QUERIES,
    "description": "Query shapes to explain: filter (MongoDB Extended JSON), sort, limit.",
    "items": {
        "type": "object",
        "properties": {
            "filter": {"type": "object"},
            "sort": SORT_SCHEMA,
            "limit": {"type": "integer", "minimum": 0},
        },
        "additionalProperties": False,
    },
}


@dataclass(frozen=True)
class Query:
    filter: dict[str, Any]
    sort: tuple[tuple[str, int], ...] = ()
    limit: int | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"filter": plain(self.filter)}
        if self.sort:
            data["sort"] = dict(self.sort)
        if self.limit is not None:
            data["limit"] = self.limit
        return data


def parse_namespace(params: dict[str, Any], default_database: str | None) -> tuple[str, str]:
    database = params.get("database", default_database)
    if database is None:
        raise InvalidArgumentError(
            "database",
            "is missing and the configured URI names no database",
            "pass database, or end MONGODB_URI with /<database>",
        )
    if not isinstance(database, str) or not database:
        raise InvalidArgumentError("database", "must be a non-empty string")
    if len(database) > MAX_DATABASE_NAME or DATABASE_FORBIDDEN.search(database):
        raise InvalidArgumentError(
            "database",
            f"{database!r} is not a valid database name",
            f'use at most {MAX_DATABASE_NAME} characters, none of / \\ . space " $ * < > : | ?',
        )
    collection = params.get("collection")
    if not isinstance(collection, str) or not collection:
        raise InvalidArgumentError("collection", "must be a non-empty string")
    if "$" in collection or "\x00" in collection or collection.startswith("system."):
        raise InvalidArgumentError(
            "collection",
            f"{collection!r} is not a user collection name",
            "use a name without '$' that does not start with 'system.'",
        )
    return database, collection


def parse_bool(params: dict[str, Any], field: str, default: bool) -> bool:
    value = params.get(field, default)
    if not isinstance(value, bool):
        raise InvalidArgumentError(field, f"must be true or false, got {type(value).__name__}")
    return value


def parse_queries(value: Any, field: str) -> tuple[Query, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidArgumentError(field, "must be a list of {filter, sort, limit} objects")
    if len(value) > MAX_QUERIES:
        raise InvalidArgumentError(
            field, f"has {len(value)} entries", f"pass at most {MAX_QUERIES}"
        )
    return tuple(_parse_query(item, f"{field}[{i}]") for i, item in enumerate(value))


def parse_filter(value: Any, field: str) -> dict[str, Any]:
    """A filter in MongoDB Extended JSON (``{"$date": ...}``, ``{"$oid": ...}``) made BSON-ready."""
    if not isinstance(value, dict):
        raise InvalidArgumentError(field, f"must be an object, got {type(value).__name__}")
    try:
        decoded = json_util.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(field, f"is not valid MongoDB Extended JSON: {exc}") from None
    _check_operators(decoded, field)
    result: dict[str, Any] = decoded
    return result


def parse_sort(value: Any, field: str) -> tuple[tuple[str, int], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise InvalidArgumentError(field, 'must be an object such as {"created_at": -1}')
    pairs: list[tuple[str, int]] = []
    for name, direction in value.items():
        if not name or name.startswith("$"):
            raise InvalidArgumentError(f"{field}.{name}", "is not a field path")
        if isinstance(direction, bool) or direction not in (1, -1):
            raise InvalidArgumentError(f"{field}.{name}", f"must be 1 or -1, got {direction!r}")
        pairs.append((name, int(direction)))
    return tuple(pairs)


def plain(value: Any) -> Any:
    """BSON values as plain JSON (relaxed Extended JSON: dates as {"$date": ISO-8601})."""
    return json.loads(json_util.dumps(value, json_options=json_util.RELAXED_JSON_OPTIONS))


def _parse_query(item: Any, field: str) -> Query:
    if not isinstance(item, dict):
        raise InvalidArgumentError(field, "must be an object with filter, sort and limit")
    unknown = set(item) - {"filter", "sort", "limit"}
    if unknown:
        raise InvalidArgumentError(
            f"{field}.{sorted(unknown)[0]}", "is not a query key", "use filter, sort and limit"
        )
    limit = item.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise InvalidArgumentError(f"{field}.limit", f"must be a whole number >= 0, got {limit!r}")
    return Query(
        filter=parse_filter(item.get("filter", {}), f"{field}.filter"),
        sort=parse_sort(item.get("sort"), f"{field}.sort"),
        limit=limit,
    )


def _check_operators(value: Any, field: str) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in FORBIDDEN_OPERATORS:
                raise InvalidArgumentError(
                    f"{field}.{key}",
                    "runs server-side JavaScript",
                    "express it with query operators",
                )
            _check_operators(inner, f"{field}.{key}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            _check_operators(inner, f"{field}[{index}]")
