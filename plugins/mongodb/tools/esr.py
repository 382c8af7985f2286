"""Index recommendations from query shapes, by the ESR rule; pure, no I/O.

A filter and a sort are reduced to a ``Shape``: the fields matched by Equality, the Sort keys and
the fields matched by a Range. The index that serves the shape best lists them in that order
(equality, sort, range): equality fields first so the scan starts at one key prefix, then the
sort keys so the index returns documents already in order (no blocking SORT), then the range
fields, which would break the order of any key after them.

Refinements that follow from the rule:

- a field matched by equality needs no place among the sort keys (it is constant);
- a range on a sort key is served by that sort key's position, so it is not repeated;
- ``$in`` with one value is an equality; with several, it is an equality unless the query also
  sorts, where it behaves as a range (the index order is per value);
- ``$ne``, ``$nin``, ``$not``, ``$exists``, ``$type``, ``$regex`` and regular expressions are
  ranges; ``$elemMatch`` on a field is an equality on it;
- ``$or`` is planned per clause: each clause (with the predicates outside the ``$or``) is a
  shape of its own; ``$nor``, ``$expr``, ``$text`` and geo operators are not planned here and are
  reported as notes.

An existing index serves a shape when the shape's key is a prefix of it, equality fields in any
order, sort keys in order (all directions the same or all reversed), range fields in any order.
An index is redundant when another index starts with all of its keys (same directions, or all
reversed) and it carries no option of its own (unique, partial, sparse, TTL, collation, hidden).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "IndexInfo",
    "Key",
    "Shape",
    "analyse",
    "index_name",
    "is_prefix",
    "merge_candidates",
    "redundant_indexes",
    "serves",
]

Key = tuple[tuple[str, Any], ...]
MAX_INDEX_FIELDS: Final = 32
EQUALITY_OPERATORS: Final = frozenset({"$eq", "$elemMatch", "$all"})
RANGE_OPERATORS: Final = frozenset({
    "$gt", "$gte", "$lt", "$lte", "$ne", "$nin", "$not", "$exists", "$type", "$regex", "$mod",
    "$bitsAllSet", "$bitsAnySet", "$bitsAllClear", "$bitsAnyClear",
})  # fmt: skip
GEO_OPERATORS: Final = frozenset({"$geoWithin", "$geoIntersects", "$near", "$nearSphere"})
UNPLANNED_TOP_LEVEL: Final = frozenset({"$nor", "$expr", "$text", "$comment", "$jsonSchema"})
# Options that make an index more than its keys; such an index is never called redundant.
DISTINCT_OPTIONS: Final = (
    "unique", "partialFilterExpression", "sparse", "expireAfterSeconds", "collation", "hidden",
)  # fmt: skip


@dataclass(frozen=True)
class Shape:
    equality: tuple[str, ...]
    sort: tuple[tuple[str, int], ...]
    range: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @property
    def key(self) -> Key:
        """The ESR index key: equality ascending, sort keys as sorted, ranges ascending."""
        pairs: list[tuple[str, Any]] = [(f, 1) for f in self.equality]
        pairs += list(self.sort)
        pairs += [(f, 1) for f in self.range]
        return tuple(pairs[:MAX_INDEX_FIELDS])

    @property
    def plannable(self) -> bool:
        return bool(self.equality or self.sort or self.range)

    def describe(self) -> str:
        """One line: ``equality [status] sort [created_at -1] range [total]``."""
        parts = []
        if self.equality:
            parts.append(f"equality [{', '.join(self.equality)}]")
        if self.sort:
            parts.append(f"sort [{', '.join(f'{f} {d}' for f, d in self.sort)}]")
        if self.range:
            parts.append(f"range [{', '.join(self.range)}]")
        return " ".join(parts) or "no indexable predicate"

    def to_json(self) -> dict[str, Any]:
        return {
            "equality": list(self.equality),
            "sort": [[f, d] for f, d in self.sort],
            "range": list(self.range),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class IndexInfo:
    """An existing index as ``listIndexes`` reports it, text keys expanded from its weights."""

    name: str
    key: Key
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_server(cls, spec: Mapping[str, Any]) -> IndexInfo:
        raw = list(dict(spec.get("key") or {}).items())
        weights = spec.get("weights")
        key: list[tuple[str, Any]] = []
        for name, kind in raw:
            if name == "_fts" and isinstance(weights, Mapping):
                key += [(text_field, "text") for text_field in weights]
            elif name != "_ftsx":
                key.append((name, kind))
        options = {k: v for k, v in spec.items() if k not in ("key", "name", "v", "ns")}
        return cls(name=str(spec.get("name")), key=tuple(key), options=options)

    @property
    def plain_btree(self) -> bool:
        return all(_is_direction(kind) for _, kind in self.key)

    @property
    def distinct_options(self) -> list[str]:
        return [
            option for option in DISTINCT_OPTIONS if self.options.get(option) not in (None, False)
        ]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "keys": [[f, k] for f, k in self.key]}


def analyse(filter: Mapping[str, Any], sort: Sequence[tuple[str, int]] = ()) -> list[Shape]:
    """The shapes of one query: one, or one per ``$or`` clause."""
    notes: list[str] = []
    equality: list[str] = []
    ranges: list[str] = []
    clauses: list[Mapping[str, Any]] = []
    _collect(filter, bool(sort), equality, ranges, clauses, notes)
    if not clauses:
        return [_shape(equality, ranges, sort, notes)]
    shapes = []
    for clause in clauses:
        clause_eq, clause_ranges = list(equality), list(ranges)
        clause_notes = [*notes, "$or clause planned on its own (MongoDB runs one scan per clause)"]
        _collect(clause, bool(sort), clause_eq, clause_ranges, [], clause_notes)
        shapes.append(_shape(clause_eq, clause_ranges, sort, clause_notes))
    return shapes


def serves(index: Key, shape_key: Key, shape: Shape) -> bool:
    """Whether an index with key ``index`` serves ``shape`` as well as its ESR key would."""
    if len(index) < len(shape_key):
        return False
    position = 0
    for group in (list(shape.equality), [f for f, _ in shape.sort], list(shape.range)):
        names = [name for name in group if any(name == f for f, _ in shape_key)]
        window = index[position : position + len(names)]
        if {f for f, _ in window} != set(names) or not all(_is_direction(k) for _, k in window):
            return False
        position += len(names)
    sort_fields = {f for f, _ in shape.sort}
    in_index = [(f, k) for f, k in index[: len(shape_key)] if f in sort_fields]
    return _same_or_reversed(tuple(in_index), tuple(shape.sort))


def is_prefix(short: Key, long: Key) -> bool:
    """``short`` starts ``long`` with the same directions, or with every direction reversed."""
    if len(short) > len(long):
        return False
    return _same_or_reversed(short, long[: len(short)])


def merge_candidates(keys: Iterable[Key]) -> list[Key]:
    """Distinct candidate keys without those that are a prefix of another candidate."""
    unique = list(dict.fromkeys(keys))
    return [
        key for key in unique if not any(other != key and is_prefix(key, other) for other in unique)
    ]


def redundant_indexes(indexes: Sequence[IndexInfo]) -> list[tuple[IndexInfo, IndexInfo]]:
    """``(redundant, covered_by)`` pairs: the first index's keys start the second one's."""
    found = []
    for short in indexes:
        if short.name == "_id_" or not short.plain_btree or short.distinct_options:
            continue
        for long in indexes:
            if long is short or long.options.get("hidden") or _narrower(long):
                continue
            if len(long.key) > len(short.key) and is_prefix(short.key, long.key):
                found.append((short, long))
                break
    return found


def index_name(key: Key) -> str:
    """The name MongoDB itself would give: ``status_1_created_at_-1``."""
    return "_".join(f"{name}_{kind}" for name, kind in key)


def _collect(
    filter: Mapping[str, Any],
    sorted_query: bool,
    equality: list[str],
    ranges: list[str],
    clauses: list[Mapping[str, Any]],
    notes: list[str],
) -> None:
    for name, value in filter.items():
        if name == "$and" and isinstance(value, list):
            for part in value:
                if isinstance(part, Mapping):
                    _collect(part, sorted_query, equality, ranges, clauses, notes)
        elif name == "$or" and isinstance(value, list):
            if clauses:
                notes.append("a second $or is not planned; only the first one was split")
            else:
                clauses.extend(part for part in value if isinstance(part, Mapping))
        elif name.startswith("$"):
            if name in UNPLANNED_TOP_LEVEL:
                notes.append(f"{name} is not planned here; it needs its own analysis")
        else:
            _classify(name, value, sorted_query, equality, ranges, notes)


def _classify(
    name: str,
    value: Any,
    sorted_query: bool,
    equality: list[str],
    ranges: list[str],
    notes: list[str],
) -> None:
    role = "equality"
    if isinstance(value, re.Pattern) or type(value).__name__ == "Regex":
        role = "range"
    elif isinstance(value, Mapping) and value and all(str(k).startswith("$") for k in value):
        operators = set(value)
        if operators & GEO_OPERATORS:
            notes.append(
                f"{name}: geo query; create a 2dsphere index on it with mongodb_create_index"
            )
            return
        if "$in" in operators:
            values = value["$in"]
            many = not isinstance(values, list) or len(values) > 1
            if many and sorted_query:
                role = "range"
                notes.append(f"{name}: $in with several values under a sort is placed as a range")
        if operators & RANGE_OPERATORS:
            role = "range"
        elif not operators & (EQUALITY_OPERATORS | {"$in"}):
            notes.append(f"{name}: operators {sorted(operators)} are treated as a range")
            role = "range"
    target = equality if role == "equality" else ranges
    other = ranges if role == "equality" else equality
    if name in other:
        # Matched both ways (an equality and a bound, say): the range is what limits the key.
        if role == "range":
            other.remove(name)
        else:
            return
    if name not in target:
        target.append(name)


def _shape(
    equality: list[str], ranges: list[str], sort: Sequence[tuple[str, int]], notes: list[str]
) -> Shape:
    sort_pairs = tuple((f, d) for f, d in sort if f not in equality)
    sort_fields = {f for f, _ in sort_pairs}
    return Shape(
        equality=tuple(equality),
        sort=sort_pairs,
        range=tuple(f for f in ranges if f not in sort_fields),
        notes=tuple(dict.fromkeys(notes)),
    )


def _narrower(index: IndexInfo) -> bool:
    """An index that holds fewer documents than its keys say cannot stand in for another."""
    return any(
        index.options.get(o) not in (None, False)
        for o in ("partialFilterExpression", "sparse", "collation")
    )


def _is_direction(kind: Any) -> bool:
    return not isinstance(kind, bool) and isinstance(kind, int | float) and kind in (1, -1)


def _same_or_reversed(a: Key, b: Key) -> bool:
    if len(a) != len(b) or any(fa != fb for (fa, _), (fb, _) in zip(a, b, strict=True)):
        return False
    if not all(_is_direction(k) for _, k in (*a, *b)):
        return a == b
    same = all(ka == kb for (_, ka), (_, kb) in zip(a, b, strict=True))
    reversed_ = all(ka == -kb for (_, ka), (_, kb) in zip(a, b, strict=True))
    return same or reversed_
