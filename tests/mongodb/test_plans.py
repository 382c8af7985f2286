"""The explain parser on both plan shapes: classic (6.0) and slot-based (7.0+ queryPlan)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.mongodb import explain_samples as samples
from tests.mongodb.support import plugin_module

plans = plugin_module("tools.plans")


def test_classic_collscan_under_a_blocking_sort_is_read_from_the_6_0_shape() -> None:
    plan = plans.parse_explain(samples.CLASSIC_COLLSCAN_SORT)
    assert plan.engine == "classic"
    assert plan.stages == ("SORT", "COLLSCAN")
    assert (plan.scan, plan.collection_scan, plan.index_scan) == ("COLLSCAN", True, False)
    assert plan.blocking_sort
    assert (plan.keys_examined, plan.docs_examined, plan.returned) == (0, 2000, 665)
    assert plan.examined_per_returned == round(2000 / 665, 2)
    assert plan.execution_ms == 3


def test_classic_index_scan_names_its_index_and_counts() -> None:
    plan = plans.parse_explain(samples.CLASSIC_IXSCAN_LIMIT)
    assert plan.stages == ("LIMIT", "FETCH", "IXSCAN")
    assert plan.scan == "IXSCAN"
    assert plan.indexes == ("status_1_created_at_-1",)
    assert not plan.blocking_sort
    assert plan.examined_per_returned == 1.0


def test_or_stages_are_walked_through_input_stages() -> None:
    plan = plans.parse_explain(samples.CLASSIC_OR)
    assert plan.stages == ("SUBPLAN", "FETCH", "OR", "IXSCAN", "IXSCAN")
    assert plan.indexes == ("status_1_created_at_-1", "customer_id_1")
    assert plan.scan == "IXSCAN"


def test_sbe_plan_is_read_from_query_plan_not_from_sbe_execution_stages() -> None:
    plan = plans.parse_explain(samples.SBE_IXSCAN_WITH_REJECTED_COLLSCAN)
    assert plan.engine == "sbe"
    # The winning queryPlan, in the planner's stage names; the rejected COLLSCAN and the SBE
    # execution stages (ixseek, nlj, seek) are not part of it.
    assert plan.stages == ("FETCH", "IXSCAN")
    assert plan.indexes == ("status_1",)
    assert (plan.scan, plan.collection_scan) == ("IXSCAN", False)
    assert (plan.keys_examined, plan.docs_examined, plan.returned) == (5, 5, 3)
    assert plan.rejected_plans == 1


def test_sbe_collscan_with_blocking_sort() -> None:
    plan = plans.parse_explain(samples.SBE_COLLSCAN_SORT)
    assert plan.engine == "sbe"
    assert (plan.scan, plan.blocking_sort) == ("COLLSCAN", True)
    assert plan.examined_per_returned == 250.0


def test_both_shapes_give_the_same_summary_for_the_same_plan() -> None:
    classic: dict[str, Any] = {
        "queryPlanner": {
            "winningPlan": samples.SBE_COLLSCAN_SORT["queryPlanner"]["winningPlan"]["queryPlan"]
        },
        "executionStats": samples.SBE_COLLSCAN_SORT["executionStats"],
    }
    as_classic = plans.parse_explain(classic).to_json()
    as_sbe = plans.parse_explain(samples.SBE_COLLSCAN_SORT).to_json()
    assert as_classic.pop("engine") == "classic"
    assert as_sbe.pop("engine") == "sbe"
    assert as_classic == as_sbe


def test_sharded_plans_merge_every_shard() -> None:
    plan = plans.parse_explain(samples.SHARDED_CLASSIC)
    assert plan.scan == "COLLSCAN+IXSCAN"
    assert plan.indexes == ("status_1_created_at_-1",)
    assert plan.stages == ("SHARDING_FILTER", "FETCH", "IXSCAN", "COLLSCAN")


def test_aggregate_explain_reads_the_cursor_stage() -> None:
    plan = plans.parse_explain(samples.AGGREGATE_CURSOR)
    assert (plan.scan, plan.docs_examined, plan.returned) == ("COLLSCAN", 70, 7)


def test_express_id_lookup_of_8_0_counts_as_an_index_scan() -> None:
    plan = plans.parse_explain(samples.EXPRESS_ID_LOOKUP)
    assert (plan.scan, plan.indexes) == ("IXSCAN", ("_id_",))


def test_missing_planner_section_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match="queryPlanner"):
        plans.parse_explain({"ok": 1.0})
