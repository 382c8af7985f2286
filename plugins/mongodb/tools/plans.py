"""Read an ``explain`` (executionStats) document into a ``PlanSummary``; pure, no I/O.

Two shapes exist. The classic engine (MongoDB 6.0 for plain finds) nests stages directly under
``queryPlanner.winningPlan``. The slot-based engine (7.0+, ``explainVersion: "2"``) puts the same
kind of tree under ``winningPlan.queryPlan`` next to an opaque ``slotBasedPlan``, and its
``executionStages`` use SBE's own stage names, so only the top-level totals of
``executionStats`` are read, which both engines report. Sharded explains carry one winning
plan per shard under ``winningPlan.shards``; aggregate explains wrap the planner in
``stages[0].$cursor``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["COLLECTION_SCANS", "INDEX_SCANS", "PlanSummary", "parse_explain"]

COLLECTION_SCANS: Final = frozenset({"COLLSCAN", "CLUSTERED_COLLSCAN"})
INDEX_SCANS: Final = frozenset({
    "IXSCAN", "IDHACK", "COUNT_SCAN", "DISTINCT_SCAN", "EXPRESS_IXSCAN",
    "EXPRESS_CLUSTERED_IXSCAN", "CLUSTERED_IXSCAN", "GEO_NEAR_2D", "GEO_NEAR_2DSPHERE", "TEXT",
})  # fmt: skip
BLOCKING_SORTS: Final = frozenset({"SORT"})
CHILD_KEYS: Final = ("inputStage", "outerStage", "innerStage", "thenStage", "elseStage")
CHILD_LISTS: Final = ("inputStages",)


@dataclass(frozen=True)
class PlanSummary:
    engine: str  # "classic" or "sbe"
    stages: tuple[str, ...]  # winning plan, root first (depth-first)
    indexes: tuple[str, ...]
    collection_scan: bool
    index_scan: bool
    blocking_sort: bool
    keys_examined: int | None
    docs_examined: int | None
    returned: int | None
    execution_ms: int | None
    rejected_plans: int

    @property
    def scan(self) -> str:
        """COLLSCAN, IXSCAN, COLLSCAN+IXSCAN, or the root stage (EOF for a missing collection)."""
        if self.collection_scan and self.index_scan:
            return "COLLSCAN+IXSCAN"
        if self.collection_scan:
            return "COLLSCAN"
        if self.index_scan:
            return "IXSCAN"
        return self.stages[-1] if self.stages else "UNKNOWN"

    @property
    def examined_per_returned(self) -> float | None:
        """Documents (or keys, when no document was fetched) read per document returned."""
        examined = max(self.docs_examined or 0, self.keys_examined or 0)
        if self.returned is None:
            return None
        return round(examined / max(self.returned, 1), 2)

    def to_json(self) -> dict[str, Any]:
        return {
            "scan": self.scan,
            "engine": self.engine,
            "stages": list(self.stages),
            "indexes": list(self.indexes),
            "blocking_sort": self.blocking_sort,
            "keys_examined": self.keys_examined,
            "docs_examined": self.docs_examined,
            "returned": self.returned,
            "examined_per_returned": self.examined_per_returned,
            "execution_ms": self.execution_ms,
            "rejected_plans": self.rejected_plans,
        }


def parse_explain(explain: Mapping[str, Any]) -> PlanSummary:
    """Raises ``ValueError`` when the document has no query planner section at all."""
    planner, stats = _sections(explain)
    winning = planner.get("winningPlan")
    if not isinstance(winning, Mapping):
        raise ValueError("explain output has no queryPlanner.winningPlan")
    sbe = str(explain.get("explainVersion", "1")) == "2" or any(
        "queryPlan" in plan for plan in _shard_plans(winning)
    )
    stages: list[str] = []
    indexes: list[str] = []
    for plan in _shard_plans(winning):
        tree = plan.get("queryPlan", plan)
        for stage in _walk(tree):
            name = str(stage.get("stage", "?"))
            stages.append(name)
            index = stage.get("indexName")
            if isinstance(index, str) and index not in indexes:
                indexes.append(index)
    leaves = set(stages)
    rejected = planner.get("rejectedPlans")
    return PlanSummary(
        engine="sbe" if sbe else "classic",
        stages=tuple(stages),
        indexes=tuple(indexes),
        collection_scan=bool(leaves & COLLECTION_SCANS),
        index_scan=bool(leaves & INDEX_SCANS),
        blocking_sort=bool(leaves & BLOCKING_SORTS),
        keys_examined=_count(stats, "totalKeysExamined"),
        docs_examined=_count(stats, "totalDocsExamined"),
        returned=_count(stats, "nReturned"),
        execution_ms=_count(stats, "executionTimeMillis"),
        rejected_plans=len(rejected) if isinstance(rejected, list) else 0,
    )


def _sections(explain: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    planner = explain.get("queryPlanner")
    stats = explain.get("executionStats")
    if planner is None:
        stages = explain.get("stages")
        if isinstance(stages, list) and stages and isinstance(stages[0], Mapping):
            cursor = stages[0].get("$cursor")
            if isinstance(cursor, Mapping):
                planner, stats = cursor.get("queryPlanner"), cursor.get("executionStats")
    if not isinstance(planner, Mapping):
        raise ValueError("explain output has no queryPlanner section")
    return planner, stats if isinstance(stats, Mapping) else {}


def _shard_plans(winning: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    shards = winning.get("shards")
    if isinstance(shards, list):
        return [
            s["winningPlan"]
            for s in shards
            if isinstance(s, Mapping) and isinstance(s.get("winningPlan"), Mapping)
        ]
    return [winning]


def _walk(stage: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield stage
    for key in CHILD_KEYS:
        child = stage.get(key)
        if isinstance(child, Mapping):
            yield from _walk(child)
    for key in CHILD_LISTS:
        children = stage.get(key)
        if isinstance(children, list):
            for child in children:
                if isinstance(child, Mapping):
                    yield from _walk(child)


def _count(stats: Mapping[str, Any], key: str) -> int | None:
    value = stats.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)
