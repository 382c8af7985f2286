"""Index findings of both analysis tools: every index with its usage, redundant and unused ones."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from .esr import IndexInfo, redundant_indexes

if TYPE_CHECKING:
    from .server import IndexUsage

__all__ = ["ID_INDEX", "index_findings", "index_kinds"]

ID_INDEX: Final = "_id_"
OPTION_LABELS: Final = {
    "unique": "unique",
    "sparse": "sparse",
    "partialFilterExpression": "partial",
    "expireAfterSeconds": "ttl",
    "hidden": "hidden",
}


def index_kinds(info: IndexInfo) -> list[str]:
    kinds = ["compound" if len(info.key) > 1 else "single"]
    kinds += sorted({str(kind) for _, kind in info.key if isinstance(kind, str)})
    kinds += [
        label
        for option, label in OPTION_LABELS.items()
        if info.options.get(option) not in (None, False)
    ]
    return kinds


def index_findings(
    indexes: list[IndexInfo],
    usage: Mapping[str, IndexUsage],
    sizes: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """``indexes`` (keys, kinds, size, accesses), ``redundant_indexes``, ``unused_indexes``.

    Unused means no access counted by ``$indexStats`` since the index was built or the server
    last started; ``_id_`` is never called unused (it cannot be dropped).
    """
    rows = []
    for info in indexes:
        entry = usage.get(info.name)
        row: dict[str, Any] = {
            **info.to_json(),
            "kinds": index_kinds(info),
            "accesses": None if entry is None else entry.ops,
            "accesses_since": _when(None if entry is None else entry.since),
        }
        if info.options.get("expireAfterSeconds") is not None:
            row["expire_after_seconds"] = info.options["expireAfterSeconds"]
        if sizes is not None:
            row["size_bytes"] = sizes.get(info.name)
        rows.append(row)
    return {
        "indexes": rows,
        "redundant_indexes": [
            {
                "name": short.name,
                "keys": short.to_json()["keys"],
                "covered_by": long.name,
                "advice": f"drop {short.name!r}: {long.name!r} starts with the same keys, so it "
                "serves every query the shorter one does",
            }
            for short, long in redundant_indexes(indexes)
        ],
        "unused_indexes": [
            info.name
            for info in indexes
            if info.name != ID_INDEX and (e := usage.get(info.name)) is not None and e.ops == 0
        ],
    }


def _when(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return None if value is None else str(value)
