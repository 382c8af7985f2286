"""``mongodb_collection_stats``: sizes, indexes and their usage, query plans, and storage advice.

Sizes come from ``$collStats`` (falling back to the ``collStats`` command), index usage from
``$indexStats``, plans from ``explain`` of the given queries or of shapes sampled from the
profiler. Storage sizes are what WiredTiger has checkpointed, so they lag writes by up to a
checkpoint interval (60 s by default); counts and data sizes do not.
"""

from __future__ import annotations

from typing import Any, Final

from .context import ToolContext, reject_unknown
from .inputs import NAMESPACE_SCHEMA, QUERIES_SCHEMA, Query, parse_namespace, parse_queries
from .plans import PlanSummary
from .recommend import MAX_EXAMINED_PER_RETURNED
from .reports import index_findings
from .server import (
    StorageStats,
    explain,
    index_usage,
    list_indexes,
    require_collection,
    sample_profiler,
    storage_stats,
)
from .settings import parse_number

__all__ = ["CollectionStatsTool"]

MIB: Final = 1024 * 1024
# Reclaimable space worth a compact: at least half the file and at least this much.
COMPACT_FREE_RATIO: Final = 0.5
COMPACT_MIN_BYTES: Final = 64 * MIB
# Documents this large are slow to read and update whole; the hard limit is 16 MiB.
LARGE_DOCUMENT_BYTES: Final = 1 * MIB
# Indexes larger than the data are only worth flagging once the data is not trivial.
INDEX_OVER_DATA_MIN_BYTES: Final = 1 * MIB
MAX_SAMPLED_QUERIES: Final = 50
PROPERTIES: Final[dict[str, Any]] = {
    **NAMESPACE_SCHEMA,
    "queries": QUERIES_SCHEMA,
    "sample_queries": {
        "type": "integer", "minimum": 0, "maximum": MAX_SAMPLED_QUERIES, "default": 0,
        "description": "Also explain up to this many distinct query shapes from the profiler.",
    },
}  # fmt: skip


class CollectionStatsTool:
    name: Final = "mongodb_collection_stats"
    description: Final = (
        "Document count, data, storage and per-index sizes, index usage (unused indexes "
        "called out), query plans of given or sampled queries (COLLSCAN vs IXSCAN, keys and "
        "documents examined vs returned) and storage recommendations."
    )

    def __init__(self, context: ToolContext) -> None:
        self._context = context

    def get_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": PROPERTIES,
            "required": ["collection"],
            "additionalProperties": False,
        }

    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        params = params or {}
        reject_unknown(params, PROPERTIES)
        settings = self._context.settings
        database, collection = parse_namespace(params, settings.default_database)
        queries = list(parse_queries(params.get("queries"), "queries"))
        sample = int(
            parse_number(
                params.get("sample_queries", 0),
                "sample_queries",
                0,
                MAX_SAMPLED_QUERIES,
                integer=True,
            )
        )
        namespace = f"{database}.{collection}"
        with self._context.server_call(self.name, f"collecting statistics of {namespace}"):
            db = self._context.client()[database]
            require_collection(db, collection)
            target = db[collection]
            storage = storage_stats(db, collection)
            indexes = list_indexes(target)
            usage = index_usage(target)
            sampled = (
                _distinct(sample_profiler(db, collection, settings.profiler_sample_limit))[:sample]
                if sample
                else []
            )
            plans = [(query, explain(db, collection, query)) for query in [*queries, *sampled]]
        findings = index_findings(indexes, usage, storage.index_sizes)
        return {
            "namespace": namespace,
            "source": storage.source,
            "count": storage.count,
            "size_bytes": storage.size,
            "storage_size_bytes": storage.storage_size,
            "free_storage_bytes": storage.free_storage_size,
            "avg_document_bytes": storage.avg_obj_size,
            "total_index_size_bytes": storage.total_index_size,
            "index_count": len(indexes),
            "capped": storage.capped,
            **findings,
            "queries": [
                {**query.to_json(), "sampled": i >= len(queries), "plan": plan.to_json()}
                for i, (query, plan) in enumerate(plans)
            ],
            "recommendations": _advice(storage, findings, plans),
        }


def _distinct(queries: list[Query]) -> list[Query]:
    """One query per set of filtered fields and sort, the newest (the profiler's order)."""
    seen: dict[str, Query] = {}
    for query in queries:
        seen.setdefault(repr((sorted(query.filter), query.sort)), query)
    return list(seen.values())


def _advice(
    storage: StorageStats, findings: dict[str, Any], plans: list[tuple[Query, PlanSummary]]
) -> list[dict[str, str]]:
    advice: list[dict[str, str]] = []

    def add(kind: str, severity: str, message: str) -> None:
        advice.append({"kind": kind, "severity": severity, "message": message})

    free = storage.free_storage_size or 0
    if (
        storage.storage_size
        and free >= COMPACT_MIN_BYTES
        and free / storage.storage_size >= COMPACT_FREE_RATIO
    ):
        add("storage", "warning",
            f"{free / MIB:.0f} MiB of {storage.storage_size / MIB:.0f} MiB on disk is free space: "
            "run compact in a maintenance window to return it to the OS")  # fmt: skip
    if storage.size >= INDEX_OVER_DATA_MIN_BYTES and storage.total_index_size > storage.size:
        add("storage", "warning",
            f"indexes ({storage.total_index_size / MIB:.1f} MiB) are larger than the data "
            f"({storage.size / MIB:.1f} MiB): review unused and redundant indexes")  # fmt: skip
    if storage.avg_obj_size >= LARGE_DOCUMENT_BYTES:
        add("storage", "warning",
            f"average document is {storage.avg_obj_size / MIB:.1f} MiB (limit 16 MiB): move "
            "large or growing parts to their own collection or GridFS")  # fmt: skip
    for entry in findings["redundant_indexes"]:
        add("index", "warning", entry["advice"])
    for name in findings["unused_indexes"]:
        add("index", "info",
            f"index {name!r} has not been used since it was built or the server started: drop "
            "it if that covers a full business cycle (it costs on every write)")  # fmt: skip
    for i, (_, plan) in enumerate(plans):
        ratio = plan.examined_per_returned or 0.0
        if plan.collection_scan:
            add("query", "warning",
                f"query {i} scans the whole collection ({plan.docs_examined} documents for "
                f"{plan.returned}): pass it to mongodb_recommend_indexes")  # fmt: skip
        elif plan.blocking_sort:
            add("query", "info", f"query {i} sorts in memory: an index with the sort keys after "
                "the equality fields avoids it (mongodb_recommend_indexes)")  # fmt: skip
        elif ratio > MAX_EXAMINED_PER_RETURNED:
            add("query", "info", f"query {i} reads {ratio:g} keys or documents per result: a "
                "more selective index would help (mongodb_recommend_indexes)")  # fmt: skip
    if storage.count == 0:
        add("storage", "info", "the collection is empty")
    return advice
