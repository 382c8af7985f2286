"""mongodb_create_index through the runtime: a real supervisor, a confined worker, a real mongod.

Each index kind is checked on the server afterwards (listIndexes, and a query only that kind of
index can answer), not only in the tool's own report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from runtime import InvalidParamsError, Supervisor, ToolFailedError
from tests.mongodb.support import database_for, supervisor, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

TOOL = "mongodb_create_index"
Client = MongoClient[dict[str, Any]]


@pytest.fixture(scope="module")
async def sup(mongodb_uri: str) -> AsyncIterator[Supervisor]:
    async with supervisor(mongodb_uri) as running:
        assert running.status()["plugins"]["mongodb"]["state"] == "active"
        yield running


@pytest.fixture(scope="module")
def db(mongo: Client) -> Database[dict[str, Any]]:
    return database_for(mongo, __name__)


@pytest.fixture
def coll(db: Database[dict[str, Any]], request: pytest.FixtureRequest) -> str:
    """A fresh collection named after the test, with a few documents."""
    name = str(request.node.name)[:60].replace("[", "_").replace("]", "")
    db.drop_collection(name)
    db[name].insert_many({"n": n, "status": ["a", "b"][n % 2], "total": n * 10} for n in range(20))
    return name


async def create(sup: Supervisor, db: Database[dict[str, Any]], coll: str, **params: Any) -> Any:
    return await sup.call(TOOL, {"database": db.name, "collection": coll, **params})


def server_index(db: Database[dict[str, Any]], coll: str, name: str) -> dict[str, Any]:
    specs = {spec["name"]: dict(spec) for spec in db[coll].list_indexes()}
    assert name in specs, f"index {name!r} not on the server; it has {sorted(specs)}"
    return specs[name]


async def test_single_field_index_is_built_and_reported_with_its_build_time(
    sup: Supervisor, db: Database[dict[str, Any]], coll: str
) -> None:
    result = await create(sup, db, coll, keys={"status": 1})
    assert result["created"] is True
    assert result["name"] == "status_1"
    assert result["kinds"] == ["single"]
    assert result["build_time_ms"] > 0
    assert (result["documents"], result["index_count"]) == (20, 2)
    assert server_index(db, coll, "status_1")["key"] == {"status": 1}


async def test_compound_index_keeps_the_key_order_given_as_pairs(
    sup: Supervisor, db: Database[dict[str, Any]], coll: str
) -> None:
    result = await create(sup, db, coll, keys=[["total", -1], ["status", 1]], name="by_total")
    assert (result["name"], result["kinds"]) == ("by_total", ["compound"])
    assert list(server_index(db, coll, "by_total")["key"].items()) == [("total", -1), ("status", 1)]


async def test_text_index_with_weights_serves_text_search(
    sup: Supervisor, db: Database[dict[str, Any]], coll: str
) -> None:
    db[coll].insert_one({"title": "Tuning indexes", "body": "equality sort range"})
    result = await create(
        sup, db, coll, keys={"title": "text", "body": "text"}, weights={"title": 10}
    )
    assert result["kinds"] == ["compound", "text"]
    spec = server_index(db, coll, result["name"])
    assert spec["weights"] == {"title": 10, "body": 1}
    found = list(db[coll].find({"$text": {"$search": "tuning"}}))
    assert [doc["title"] for doc in found] == ["Tuning indexes"]


async def test_2dsphere_index_serves_near_queries(
    sup: Supervisor, db: Database[dict[str, Any]], coll: str
) -> None:
    db[coll].insert_many(
        [
            {"place": "near", "loc": {"type": "Point", "coordinates": [2.35, 48.85]}},
            {"place": "far", "loc": {"type": "Point", "coordinates": [-74.0, 40.7]}},
        ]
    )
    result = await create(sup, db, coll, keys={"loc": "2dsphere"})
    assert result["kinds"] == ["single", "2dsphere"]
    # $near needs a geospatial index: without one the server refuses the query outright.
    near = db[coll].find_one(
        {"loc": {"$near": {"$geometry": {"type": "Point", "coordinates": [2.3, 48.8]}}}}
    )
    assert near is not None
    assert near["place"] == "near"


async def test_hashed_index_serves_equality_lookups(
    sup: Supervisor, db: Database[dict[str, Any]], coll: str
) -> None:
    result = await create(sup, db, coll, keys={"n": "hashed"})
    assert server_index(db, coll, result["name"])["key"] == {"n": "hashed"}
    plan = db[coll].find({"n": 7}).explain()["queryPlanner"]["winningPlan"]
    assert "n_hashed" in str(plan)


async def test_unique_index_rejects_duplicate_documents(
    sup: Supervisor, db: Database[dict[str, Any]], coll: str
) -> None:
    result = await create(sup, db, coll, keys={"n": 1}, unique=True)
    assert result["kinds"] == ["single", "unique"]
    assert server_index(db, coll, "n_1")["unique"] is True
    with pytest.raises(DuplicateKeyError):
        db[coll].insert_one({"n": 3})


async def test_unique_index_over_duplicate_data_fails_naming_unique(
    sup: Supervisor, db: Database[dict[str, Any]], coll: str
) -> None:
    with pytest.raises(ToolFailedError) as caught:
        await create(sup, db, coll, keys={"status": 1}, unique=True)
    assert caught.value.error_type == "InvalidArgumentError"
    assert caught.value.remote_message.startswith("unique: documents already repeat the key")
    assert "remove or merge the duplicates" in caught.value.remote_message
    assert "status_1" not in {spec["name"] for spec in db[coll].list_indexes()}


async def test_ttl_index_deletes_expired_documents(
    sup: Supervisor, db: Database[dict[str, Any]], coll: str, mongo: Client
) -> None:
    sleep = mongo.admin.command("getParameter", 1, ttlMonitorSleepSecs=1)["ttlMonitorSleepSecs"]
    if sleep > 5:
        pytest.skip(f"the server's TTL monitor runs every {sleep} s; the embedded one every 1 s")
    now = dt.datetime.now(dt.UTC)
    db[coll].insert_many(
        [{"ttl": "old", "seen": now - dt.timedelta(hours=1)}, {"ttl": "new", "seen": now}]
    )
    result = await create(sup, db, coll, keys={"seen": 1}, expire_after_seconds=600)
    assert result["kinds"] == ["single", "ttl"]
    assert server_index(db, coll, "seen_1")["expireAfterSeconds"] == 600
    await wait_until(
        lambda: db[coll].count_documents({"ttl": "old"}) == 0, "the TTL monitor removed 'old'"
    )
    assert db[coll].count_documents({"ttl": "new"}) == 1


async def test_partial_index_covers_only_matching_documents(
    sup: Supervisor, db: Database[dict[str, Any]], coll: str
) -> None:
    result = await create(
        sup, db, coll, keys={"status": 1}, partial_filter={"total": {"$gte": 100}}
    )
    assert result["kinds"] == ["single", "partial"]
    assert server_index(db, coll, "status_1")["partialFilterExpression"] == {"total": {"$gte": 100}}
    inside = str(db[coll].find({"status": "a", "total": {"$gte": 150}}).explain())
    outside = str(db[coll].find({"status": "a"}).explain())
    assert "status_1" in inside
    assert "COLLSCAN" in outside


async def test_an_equivalent_index_is_reported_not_rebuilt(
    sup: Supervisor, db: Database[dict[str, Any]], coll: str
) -> None:
    await create(sup, db, coll, keys={"status": 1, "total": -1})
    again = await create(sup, db, coll, keys={"status": 1, "total": -1}, name="other_name")
    assert again["created"] is False
    assert again["name"] == "status_1_total_-1"
    assert "already exists" in again["message"]
    assert again["index_count"] == 2


async def test_a_name_taken_by_other_keys_is_refused_naming_name(
    sup: Supervisor, db: Database[dict[str, Any]], coll: str
) -> None:
    await create(sup, db, coll, keys={"status": 1}, name="mine")
    with pytest.raises(ToolFailedError) as caught:
        await create(sup, db, coll, keys={"total": 1}, name="mine")
    assert caught.value.remote_message.startswith("name: an index named 'mine' already exists")


async def test_server_refusals_are_restated_against_their_field(
    sup: Supervisor, db: Database[dict[str, Any]], coll: str
) -> None:
    db[coll].insert_one({"loc": {"type": "Point", "coordinates": "nowhere"}})
    with pytest.raises(ToolFailedError) as caught:
        await create(sup, db, coll, keys={"loc": "2dsphere"})
    assert caught.value.error_type == "InvalidArgumentError"
    assert caught.value.remote_message.startswith("keys: the server refused it")
    assert "geo" in caught.value.remote_message


async def test_an_unknown_collection_is_refused_naming_it_and_not_created(
    sup: Supervisor, db: Database[dict[str, Any]], coll: str
) -> None:
    with pytest.raises(ToolFailedError) as caught:
        await create(sup, db, "no_such_collection", keys={"a": 1})
    assert caught.value.error_type == "CollectionNotFoundError"
    message = caught.value.remote_message
    assert message.startswith(
        f"collection: 'no_such_collection' does not exist in database '{db.name}'"
    )
    assert coll in message
    assert "no_such_collection" not in db.list_collection_names()


async def test_create_collection_makes_the_collection_first(
    sup: Supervisor, db: Database[dict[str, Any]]
) -> None:
    db.drop_collection("made_here")
    result = await create(sup, db, "made_here", keys={"a": 1}, create_collection=True)
    assert (result["created"], result["collection_created"], result["documents"]) == (True, True, 0)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"keys": {"a": "sideways"}}, "params.keys.a"),
        ({"keys": {"a": 1}, "unique": "yes"}, "params.unique"),
        ({"keys": {"a": 1}, "expire_after_seconds": "60"}, "params.expire_after_seconds"),
        ({"keys": {"a": 1}, "colour": "blue"}, "params"),
        ({"collection": 7, "keys": {"a": 1}}, "params.collection"),
    ],
)
async def test_wrong_types_are_refused_by_the_schema_naming_the_field(
    sup: Supervisor, db: Database[dict[str, Any]], coll: str, params: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidParamsError) as caught:
        await sup.call(TOOL, {"database": db.name, "collection": coll, **params})
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"keys": {"a": 1, "b": 1}, "expire_after_seconds": 60}, "expire_after_seconds"),
        ({"keys": {"a": "hashed"}, "unique": True}, "unique"),
        ({"keys": {"a": 1}, "sparse": True, "partial_filter": {"a": 1}}, "sparse"),
        ({"keys": {"a": 1}, "weights": {"a": 3}}, "weights"),
        ({"keys": {"a.": 1}}, "keys.a."),
    ],
)
async def test_bad_index_specs_are_refused_before_the_server_naming_the_field(
    sup: Supervisor, db: Database[dict[str, Any]], coll: str, params: dict[str, Any], field: str
) -> None:
    with pytest.raises(ToolFailedError) as caught:
        await create(sup, db, coll, **params)
    assert caught.value.error_type == "InvalidArgumentError"
    assert caught.value.remote_message.startswith(f"{field}: ")
    assert [spec["name"] for spec in db[coll].list_indexes()] == ["_id_"]
