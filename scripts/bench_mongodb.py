#!/usr/bin/env python3
"""Benchmark the mongodb plugin through the runtime against the same code called in-process.

    .venv/bin/python scripts/bench_mongodb.py [--quick] [--documents N] [--runs N] [--json]

The server is ``$MONGODB_URI`` when set, else the wheel's mongod (runtime.devservices), with a
collection of ``--documents`` orders (100,000; ``--quick``: 20,000) in ``hydrogen_bench``.
Two operations, each timed ``--runs`` times after a warm-up, one call at a time:

- stats: ``mongodb_collection_stats`` with two queries to explain (a collection scan and an
  index seek);
- recommend: ``mongodb_recommend_indexes`` for two query shapes that need a new index (each
  explained with executionStats, so each runs a full collection scan), ``apply`` false so
  every run does the same work.

Contenders: ``runtime``, a ``Supervisor`` over plugins/mongodb under its real sandbox profile
(JSON-RPC to a confined worker, schema validation, the call's deadline); ``in-process``, the
plugin's own class built in this process and its tool's ``execute`` called directly. Their
calls alternate, so load changes on the machine or the server hit both alike. The ratio
runtime / in-process is printed per operation, with the absolute overhead in ms.
A report, not a test: exit 0 unless a phase fails to run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Final

import anyio
import yaml

REPO: Final = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from runtime import Supervisor  # noqa: E402
from runtime.devservices import mongodb_server, seed_demo_collection  # noqa: E402

PLUGIN: Final = REPO / "plugins" / "mongodb"
PROFILES: Final = REPO / "sandbox_profiles"
DATABASE: Final = "hydrogen_bench"
COLLECTION: Final = "orders"
DOCUMENTS: Final = 100_000
QUICK_DOCUMENTS: Final = 20_000
RUNS: Final = 30
QUICK_RUNS: Final = 10
WARMUP: Final = 3
NAMESPACE: Final = {"database": DATABASE, "collection": COLLECTION}
OPERATIONS: Final[dict[str, tuple[str, dict[str, Any]]]] = {
    "stats": (
        "mongodb_collection_stats",
        {
            **NAMESPACE,
            "queries": [
                {"filter": {"status": "paid", "total": {"$lt": 100}}},
                {"filter": {"customer_id": 42}, "sort": {"created_at": -1}, "limit": 10},
            ],
        },
    ),
    "recommend": (
        "mongodb_recommend_indexes",
        {
            **NAMESPACE,
            "queries": [
                {
                    "filter": {"status": "shipped", "total": {"$gte": 500}},
                    "sort": {"created_at": -1},
                },
                {"filter": {"order_no": {"$gte": 1000, "$lt": 1100}}},
            ],
        },
    ),
}


def load_plugin(uri: str) -> Any:
    """The plugin's class in this process, configured as the worker would be."""
    name = "hydrogen_bench_mongodb"
    spec = importlib.util.spec_from_file_location(
        name, PLUGIN / "__init__.py", submodule_search_locations=[str(PLUGIN)]
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    manifest: dict[str, Any] = yaml.safe_load((PLUGIN / "plugin.yaml").read_text())
    manifest["configuration"]["uri"] = uri
    plugin = module.MongoDBPlugin(manifest)
    plugin.startup()
    return plugin


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "median_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(p95, 3),
        "mean_ms": round(statistics.fmean(ordered), 3),
    }


async def measure(uri: str, runs: int) -> tuple[dict[str, dict[str, list[float]]], float]:
    """Per operation, ``runs`` timings of each contender, interleaved (the order alternating
    every run) so that a change in the server's or the machine's load hits both alike."""
    plugin = load_plugin(uri)
    environ = {**os.environ, "MONGODB_URI": uri}
    started = time.perf_counter()
    try:
        async with Supervisor([PLUGIN], profiles_dir=PROFILES, environ=environ) as sup:
            ready = time.perf_counter() - started
            state = sup.status()["plugins"]["mongodb"]
            if state["state"] != "active":
                raise SystemExit(f"mongodb plugin is {state['state']}: {state['reason']}")
            results: dict[str, dict[str, list[float]]] = {}
            for label, (tool_name, params) in OPERATIONS.items():
                tool = plugin.create_tool(tool_name)

                async def through_runtime(
                    name: str = tool_name, p: dict[str, Any] = params
                ) -> None:
                    await sup.call(name, p)

                async def in_process(t: Any = tool, p: dict[str, Any] = params) -> None:
                    t.execute(dict(p))

                contenders = {"runtime": through_runtime, "in_process": in_process}
                samples: dict[str, list[float]] = {name: [] for name in contenders}
                for run in range(WARMUP + runs):
                    order = list(contenders) if run % 2 == 0 else list(reversed(contenders))
                    for name in order:
                        t0 = time.perf_counter()
                        await contenders[name]()
                        if run >= WARMUP:
                            samples[name].append((time.perf_counter() - t0) * 1000)
                results[label] = samples
    finally:
        plugin.shutdown()
    return results, ready


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="20k documents, 10 runs")
    parser.add_argument("--documents", type=int, default=None)
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    documents = args.documents or (QUICK_DOCUMENTS if args.quick else DOCUMENTS)
    runs = args.runs or (QUICK_RUNS if args.quick else RUNS)

    with mongodb_server() as uri:
        started = time.perf_counter()
        seed_demo_collection(uri, database=DATABASE, collection=COLLECTION, documents=documents)
        seeded = time.perf_counter() - started
        # Both contenders see the same indexes: one the stats query can seek with.
        import pymongo

        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(uri)
        try:
            client[DATABASE][COLLECTION].create_index([("customer_id", 1), ("created_at", -1)])
        finally:
            client.close()
        timings, ready = anyio.run(measure, uri, runs)
        report: dict[str, Any] = {
            "server": "MONGODB_URI" if os.environ.get("MONGODB_URI") else "embedded mongod 6.0.5",
            "documents": documents,
            "runs": runs,
            "seed_s": round(seeded, 2),
            "runtime_ready_s": round(ready, 3),
            "operations": {},
        }
        for label in OPERATIONS:
            through = summary(timings[label]["runtime"])
            direct = summary(timings[label]["in_process"])
            report["operations"][label] = {
                "tool": OPERATIONS[label][0],
                "runtime": through,
                "in_process": direct,
                "ratio_median": round(through["median_ms"] / direct["median_ms"], 3),
                "overhead_median_ms": round(through["median_ms"] - direct["median_ms"], 3),
            }
        client = pymongo.MongoClient(uri)
        try:
            client.drop_database(DATABASE)
        finally:
            client.close()

    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(
        f"mongodb plugin on {report['server']}: {documents:,} documents "
        f"(seeded in {report['seed_s']} s), {runs} runs per operation, "
        f"supervisor ready in {report['runtime_ready_s']} s"
    )
    header = f"{'operation':<10} {'contender':<11} {'median ms':>10} {'p95 ms':>9} {'mean ms':>9}"
    print(header)
    print("-" * len(header))
    for label, row in report["operations"].items():
        for contender in ("runtime", "in_process"):
            figures = row[contender]
            print(
                f"{label:<10} {contender.replace('_', '-'):<11} {figures['median_ms']:>10.2f} "
                f"{figures['p95_ms']:>9.2f} {figures['mean_ms']:>9.2f}"
            )
        print(
            f"{label:<10} ratio runtime / in-process (median): {row['ratio_median']:.3f} "
            f"(+{row['overhead_median_ms']:.2f} ms)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
