#!/usr/bin/env python3
"""Benchmark the rag plugin through the runtime against the same pipeline in-process.

    .venv/bin/python scripts/bench_rag.py [--quick] [--json]

Two pipelines over the same synthetic chunks (deterministic, about 200 characters each):

- runtime: ``Supervisor`` over plugins/rag under its real sandbox profile; ingestion is
  ``rag_add_document`` with ``BATCH`` documents per call, search is ``rag_search_documents``
  (query embedding included), one call at a time;
- in-process: sentence-transformers ``encode`` (batch 64, normalised) and the plugin's own
  Qdrant Edge adapter (``EdgeStore``: same engine, same payloads), no runtime at all.

Reported at 1k and 10k chunks (``--quick``: 1k only): ingestion chunks/s and search p50/p99,
with the ratios against the targets (runtime >= 0.9 x in-process ingestion; runtime search p50
within 1 ms of in-process). Then recall: recall@3 of the labelled test corpus through the
runtime at threshold 0 and at the configured 0.7, recall@10 of the configured search mode
against exact search on that corpus, and of an HNSW index against exact search on the 10k real
embeddings. Finally the worker's start-up, peak memory and CPU time, for the ml profile's limits.
A report, not a test: exit 0 whether targets pass or miss.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

REPO: Final = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "plugins")]

import anyio  # noqa: E402
import numpy as np  # noqa: E402
from rag import payload as keys  # noqa: E402
from rag.embedder import SPIN_COUNT  # noqa: E402
from rag.payload import chunk_point_id  # noqa: E402
from rag.settings import BUNDLED_MODEL, parse_settings  # noqa: E402
from rag.store import CollectionSpec, Point  # noqa: E402
from rag.store.edge import EdgeStore  # noqa: E402

from runtime import Supervisor  # noqa: E402
from tests.rag.corpus import DOCUMENTS, QUERIES, documents_payload  # noqa: E402

PLUGIN: Final = REPO / "plugins" / "rag"
SIZES: Final = (1_000, 10_000)
QUICK_SIZES: Final = (1_000,)
# Documents per rag_add_document call.
BATCH: Final = 250
SEARCHES: Final = 200
QUICK_SEARCHES: Final = 100
WARMUP_SEARCHES: Final = 10
TOP_K: Final = 10
# Searches alternate in blocks, each started with a few uncounted queries: two models take turns
# on the same two cores, and after a switch the caches hold the other one's weights.
SEARCH_BLOCK: Final = 50
BLOCK_WARMUP: Final = 5
HNSW_RECALL_QUERIES: Final = 200
TARGET_INGEST_RATIO: Final = 0.9
TARGET_SEARCH_DELTA_MS: Final = 1.0
ENCODE_BATCH: Final = 64
SEED: Final = 20261124

_SUBJECTS: Final = (
    "The harbour crane",
    "A night nurse",
    "The village baker",
    "Our delivery drone",
    "The museum guide",
    "A tram driver",
    "The lighthouse keeper",
    "The rooftop garden",
    "A glacier researcher",
    "The school choir",
    "An orchard robot",
    "The ferry captain",
)
_ACTIONS: Final = (
    "checks the pressure of",
    "repaints",
    "counts",
    "photographs",
    "repairs",
    "waters",
    "records the temperature of",
    "sorts",
    "inspects",
    "delivers",
)
_OBJECTS: Final = (
    "the copper pipes",
    "forty crates of apples",
    "the station clock",
    "the solar inverters",
    "a shelf of rare maps",
    "the emergency generator",
    "the ticket machines",
    "two beehives",
    "the tide gauge",
    "the wind vane",
)
_WHEN: Final = (
    "before sunrise",
    "every Tuesday",
    "after the storm",
    "during the festival",
    "in late autumn",
    "at the end of each shift",
    "when the river floods",
    "on public holidays",
)
_WHY: Final = ("so nothing breaks in winter.", "because the inspector asked for it.",
    "to keep the records complete.", "which saves the town money.",
    "as the manual recommends.", "so visitors stay safe.")  # fmt: skip


def synthetic_texts(count: int, offset: int = 0) -> list[str]:
    rng = random.Random(SEED + offset)
    texts = []
    for n in range(offset, offset + count):
        first = f"{rng.choice(_SUBJECTS)} {rng.choice(_ACTIONS)} {rng.choice(_OBJECTS)} "
        second = f"{rng.choice(_WHEN)}, {rng.choice(_WHY)}"
        texts.append(f"Log {n}: {first}{second} Entry {n} was filed by team {n % 37}.")
    return texts


def synthetic_queries(count: int) -> list[str]:
    rng = random.Random(SEED - 1)
    return [
        f"Who {rng.choice(_ACTIONS)} {rng.choice(_OBJECTS)} {rng.choice(_WHEN)}?"
        for _ in range(count)
    ]


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def latency(samples: Sequence[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples]
    return {"p50_ms": percentile(ms, 0.5), "p99_ms": percentile(ms, 0.99),
            "mean_ms": statistics.fmean(ms)}  # fmt: skip


def stored_payload(document_id: str, text: str) -> dict[str, Any]:
    """What the plugin stores with a one-chunk document, so both stores hold the same bytes."""
    return {
        keys.DOCUMENT_ID: document_id,
        keys.CHUNK_INDEX: 0,
        keys.CHUNK_COUNT: 1,
        keys.TEXT: text,
        keys.FINGERPRINT: keys.fingerprint(document_id, text, {}, 800, 120, BUNDLED_MODEL),
        keys.METADATA: {},
        keys.ADDED_AT: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


# ---- in-process ----------------------------------------------------------------------------------


class InProcess:
    """sentence-transformers + the plugin's EdgeStore, with the worker's thread count."""

    def __init__(self, data_dir: str) -> None:
        # The plugin's own OpenMP setting (rag/embedder.py), so both pipelines run alike.
        os.environ.setdefault("GOMP_SPINCOUNT", SPIN_COUNT)
        import torch
        from rag.embedder import resolve_model_path
        from sentence_transformers import SentenceTransformer

        settings = parse_settings({})
        torch.set_num_threads(len(os.sched_getaffinity(0)))
        self.model = SentenceTransformer(
            resolve_model_path(settings.embedding), device="cpu", local_files_only=True
        )
        self.store = EdgeStore.open(
            data_dir, CollectionSpec("bench", settings.embedding.dimensions, "cosine")
        )

    def encode(self, texts: Sequence[str]) -> np.ndarray[Any, Any]:
        vectors: np.ndarray[Any, Any] = self.model.encode(
            list(texts), batch_size=ENCODE_BATCH, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )  # fmt: skip
        return vectors

    def ingest(self, texts: Sequence[str], offset: int) -> float:
        started = time.perf_counter()
        for start in range(0, len(texts), BATCH):
            batch = texts[start : start + BATCH]
            vectors = self.encode(batch)
            self.store.upsert([
                Point(chunk_point_id(f"log-{offset + start + i}", 0), vectors[i].tolist(),
                      stored_payload(f"log-{offset + start + i}", text))
                for i, text in enumerate(batch)
            ])  # fmt: skip
        return time.perf_counter() - started

    def search(self, queries: Sequence[str]) -> list[float]:
        times = []
        for query in queries:
            started = time.perf_counter()
            vector = self.encode([query])[0]
            self.store.search(vector.tolist(), TOP_K, exact=True)
            times.append(time.perf_counter() - started)
        return times


# ---- through the runtime -------------------------------------------------------------------------


async def runtime_ingest(sup: Supervisor, texts: Sequence[str], offset: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(texts), BATCH):
        documents = [
            {"id": f"log-{offset + start + i}", "text": text}
            for i, text in enumerate(texts[start : start + BATCH])
        ]
        result = await sup.call("rag_add_document", {"documents": documents})
        if result["chunks_written"] != len(documents):
            raise SystemExit(f"bench: expected {len(documents)} chunks written, got {result}")
    return time.perf_counter() - started


async def runtime_search(
    sup: Supervisor, queries: Sequence[str], inside: list[float] | None = None
) -> list[float]:
    """Call latencies; ``inside`` gets the time the tool itself measured, in the worker."""
    times = []
    for query in queries:
        started = time.perf_counter()
        params = {"query": query, "top_k": TOP_K, "similarity_threshold": -1.0}
        result = await sup.call("rag_search_documents", params)
        times.append(time.perf_counter() - started)
        if inside is not None:
            inside.append(result["took_ms"] / 1000)
    return times


def worker_figures(sup: Supervisor) -> dict[str, float]:
    pid = sup.status()["plugins"]["rag"]["pid"]
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmPeak", "VmData", "VmRSS"):
                fields[key] = int(value.split()[0]) / 1024
    with open(f"/proc/{pid}/stat") as stat:
        parts = stat.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    fields["cpu_s"] = (int(parts[11]) + int(parts[12])) / ticks
    return {f"{k}_mb" if k.startswith("Vm") else k: round(v, 1) for k, v in fields.items()}


async def run(
    sizes: Sequence[int], searches: int, tmp: str, texts: list[str], queries: list[str]
) -> dict[str, Any]:
    """Both pipelines, interleaved batch by batch and query by query.

    The machines this runs on are shared, so other load comes and goes; alternating the two
    pipelines (ingestion batch by batch, searches in blocks) exposes both to the same load,
    which keeps their ratio honest.
    """
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "QDRANT_"))}
    environ["RAG_DATA_DIR"] = f"{tmp}/runtime"
    report: dict[str, Any] = {"sizes": {}}
    started = time.perf_counter()
    async with Supervisor([PLUGIN], environ=environ) as sup:
        report["supervisor_ready_s"] = time.perf_counter() - started
        first = time.perf_counter()
        await sup.call("rag_search_documents", {"query": "warm up"})
        report["first_call_s"] = time.perf_counter() - first
        report["worker_after_model_load"] = worker_figures(sup)
        inproc = InProcess(f"{tmp}/inproc")
        await warm_up(sup, inproc, queries)
        done = 0
        for size in sizes:
            runtime_s = inproc_s = 0.0
            for start in range(done, size, BATCH):
                batch = texts[start : min(start + BATCH, size)]
                runtime_s += await runtime_ingest(sup, batch, start)
                inproc_s += inproc.ingest(batch, start)
            runtime_times: list[float] = []
            inside_times: list[float] = []
            inproc_times: list[float] = []
            for start in range(0, searches, SEARCH_BLOCK):
                block = queries[start : start + SEARCH_BLOCK]
                # The first queries after a switch find the other model in the CPU caches.
                await runtime_search(sup, block[:BLOCK_WARMUP])
                runtime_times += await runtime_search(sup, block, inside_times)
                inproc.search(block[:BLOCK_WARMUP])
                inproc_times += inproc.search(block)
            report["sizes"][size] = {
                "runtime": {"ingest_chunks_per_s": (size - done) / runtime_s,
                            "search": latency(runtime_times),
                            "search_inside_worker": latency(inside_times)},
                "in_process": {"ingest_chunks_per_s": (size - done) / inproc_s,
                               "search": latency(inproc_times)},
            }  # fmt: skip
            done = size
        report["labelled_recall_at_3"] = await labelled_recall(sup)
        report["worker_peak"] = worker_figures(sup)
        log("recall of the search modes ...")
        report["mode_recall_at_10"] = corpus_recall_of_mode(inproc)
        report["hnsw"] = hnsw_recall(inproc, queries, f"{tmp}/hnsw")
        inproc.store.close()
    return report


async def warm_up(sup: Supervisor, inproc: InProcess, queries: list[str]) -> None:
    """First batches run slower (kernel set-up for new shapes); neither pipeline counts them."""
    texts = synthetic_texts(BATCH, offset=-BATCH)
    await runtime_ingest(sup, texts, -BATCH)
    await sup.call("rag_delete_document", {"document_ids": [f"log-{n}" for n in range(-BATCH, 0)]})
    inproc.encode(texts)
    await runtime_search(sup, queries[:WARMUP_SEARCHES])
    inproc.search(queries[:WARMUP_SEARCHES])


async def labelled_recall(sup: Supervisor) -> dict[str, float]:
    await sup.call("rag_add_document", {"documents": documents_payload()})
    recall = {}
    for threshold in (0.0, 0.5, 0.7):
        found = 0
        for query, expected in QUERIES:
            result = await sup.call(
                "rag_search_documents",
                {"query": query, "top_k": 3, "similarity_threshold": threshold,
                 "filters": {"document_id": list(DOCUMENTS)}},
            )  # fmt: skip
            found += expected in {hit["document_id"] for hit in result["results"]}
        recall[f"threshold_{threshold:g}"] = found / len(QUERIES)
    return recall


# ---- recall of the index ---------------------------------------------------------------------


def hnsw_recall(inproc: InProcess, queries: list[str], data_dir: str) -> dict[str, Any]:
    """Recall@10 of an HNSW index over the in-process store's vectors against exact search."""
    records = inproc.store.sample(1_000_000)
    spec = CollectionSpec("hnsw", len(records[0].vector or ()), "cosine")
    index = EdgeStore.open(data_dir, spec)
    try:
        for start in range(0, len(records), 1000):
            index.upsert([Point(r.id, r.vector or [], {}) for r in records[start : start + 1000]])
        started = time.perf_counter()
        built = index.build_index()
        build_s = time.perf_counter() - started
        vectors = inproc.encode(queries[:HNSW_RECALL_QUERIES])
        found = expected = 0
        for vector in vectors:
            exact = {h.id for h in index.search(vector.tolist(), TOP_K, exact=True)}
            approx = {h.id for h in index.search(vector.tolist(), TOP_K, exact=False,
                                                 hnsw_ef=128)}  # fmt: skip
            found += len(exact & approx)
            expected += len(exact)
        return {"points": len(records), "indexed": index.info().indexed_vectors,
                "built": built, "build_s": build_s, "recall_at_10": found / expected}  # fmt: skip
    finally:
        index.close()


def corpus_recall_of_mode(inproc: InProcess) -> float:
    """Recall@10 of the configured mode (exact) against exact search on the labelled corpus."""
    settings = parse_settings({})
    exact_mode = settings.search.mode == "exact"
    vectors = inproc.encode([q for q, _ in QUERIES])
    texts = [d["text"] for d in DOCUMENTS.values()]
    with tempfile.TemporaryDirectory() as tmp:
        store = EdgeStore.open(tmp, CollectionSpec("corpus", vectors.shape[1], "cosine"))
        try:
            doc_vectors = inproc.encode(texts)
            store.upsert(
                [
                    Point(chunk_point_id(f"doc-{n}", 0), v.tolist(), {})
                    for n, v in enumerate(doc_vectors)
                ]
            )
            found = expected = 0
            for vector in vectors:
                exact = {h.id for h in store.search(vector.tolist(), TOP_K, exact=True)}
                mode = {h.id for h in store.search(vector.tolist(), TOP_K, exact=exact_mode)}
                found += len(exact & mode)
                expected += len(exact)
        finally:
            store.close()
    return found / expected


# ---- report --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1k chunks only, fewer searches")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    sizes = QUICK_SIZES if args.quick else SIZES
    searches = QUICK_SEARCHES if args.quick else SEARCHES
    texts = synthetic_texts(max(sizes))
    queries = synthetic_queries(max(searches, HNSW_RECALL_QUERIES) + WARMUP_SEARCHES)

    with tempfile.TemporaryDirectory(prefix="bench-rag-") as tmp:
        log(f"{', '.join(map(str, sizes))} chunks, runtime and in-process interleaved ...")
        report = anyio.run(run, sizes, searches, tmp, texts, queries)
    for size in sizes:
        entry = report["sizes"][size]
        rt, ip = entry["runtime"], entry["in_process"]
        entry["ingest_ratio"] = rt["ingest_chunks_per_s"] / ip["ingest_chunks_per_s"]
        entry["search_p50_delta_ms"] = rt["search"]["p50_ms"] - ip["search"]["p50_ms"]
    report["load_average"] = os.getloadavg()
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print_report(report, sizes)


def print_report(report: dict[str, Any], sizes: Sequence[int]) -> None:
    def verdict(ok: bool) -> str:
        return "meets target" if ok else "MISSES target"

    print(f"{'chunks':>7} {'pipeline':<11} {'ingest/s':>9} {'search p50':>11} {'p99':>9}")
    for size in sizes:
        entry = report["sizes"][size]
        for name in ("runtime", "in_process"):
            figures = entry[name]
            print(
                f"{size:>7} {name:<11} {figures['ingest_chunks_per_s']:>9.1f} "
                f"{figures['search']['p50_ms']:>8.2f} ms {figures['search']['p99_ms']:>6.2f} ms"
            )
        inside = entry["runtime"]["search_inside_worker"]
        print(
            f"{size:>7} (in the worker, the tool itself took p50 {inside['p50_ms']:.2f} ms, "
            f"p99 {inside['p99_ms']:.2f} ms)"
        )
        ratio, delta = entry["ingest_ratio"], entry["search_p50_delta_ms"]
        print(
            f"{size:>7} ratios      ingestion runtime/in-process {ratio:.3f} "
            f"(>= {TARGET_INGEST_RATIO}: {verdict(ratio >= TARGET_INGEST_RATIO)}); "
            f"search p50 +{delta:.2f} ms "
            f"(<= {TARGET_SEARCH_DELTA_MS} ms: {verdict(delta <= TARGET_SEARCH_DELTA_MS)})"
        )
    runtime = report
    recall = runtime["labelled_recall_at_3"]
    print(
        f"labelled corpus ({len(QUERIES)} queries) recall@3 through the runtime: "
        + ", ".join(f"{k.replace('_', ' ')}: {v:.3f}" for k, v in recall.items())
    )
    print(
        f"recall@10 of the configured search mode vs exact (labelled corpus): "
        f"{report['mode_recall_at_10']:.3f}"
    )
    hnsw = report["hnsw"]
    print(
        f"HNSW vs exact on {hnsw['points']} real embeddings: recall@10 "
        f"{hnsw['recall_at_10']:.4f} (ef 128, {hnsw['indexed']} indexed, "
        f"built in {hnsw['build_s']:.1f}s)"
    )
    print(
        f"worker: supervisor ready in {runtime['supervisor_ready_s']:.2f}s, first call "
        f"(waits for the model) {runtime['first_call_s']:.2f}s"
    )
    print(f"worker after the model loaded: {runtime['worker_after_model_load']}")
    print(f"worker at the end: {runtime['worker_peak']}")
    load = ", ".join(f"{x:.2f}" for x in report["load_average"])
    print(f"load average at the end (2 cores; other work shares them): {load}")


def log(message: str) -> None:
    print(f"bench_rag: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
