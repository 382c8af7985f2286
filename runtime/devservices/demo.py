"""The demo collection the mongodb plugin's examples query: deterministic orders.

Used by the main job (``ensure_demo_collection`` before ``hydrogen demo``), the benchmark and
the tests (``demo_order``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from runtime.devservices.mongod import READY_TIMEOUT, pymongo_module

__all__ = [
    "DEMO_COLLECTION",
    "DEMO_DATABASE",
    "DEMO_DOCUMENTS",
    "demo_order",
    "ensure_demo_collection",
    "seed_demo_collection",
]

DEMO_DATABASE: Final = "hydrogen_demo"
DEMO_COLLECTION: Final = "orders"
DEMO_DOCUMENTS: Final = 5000
DEMO_STATUSES: Final = ("pending", "paid", "shipped", "delivered", "cancelled")
DEMO_BATCH: Final = 1000


def seed_demo_collection(
    uri: str,
    *,
    database: str = DEMO_DATABASE,
    collection: str = DEMO_COLLECTION,
    documents: int = DEMO_DOCUMENTS,
) -> int:
    """Replace ``database.collection`` with ``documents`` deterministic orders; returns the count.

    What the plugin's examples query: ``status`` (5 values), ``customer_id``, ``total``,
    ``created_at`` (one minute apart from 2024-01-01 UTC) and a GeoJSON ``location``.
    """
    pymongo = pymongo_module()
    client: Any = pymongo.MongoClient(uri, serverSelectionTimeoutMS=int(READY_TIMEOUT * 1000))
    try:
        target = client[database][collection]
        target.drop()
        for start in range(0, documents, DEMO_BATCH):
            stop = min(start + DEMO_BATCH, documents)
            target.insert_many([demo_order(n) for n in range(start, stop)], ordered=False)
        count: int = target.estimated_document_count()
        return count
    finally:
        client.close()


def ensure_demo_collection(
    uri: str,
    *,
    database: str = DEMO_DATABASE,
    collection: str = DEMO_COLLECTION,
    documents: int = DEMO_DOCUMENTS,
) -> int:
    """Seed the demo collection when it is missing or empty, else leave it; its count.

    What the main job calls before ``hydrogen demo``: the plugin's examples query this
    collection, and an existing one (an external server, a second run) is never replaced.
    """
    pymongo = pymongo_module()
    client: Any = pymongo.MongoClient(uri, serverSelectionTimeoutMS=int(READY_TIMEOUT * 1000))
    try:
        count: int = client[database][collection].estimated_document_count()
    finally:
        client.close()
    if count:
        return count
    return seed_demo_collection(uri, database=database, collection=collection, documents=documents)


def demo_order(n: int) -> dict[str, Any]:
    """Order number ``n`` of the demo collection (also the benchmark's and tests' data)."""
    created = dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=n)
    return {
        "order_no": n,
        "status": DEMO_STATUSES[n % len(DEMO_STATUSES)],
        "customer_id": n % 997,
        "total": round((n * 37) % 10_000 / 10, 1),
        "created_at": created,
        "location": {"type": "Point", "coordinates": [(n % 360) - 180, (n % 170) - 85]},
        "note": f"order {n} for customer {n % 997}",
    }
