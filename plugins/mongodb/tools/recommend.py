"""``mongodb_recommend_indexes``: indexes for given or profiled query shapes, by the ESR rule,
checked against the existing indexes and the server's own plans; applied when asked.

For each distinct shape (see ``tools.esr``) the tool explains one example query. A shape needs an
index when no existing index serves it and its plan scans the collection, sorts in memory, or
reads more than ``MAX_EXAMINED_PER_RETURNED`` keys or documents per document returned. Candidate
keys that are a prefix of another candidate are folded into it. ``apply`` builds the chosen
recommendations and explains their shapes again, so the answer shows the plan before and after.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from pymongo.collection import Collection
from pymongo.database import Database

from .context import ToolContext, reject_unknown
from .errors import InvalidArgumentError, ServerCommandError
from .esr import IndexInfo, Key, Shape, analyse, index_name, is_prefix, merge_candidates, serves
from .index_spec import IndexRequest
from .inputs import NAMESPACE_SCHEMA, QUERIES_SCHEMA, Query, parse_namespace, parse_queries
from .plans import PlanSummary
from .reports import index_findings
from .server import (
    build_index,
    explain,
    index_failure,
    index_usage,
    list_indexes,
    require_collection,
    sample_profiler,
)
from .settings import parse_number

__all__ = ["MAX_EXAMINED_PER_RETURNED", "RecommendIndexesTool"]

Document = dict[str, Any]
# Above this many keys or documents read per document returned, an index scan is a poor fit.
MAX_EXAMINED_PER_RETURNED: Final = 10.0
MAX_SAMPLE: Final = 100_000
PROPERTIES: Final[dict[str, Any]] = {
    **NAMESPACE_SCHEMA,
    "queries": QUERIES_SCHEMA,
    "sample_limit": {
        "type": "integer", "minimum": 1, "maximum": MAX_SAMPLE,
        "description": "Without queries: how many recent profiler entries to read "
        "(default: configuration.profiler_sample_limit).",
    },
    "apply": {
        "anyOf": [{"type": "boolean"}, {"type": "array", "items": {"type": "string"}}],
        "default": False,
        "description": "true: build every recommendation; a list: build those named; then "
        "explain their queries again.",
    },
}  # fmt: skip


@dataclass
class _ShapeGroup:
    shape: Shape
    query: Query
    occurrences: int = 1
    plan: PlanSummary | None = None
    served_by: str | None = None
    verdict: str = ""
    needs_index: bool = False
    after: PlanSummary | None = None
    recommendation: str | None = None


@dataclass
class _Recommendation:
    key: Key
    shapes: list[int]
    reasons: list[str]
    makes_redundant: list[str]
    applied: dict[str, Any] | None = field(default=None)

    @property
    def name(self) -> str:
        return index_name(self.key)


class RecommendIndexesTool:
    name: Final = "mongodb_recommend_indexes"
    description: Final = (
        "Propose indexes (equality, sort, range order) for given query shapes or ones sampled "
        "from the profiler, checked with explain; flag redundant and unused indexes; build "
        "the proposals when asked and show the plans before and after."
    )

    def __init__(self, context: ToolContext) -> None:
        self._context = context

    def get_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": PROPERTIES,
            "required": ["collection"],
            "additionalProperties": False,
        }

    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        params = params or {}
        reject_unknown(params, PROPERTIES)
        settings = self._context.settings
        database, collection = parse_namespace(params, settings.default_database)
        queries = parse_queries(params.get("queries"), "queries")
        limit = int(
            parse_number(
                params.get("sample_limit", settings.profiler_sample_limit),
                "sample_limit", 1, MAX_SAMPLE, integer=True,
            )
        )  # fmt: skip
        apply = _parse_apply(params.get("apply", False))
        namespace = f"{database}.{collection}"
        request: IndexRequest | None = None
        try:
            with self._context.server_call(self.name, f"recommending indexes for {namespace}"):
                db = self._context.client()[database]
                require_collection(db, collection)
                source = "queries"
                if not queries:
                    source = "profiler"
                    queries = tuple(sample_profiler(db, collection, limit))
                target = db[collection]
                indexes = list_indexes(target)
                usage = index_usage(target)
                groups = _group(queries)
                for group in groups:
                    _judge(db, collection, group, indexes)
                recommendations = _recommend(groups, indexes)
                _check_apply(apply, [r.name for r in recommendations])
                for recommendation in recommendations:
                    if apply is True or (isinstance(apply, list) and recommendation.name in apply):
                        request = IndexRequest(keys=recommendation.key, options={})
                        recommendation.applied = _apply(db, target, request, recommendation, groups)
                if request is not None:
                    indexes, usage = list_indexes(target), index_usage(target)
        except ServerCommandError as exc:
            raise (exc if request is None else index_failure(exc, request)) from exc
        notes = []
        if source == "profiler" and not queries:
            notes.append(
                f"no queries given and the profiler holds none for {namespace}: pass queries, "
                "or enable the profiler (db.setProfilingLevel(1, {slowms: 20})) and run the "
                "workload first"
            )
        return {
            "namespace": namespace,
            "source": source,
            "queries_analysed": len(queries),
            "shapes": [_shape_json(g) for g in groups],
            "recommendations": [
                _recommendation_json(r, database, collection) for r in recommendations
            ],
            **index_findings(indexes, usage),
            "notes": notes,
        }


def _parse_apply(value: Any) -> bool | list[str]:
    if isinstance(value, bool):
        return value
    if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
        return list(value)
    raise InvalidArgumentError(
        "apply",
        "must be true, false or a list of recommendation names",
        'e.g. ["status_1_total_1"]',
    )


def _check_apply(apply: bool | list[str], names: list[str]) -> None:
    if isinstance(apply, bool):
        return
    for index, name in enumerate(apply):
        if name not in names:
            raise InvalidArgumentError(
                f"apply[{index}]",
                f"{name!r} is not among this run's recommendations",
                f"use one of: {', '.join(names) or 'none (nothing to recommend)'}",
            )


def _group(queries: tuple[Query, ...]) -> list[_ShapeGroup]:
    groups: dict[tuple[Any, ...], _ShapeGroup] = {}
    for query in queries:
        for shape in analyse(query.filter, query.sort):
            signature = (frozenset(shape.equality), shape.sort, frozenset(shape.range))
            if signature in groups:
                groups[signature].occurrences += 1
            else:
                groups[signature] = _ShapeGroup(shape=shape, query=query)
    return list(groups.values())


def _judge(
    db: Database[Document], collection: str, group: _ShapeGroup, indexes: list[IndexInfo]
) -> None:
    shape = group.shape
    plan = explain(db, collection, group.query)
    group.plan = plan
    if not shape.plannable:
        group.verdict = "no predicate or sort an index can serve"
        return
    served = [i for i in indexes if serves(i.key, shape.key, shape) and not i.options.get("hidden")]
    if served:
        group.served_by = served[0].name
        group.verdict = (
            f"served by index {served[0].name!r}"
            if plan.index_scan
            else f"index {served[0].name!r} fits, but the planner chose {plan.scan}"
        )
        return
    ratio = plan.examined_per_returned or 0.0
    if plan.collection_scan:
        group.verdict = f"COLLSCAN read {plan.docs_examined} documents to return {plan.returned}"
    elif plan.blocking_sort:
        group.verdict = f"sorted {plan.returned} documents in memory (blocking SORT)"
    elif ratio > MAX_EXAMINED_PER_RETURNED:
        group.verdict = (
            f"read {ratio:g} keys or documents per document returned through "
            f"{', '.join(plan.indexes) or plan.scan}"
        )
    else:
        group.verdict = f"adequately served by {', '.join(plan.indexes) or plan.scan}"
        return
    group.needs_index = True


def _recommend(groups: list[_ShapeGroup], indexes: list[IndexInfo]) -> list[_Recommendation]:
    wanted = [g for g in groups if g.needs_index]
    recommendations = []
    for key in merge_candidates(g.shape.key for g in wanted):
        covered = [
            i for i, g in enumerate(groups) if g.needs_index and serves(key, g.shape.key, g.shape)
        ]
        for i in covered:
            groups[i].recommendation = index_name(key)
        recommendations.append(
            _Recommendation(
                key=key,
                shapes=covered,
                reasons=[groups[i].verdict for i in covered],
                makes_redundant=[
                    info.name
                    for info in indexes
                    if info.name != "_id_"
                    and info.plain_btree
                    and not info.distinct_options
                    and len(info.key) < len(key)
                    and is_prefix(info.key, key)
                ],
            )
        )
    return recommendations


def _apply(
    db: Database[Document],
    target: Collection[Document],
    request: IndexRequest,
    recommendation: _Recommendation,
    groups: list[_ShapeGroup],
) -> dict[str, Any]:
    report = build_index(target, request)
    verified = True
    for i in recommendation.shapes:
        after = explain(db, target.name, groups[i].query)
        groups[i].after = after
        verified = verified and after.index_scan and not after.collection_scan
    return {**report, "verified": verified}


def _shape_json(group: _ShapeGroup) -> dict[str, Any]:
    data: dict[str, Any] = {
        "shape": group.shape.describe(),
        **group.shape.to_json(),
        "occurrences": group.occurrences,
        "example": group.query.to_json(),
        "plan": group.plan.to_json() if group.plan else None,
        "served_by": group.served_by,
        "verdict": group.verdict,
        "recommendation": group.recommendation,
    }
    if group.after is not None:
        data["plan_after"] = group.after.to_json()
    return data


def _recommendation_json(rec: _Recommendation, database: str, collection: str) -> dict[str, Any]:
    keys = [[f, d] for f, d in rec.key]
    return {
        "name": rec.name,
        "keys": keys,
        "for_shapes": rec.shapes,
        "reasons": rec.reasons,
        "makes_redundant": rec.makes_redundant,
        "create_index_params": {"database": database, "collection": collection, "keys": keys},
        "applied": rec.applied is not None,
        **({"result": rec.applied} if rec.applied is not None else {}),
    }
