"""Development services for tests, benchmarks and the main job: the embedded MongoDB server
and the demo collection the mongodb plugin's examples query."""

from runtime.devservices.demo import (
    DEMO_COLLECTION,
    DEMO_DATABASE,
    DEMO_DOCUMENTS,
    demo_order,
    ensure_demo_collection,
    seed_demo_collection,
)
from runtime.devservices.mongod import (
    MONGODB_URI_VAR,
    READY_TIMEOUT,
    STOP_TIMEOUT,
    DevServiceError,
    MongodNotFoundError,
    MongodStartError,
    configured_uri,
    embedded_mongod,
    find_mongod,
    mongodb_server,
    sweep_orphans,
)

__all__ = [
    "DEMO_COLLECTION",
    "DEMO_DATABASE",
    "DEMO_DOCUMENTS",
    "MONGODB_URI_VAR",
    "READY_TIMEOUT",
    "STOP_TIMEOUT",
    "DevServiceError",
    "MongodNotFoundError",
    "MongodStartError",
    "configured_uri",
    "demo_order",
    "embedded_mongod",
    "ensure_demo_collection",
    "find_mongod",
    "mongodb_server",
    "seed_demo_collection",
    "sweep_orphans",
]
