"""mongodb_collection_stats through the runtime, compared with what the server itself reports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Final

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from runtime import InvalidParamsError, Supervisor, ToolFailedError
from runtime.devservices import demo_order
from tests.mongodb.support import database_for, plugin_module, supervisor

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

TOOL: Final = "mongodb_collection_stats"
DOCUMENTS: Final = 3000
Client = MongoClient[dict[str, Any]]
Db = Database[dict[str, Any]]


@pytest.fixture(scope="module")
async def sup(mongodb_uri: str) -> AsyncIterator[Supervisor]:
    async with supervisor(mongodb_uri) as running:
        yield running


@pytest.fixture(scope="module")
def db(mongo: Client) -> Db:
    """Orders with a compound index, its redundant prefix and a unique index; checkpointed, so
    storage sizes hold still while the tool and the test both read them."""
    database = database_for(mongo, __name__)
    database.orders.insert_many(demo_order(n) for n in range(DOCUMENTS))
    database.orders.create_index([("customer_id", 1), ("created_at", -1)])
    database.orders.create_index("customer_id")
    database.orders.create_index("order_no", unique=True)
    mongo.admin.command("fsync")
    return database


async def stats(sup: Supervisor, db: Db, coll: str = "orders", **params: Any) -> Any:
    return await sup.call(TOOL, {"database": db.name, "collection": coll, **params})


def server_storage(db: Db) -> dict[str, Any]:
    (row,) = db.orders.aggregate([{"$collStats": {"storageStats": {}}}])
    storage: dict[str, Any] = row["storageStats"]
    return storage


async def test_sizes_and_counts_match_what_the_server_reports(sup: Supervisor, db: Db) -> None:
    report = await stats(sup, db)
    server = server_storage(db)
    assert report["source"] == "$collStats"
    assert report["count"] == server["count"] == DOCUMENTS
    assert report["size_bytes"] == server["size"]
    assert report["storage_size_bytes"] == server["storageSize"]
    assert report["free_storage_bytes"] == server["freeStorageSize"]
    assert report["avg_document_bytes"] == server["avgObjSize"]
    assert report["total_index_size_bytes"] == server["totalIndexSize"]
    assert report["index_count"] == server["nindexes"] == 4
    assert {i["name"]: i["size_bytes"] for i in report["indexes"]} == server["indexSizes"]


async def test_the_collstats_command_fallback_reads_the_same_figures(
    sup: Supervisor, db: Db
) -> None:
    server = plugin_module("tools.server")
    by_stage = server.storage_stats(db, "orders")
    by_command = server.storage_stats_by_command(db, "orders")
    assert (by_stage.source, by_command.source) == ("$collStats", "collStats")
    assert by_command.count == by_stage.count == DOCUMENTS
    assert by_command.index_sizes == by_stage.index_sizes
    assert (by_command.size, by_command.storage_size) == (by_stage.size, by_stage.storage_size)


async def test_index_usage_calls_out_unused_indexes_and_only_those(sup: Supervisor, db: Db) -> None:
    db.orders.find_one({"order_no": 7})
    report = await stats(sup, db)
    usage = {i["name"]: i["accesses"] for i in report["indexes"]}
    assert usage["order_no_1"] >= 1
    assert set(report["unused_indexes"]) == {"customer_id_1", "customer_id_1_created_at_-1"}
    kinds = {i["name"]: i["kinds"] for i in report["indexes"]}
    assert kinds["order_no_1"] == ["single", "unique"]
    assert kinds["customer_id_1_created_at_-1"] == ["compound"]


async def test_query_plans_report_scans_and_examined_versus_returned(
    sup: Supervisor, db: Db
) -> None:
    scan = {"filter": {"status": "paid", "total": {"$lt": 100}}}
    seek = {"filter": {"customer_id": 5}, "sort": {"created_at": -1}, "limit": 2}
    report = await stats(sup, db, queries=[scan, seek])
    first, second = (q["plan"] for q in report["queries"])
    expected = db.orders.find(scan["filter"]).explain()["executionStats"]
    assert (first["scan"], first["docs_examined"]) == ("COLLSCAN", DOCUMENTS)
    assert first["returned"] == expected["nReturned"]
    assert first["keys_examined"] == 0
    assert (second["scan"], second["indexes"]) == ("IXSCAN", ["customer_id_1_created_at_-1"])
    assert (second["returned"], second["keys_examined"], second["docs_examined"]) == (2, 2, 2)
    assert report["queries"][1]["sort"] == {"created_at": -1}
    messages = [r["message"] for r in report["recommendations"]]
    assert any(m.startswith("query 0 scans the whole collection") for m in messages)
    assert not any(m.startswith("query 1") for m in messages)


async def test_recommendations_cover_redundant_and_unused_indexes(sup: Supervisor, db: Db) -> None:
    report = await stats(sup, db)
    (redundant,) = report["redundant_indexes"]
    assert (redundant["name"], redundant["covered_by"]) == (
        "customer_id_1",
        "customer_id_1_created_at_-1",
    )
    by_kind = [(r["kind"], r["severity"]) for r in report["recommendations"]]
    assert ("index", "warning") in by_kind
    assert any("customer_id_1" in r["message"] and "not been used" in r["message"]
               for r in report["recommendations"])  # fmt: skip


async def test_queries_are_sampled_from_the_profiler_on_request(
    sup: Supervisor, db: Db, mongo: Client
) -> None:
    db.command("profile", 2)
    try:
        db.orders.find_one({"status": "delivered", "customer_id": {"$gt": 900}})
    finally:
        db.command("profile", 0)
    report = await stats(sup, db, sample_queries=5)
    sampled = [q for q in report["queries"] if q["sampled"]]
    filters = [q["filter"] for q in sampled]
    assert {"status": "delivered", "customer_id": {"$gt": 900}} in filters
    without = await stats(sup, db)
    assert without["queries"] == []


async def test_an_empty_collection_says_so(sup: Supervisor, db: Db) -> None:
    db.create_collection("empty_one")
    report = await stats(sup, db, "empty_one")
    assert (report["count"], report["index_count"]) == (0, 1)
    assert {"kind": "storage", "severity": "info", "message": "the collection is empty"} in report[
        "recommendations"
    ]


async def test_bad_input_names_the_field(sup: Supervisor, db: Db) -> None:
    with pytest.raises(ToolFailedError) as missing:
        await stats(sup, db, "nope")
    assert missing.value.error_type == "CollectionNotFoundError"
    assert missing.value.remote_message.startswith(
        f"collection: 'nope' does not exist in database '{db.name}'; use one of: "
    )
    assert "orders" in missing.value.remote_message
    with pytest.raises(InvalidParamsError) as wrong_type:
        await stats(sup, db, sample_queries="all")
    assert wrong_type.value.field == "params.sample_queries"
    with pytest.raises(InvalidParamsError) as bad_sort:
        await stats(sup, db, queries=[{"filter": {}, "sort": {"a": "up"}}])
    assert bad_sort.value.field == "params.queries[0].sort.a"
    with pytest.raises(ToolFailedError) as bad_date:
        await stats(sup, db, queries=[{"filter": {"created_at": {"$date": "yesterday"}}}])
    assert bad_date.value.remote_message.startswith(
        "queries[0].filter: is not valid MongoDB Extended JSON"
    )
    with pytest.raises(ToolFailedError) as bad_db:
        await stats(sup, db, database="bad.name")
    assert bad_db.value.remote_message.startswith(
        "database: 'bad.name' is not a valid database name"
    )
