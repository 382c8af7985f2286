"""mongodb_recommend_indexes through the runtime against a real mongod.

The decisive check is the server's: after a recommendation is applied, an explain run by the
test itself (not the tool) must show an index scan where there was a collection scan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, Final

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from runtime import Supervisor, ToolFailedError
from runtime.devservices import demo_order
from tests.mongodb.support import database_for, supervisor

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

TOOL: Final = "mongodb_recommend_indexes"
DOCUMENTS: Final = 5000
ESR_QUERY: Final = {
    "filter": {"status": "shipped", "total": {"$gte": 500}},
    "sort": {"created_at": -1},
}
ESR_INDEX: Final = "status_1_created_at_-1_total_1"
Client = MongoClient[dict[str, Any]]
Db = Database[dict[str, Any]]


@pytest.fixture(scope="module")
async def sup(mongodb_uri: str) -> AsyncIterator[Supervisor]:
    async with supervisor(mongodb_uri) as running:
        yield running


@pytest.fixture(scope="module")
def db(mongo: Client) -> Db:
    return database_for(mongo, __name__)


@pytest.fixture
def orders(db: Db) -> Iterator[str]:
    db.drop_collection("orders")
    db.orders.insert_many(demo_order(n) for n in range(DOCUMENTS))
    yield "orders"
    db.command("profile", 0)


async def recommend(sup: Supervisor, db: Db, coll: str, **params: Any) -> Any:
    return await sup.call(TOOL, {"database": db.name, "collection": coll, **params})


def winning_plan(db: Db, query: dict[str, Any]) -> str:
    cursor = db.orders.find(query["filter"]).sort(list(query.get("sort", {}).items()))
    return str(cursor.explain()["queryPlanner"]["winningPlan"])


async def test_an_applied_recommendation_turns_a_collscan_into_an_ixscan(
    sup: Supervisor, db: Db, orders: str
) -> None:
    assert "COLLSCAN" in winning_plan(db, ESR_QUERY)
    advice = await recommend(sup, db, orders, queries=[ESR_QUERY])
    (shape,) = advice["shapes"]
    assert shape["shape"] == "equality [status] sort [created_at -1] range [total]"
    assert shape["plan"]["scan"] == "COLLSCAN"
    assert shape["plan"]["docs_examined"] == DOCUMENTS
    assert shape["plan"]["blocking_sort"] is True
    (proposal,) = advice["recommendations"]
    assert proposal["name"] == ESR_INDEX
    assert proposal["keys"] == [["status", 1], ["created_at", -1], ["total", 1]]
    assert proposal["applied"] is False
    assert ESR_INDEX not in {spec["name"] for spec in db.orders.list_indexes()}

    applied = await recommend(sup, db, orders, queries=[ESR_QUERY], apply=[ESR_INDEX])
    (done,) = applied["recommendations"]
    assert done["applied"] is True
    assert done["result"]["created"] is True
    assert done["result"]["verified"] is True
    assert applied["shapes"][0]["plan_after"]["scan"] == "IXSCAN"
    assert ESR_INDEX in {index["name"] for index in applied["indexes"]}
    assert applied["shapes"][0]["plan_after"]["blocking_sort"] is False
    # The server's own plan, asked by the test: the new index, no collection scan, no sort.
    plan = winning_plan(db, ESR_QUERY)
    assert ESR_INDEX in plan
    assert "COLLSCAN" not in plan
    assert "'SORT'" not in plan

    again = await recommend(sup, db, orders, queries=[ESR_QUERY])
    assert again["recommendations"] == []
    assert again["shapes"][0]["served_by"] == ESR_INDEX


async def test_shapes_that_prefix_one_another_share_one_recommendation(
    sup: Supervisor, db: Db, orders: str
) -> None:
    advice = await recommend(
        sup,
        db,
        orders,
        queries=[ESR_QUERY, {"filter": {"status": "paid"}}, {"filter": {"status": "x"}}],
    )
    assert [s["occurrences"] for s in advice["shapes"]] == [1, 2]
    (proposal,) = advice["recommendations"]
    assert proposal["name"] == ESR_INDEX
    assert proposal["for_shapes"] == [0, 1]


async def test_a_weak_index_scan_is_extended_and_the_old_index_called_redundant(
    sup: Supervisor, db: Db, orders: str
) -> None:
    db.orders.create_index("status")
    query = {"filter": {"status": "shipped", "total": {"$gte": 990}}}
    advice = await recommend(sup, db, orders, queries=[query])
    (shape,) = advice["shapes"]
    assert shape["plan"]["indexes"] == ["status_1"]
    assert shape["plan"]["examined_per_returned"] > 10
    (proposal,) = advice["recommendations"]
    assert proposal["name"] == "status_1_total_1"
    assert proposal["makes_redundant"] == ["status_1"]

    await recommend(sup, db, orders, queries=[query], apply=True)
    after = await recommend(sup, db, orders, queries=[query])
    assert after["redundant_indexes"] == [
        {
            "name": "status_1",
            "keys": [["status", 1]],
            "covered_by": "status_1_total_1",
            "advice": "drop 'status_1': 'status_1_total_1' starts with the same keys, so it "
            "serves every query the shorter one does",
        }
    ]


async def test_redundant_prefix_indexes_are_flagged_but_unique_ones_are_not(
    sup: Supervisor, db: Db, orders: str
) -> None:
    db.orders.create_index([("customer_id", 1)])
    db.orders.create_index([("customer_id", 1), ("created_at", -1)])
    db.orders.create_index([("order_no", 1)], unique=True)
    db.orders.create_index([("order_no", 1), ("status", 1)])
    advice = await recommend(sup, db, orders, queries=[{"filter": {"customer_id": 3}}])
    flagged = {(r["name"], r["covered_by"]) for r in advice["redundant_indexes"]}
    assert flagged == {("customer_id_1", "customer_id_1_created_at_-1")}
    assert advice["shapes"][0]["served_by"] in {"customer_id_1", "customer_id_1_created_at_-1"}
    assert advice["recommendations"] == []
    # Built by the test and never queried through them: unused.
    assert {"order_no_1", "order_no_1_status_1"} <= set(advice["unused_indexes"])


async def test_shapes_are_sampled_from_the_profiler_when_no_queries_are_given(
    sup: Supervisor, db: Db, orders: str
) -> None:
    db.command("profile", 2)
    for customer in (1, 2, 3):
        list(db.orders.find({"customer_id": customer}).sort("created_at", -1))
    db.orders.count_documents({"status": "paid", "total": {"$lt": 50}})
    db.command("profile", 0)
    advice = await recommend(sup, db, orders)
    assert advice["source"] == "profiler"
    shapes = {s["shape"]: s for s in advice["shapes"]}
    assert shapes["equality [customer_id] sort [created_at -1]"]["occurrences"] == 3
    assert "equality [status] range [total]" in shapes
    names = {r["name"] for r in advice["recommendations"]}
    assert names == {"customer_id_1_created_at_-1", "status_1_total_1"}


async def test_without_queries_or_profile_the_answer_says_how_to_get_some(
    sup: Supervisor, db: Db, mongo: Client
) -> None:
    quiet = mongo[db.name + "_quiet"]
    quiet.drop_collection("c")
    quiet.c.insert_one({"a": 1})
    try:
        advice = await recommend(sup, quiet, "c")
    finally:
        mongo.drop_database(quiet.name)
    assert (advice["queries_analysed"], advice["recommendations"]) == (0, [])
    assert "enable the profiler" in advice["notes"][0]


async def test_applying_an_unknown_recommendation_names_apply_and_builds_nothing(
    sup: Supervisor, db: Db, orders: str
) -> None:
    with pytest.raises(ToolFailedError) as caught:
        await recommend(sup, db, orders, queries=[ESR_QUERY], apply=[ESR_INDEX, "made_up_1"])
    assert caught.value.remote_message.startswith(
        "apply[1]: 'made_up_1' is not among this run's recommendations"
    )
    assert ESR_INDEX in caught.value.remote_message
    assert [spec["name"] for spec in db.orders.list_indexes()] == ["_id_"]


async def test_bad_input_names_the_field(sup: Supervisor, db: Db, orders: str) -> None:
    with pytest.raises(ToolFailedError) as caught:
        await recommend(sup, db, "missing")
    assert caught.value.error_type == "CollectionNotFoundError"
    assert caught.value.remote_message.startswith("collection: 'missing' does not exist")
    with pytest.raises(ToolFailedError) as bad_sort:
        await recommend(sup, db, orders, queries=[{"filter": {"$where": "true"}}])
    assert bad_sort.value.remote_message.startswith("queries[0].filter.$where: ")
