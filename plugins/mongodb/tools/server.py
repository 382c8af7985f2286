"""What the tools ask the server: collections, indexes and their usage, explain, storage
statistics, the profiler, and index builds. Always called inside ``client.server_errors``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import OperationFailure

from .errors import CollectionNotFoundError, InvalidArgumentError, ServerCommandError
from .esr import IndexInfo
from .index_spec import IndexRequest
from .inputs import Query, plain
from .plans import PlanSummary, parse_explain

__all__ = [
    "IndexUsage",
    "StorageStats",
    "build_index",
    "collection_exists",
    "explain",
    "index_failure",
    "index_usage",
    "list_indexes",
    "queries_from_profile",
    "require_collection",
    "sample_profiler",
    "storage_stats",
    "storage_stats_by_command",
]

Document = dict[str, Any]
MAX_LISTED_COLLECTIONS: Final = 20
# $collStats storageStats carries WiredTiger's internals (tens of KiB): dropped at the source.
STORAGE_PROJECTION: Final = {"storageStats.wiredTiger": 0, "storageStats.indexDetails": 0}
# Server error codes of an index build that point at one request field.
DUPLICATE_KEY: Final = 11000
INDEX_CONFLICTS: Final = frozenset({85, 86})  # IndexOptionsConflict, IndexKeySpecsConflict
FIELD_HINTS: Final = (
    ("partialFilterExpression", "partial_filter"),
    ("expireAfterSeconds", "expire_after_seconds"),
    ("weights", "weights"),
    ("language", "default_language"),
    ("geo", "keys"),
    ("text index", "keys"),
)


@dataclass(frozen=True)
class StorageStats:
    source: str  # "$collStats" or "collStats"
    count: int
    size: int
    storage_size: int
    free_storage_size: int | None
    avg_obj_size: int
    total_index_size: int
    index_sizes: dict[str, int]
    capped: bool


@dataclass(frozen=True)
class IndexUsage:
    ops: int
    since: Any


def collection_exists(db: Database[Document], name: str) -> bool:
    return bool(db.list_collection_names(filter={"name": name}))


def require_collection(db: Database[Document], name: str) -> None:
    if collection_exists(db, name):
        return
    existing = sorted(db.list_collection_names(filter={"name": {"$not": {"$regex": "^system\\."}}}))
    shown = ", ".join(existing[:MAX_LISTED_COLLECTIONS]) or "none"
    if len(existing) > MAX_LISTED_COLLECTIONS:
        shown += f" (and {len(existing) - MAX_LISTED_COLLECTIONS} more)"
    raise CollectionNotFoundError(
        "collection",
        f"{name!r} does not exist in database {db.name!r}",
        f"use one of: {shown}",
    )


def list_indexes(collection: Collection[Document]) -> list[IndexInfo]:
    return [IndexInfo.from_server(spec) for spec in collection.list_indexes()]


def index_usage(collection: Collection[Document]) -> dict[str, IndexUsage]:
    """``$indexStats`` accesses per index name: counted since the index was built or the
    server started, on the server answering (one member of a replica set)."""
    usage: dict[str, IndexUsage] = {}
    for entry in collection.aggregate([{"$indexStats": {}}]):
        accesses = entry.get("accesses") or {}
        usage[str(entry["name"])] = IndexUsage(int(accesses.get("ops", 0)), accesses.get("since"))
    return usage


def explain(db: Database[Document], collection: str, query: Query) -> PlanSummary:
    command: Document = {"find": collection, "filter": query.filter}
    if query.sort:
        command["sort"] = dict(query.sort)
    if query.limit:
        command["limit"] = query.limit
    return parse_explain(db.command("explain", command, verbosity="executionStats"))


def storage_stats(db: Database[Document], collection: str) -> StorageStats:
    """From ``$collStats`` (the supported way since 6.2), else the ``collStats`` command."""
    try:
        rows = list(
            db[collection].aggregate(
                [{"$collStats": {"storageStats": {}}}, {"$project": STORAGE_PROJECTION}]
            )
        )
    except OperationFailure:
        return storage_stats_by_command(db, collection)
    if not rows:
        return storage_stats_by_command(db, collection)
    return _storage(rows[0].get("storageStats") or {}, "$collStats")


def storage_stats_by_command(db: Database[Document], collection: str) -> StorageStats:
    """The ``collStats`` command: deprecated since 6.2, still the only way on older servers."""
    return _storage(db.command("collStats", collection), "collStats")


def sample_profiler(db: Database[Document], collection: str, limit: int) -> list[Query]:
    """Recent operations on ``collection`` recorded by the database profiler, newest first."""
    entries = (
        db["system.profile"]
        .find({"ns": f"{db.name}.{collection}"}, {"op": 1, "command": 1})
        .sort("ts", -1)
        .limit(limit)
    )
    return queries_from_profile(entries, collection)


def queries_from_profile(entries: Iterable[Mapping[str, Any]], collection: str) -> list[Query]:
    """The filter and sort of each profiled find, count, distinct, update, delete and
    aggregate (a leading ``$match``, and a ``$sort`` right after it) on ``collection``."""
    queries: list[Query] = []
    for entry in entries:
        command = entry.get("command")
        if not isinstance(command, Mapping):
            continue
        op = entry.get("op")
        found: tuple[Any, Any] | None = None
        if op == "query" and command.get("find") == collection:
            found = command.get("filter"), command.get("sort")
        elif op == "command" and command.get("aggregate") == collection:
            found = _pipeline_query(command.get("pipeline"))
        elif op == "command" and (
            command.get("count") == collection or command.get("distinct") == collection
        ):
            found = command.get("query"), None
        elif op in ("update", "remove") and isinstance(command.get("q"), Mapping):
            found = command.get("q"), None
        if found is None or not isinstance(found[0] or {}, Mapping):
            continue
        sort = found[1] if isinstance(found[1], Mapping) else {}
        queries.append(
            Query(
                filter=dict(found[0] or {}),
                sort=tuple((str(k), 1 if v == 1 else -1) for k, v in sort.items() if v in (1, -1)),
            )
        )
    return queries


def build_index(collection: Collection[Document], request: IndexRequest) -> Document:
    """Build ``request`` unless an equivalent index exists; what happened and how long it took."""
    existing = list_indexes(collection)
    for info in existing:
        if request.equivalent_to(info):
            return {
                "created": False,
                "name": info.name,
                "message": f"an equivalent index {info.name!r} already exists; nothing was built",
                "build_time_ms": 0.0,
            }
    for info in existing:
        if info.name == request.name:
            raise InvalidArgumentError(
                "name",
                f"an index named {info.name!r} already exists with keys {plain(dict(info.key))}",
                "choose another name, or drop that index first",
            )
    started = time.perf_counter()
    collection.create_indexes([request.model()])
    elapsed = (time.perf_counter() - started) * 1000
    return {
        "created": True,
        "name": request.name,
        "message": f"built index {request.name!r} in {elapsed:.1f} ms",
        "build_time_ms": round(elapsed, 3),
    }


def index_failure(exc: ServerCommandError, request: IndexRequest) -> Exception:
    """A server refusal of an index build, restated against the request field it concerns."""
    text = str(exc)
    if exc.code == DUPLICATE_KEY:
        fields = ", ".join(f for f, _ in request.keys)
        return InvalidArgumentError(
            "unique",
            f"documents already repeat the key ({fields}); the server said: {text}",
            "remove or merge the duplicates first, or create the index without unique",
        )
    if exc.code in INDEX_CONFLICTS:
        return InvalidArgumentError(
            "keys",
            f"conflicts with an existing index: {text}",
            "drop the existing index, or change the name or options",
        )
    for needle, field in FIELD_HINTS:
        if needle in text and exc.code is not None:
            return InvalidArgumentError(field, f"the server refused it: {text}", "fix this option")
    return exc


def _storage(stats: Mapping[str, Any], source: str) -> StorageStats:
    sizes = stats.get("indexSizes") or {}
    free = stats.get("freeStorageSize")
    return StorageStats(
        source=source,
        count=int(stats.get("count", 0)),
        size=int(stats.get("size", 0)),
        storage_size=int(stats.get("storageSize", 0)),
        free_storage_size=None if free is None else int(free),
        avg_obj_size=int(stats.get("avgObjSize", 0)),
        total_index_size=int(stats.get("totalIndexSize", 0)),
        index_sizes={str(k): int(v) for k, v in sizes.items()},
        capped=bool(stats.get("capped", False)),
    )


def _pipeline_query(pipeline: Any) -> tuple[Any, Any] | None:
    if not isinstance(pipeline, list) or not pipeline or not isinstance(pipeline[0], Mapping):
        return None
    match = pipeline[0].get("$match")
    if not isinstance(match, Mapping):
        return None
    sort = None
    if len(pipeline) > 1 and isinstance(pipeline[1], Mapping):
        sort = pipeline[1].get("$sort")
    return match, sort
