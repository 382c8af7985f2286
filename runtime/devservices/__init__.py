"""Development services for tests, benchmarks and the main job: the embedded MongoDB server."""

from runtime.devservices.mongod import (
    DEMO_COLLECTION,
    DEMO_DATABASE,
    DEMO_DOCUMENTS,
    MONGODB_URI_VAR,
    READY_TIMEOUT,
    STOP_TIMEOUT,
    DevServiceError,
    MongodNotFoundError,
    MongodStartError,
    configured_uri,
    demo_order,
    embedded_mongod,
    find_mongod,
    mongodb_server,
    seed_demo_collection,
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
    "find_mongod",
    "mongodb_server",
    "seed_demo_collection",
    "sweep_orphans",
]
