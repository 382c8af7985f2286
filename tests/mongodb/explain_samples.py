"""Explain documents of both plan shapes, for the parser's unit tests.

The classic ones are what the wheel's mongod 6.0.5 answered (serverInfo, serverParameters and
the echoed command removed, index details trimmed). The slot-based (SBE) ones follow the 7.0+
layout documented in the MongoDB manual (Explain Results: ``winningPlan.queryPlan`` beside an
opaque ``slotBasedPlan``, ``explainVersion: "2"``, SBE stage names in ``executionStages``),
since no 7.0 server ships with this project.
"""

from __future__ import annotations

from typing import Any, Final

_IXSCAN_STATUS: Final[dict[str, Any]] = {
    "stage": "IXSCAN",
    "keyPattern": {"status": 1, "created_at": -1},
    "indexName": "status_1_created_at_-1",
    "isMultiKey": False,
    "direction": "forward",
    "indexBounds": {"status": ['["paid", "paid"]'], "created_at": ["[MaxKey, MinKey]"]},
}

CLASSIC_COLLSCAN_SORT: Final[dict[str, Any]] = {
    "explainVersion": "1",
    "queryPlanner": {
        "namespace": "explore.o",
        "indexFilterSet": False,
        "parsedQuery": {"$and": [{"status": {"$eq": "a"}}, {"total": {"$gt": 5}}]},
        "queryHash": "BF97CAD4",
        "planCacheKey": "BF97CAD4",
        "winningPlan": {
            "stage": "SORT",
            "sortPattern": {"created": -1},
            "memLimit": 104857600,
            "type": "simple",
            "inputStage": {
                "stage": "COLLSCAN",
                "filter": {"$and": [{"status": {"$eq": "a"}}, {"total": {"$gt": 5}}]},
                "direction": "forward",
            },
        },
        "rejectedPlans": [],
    },
    "executionStats": {
        "executionSuccess": True,
        "nReturned": 665,
        "executionTimeMillis": 3,
        "totalKeysExamined": 0,
        "totalDocsExamined": 2000,
        "executionStages": {
            "stage": "SORT",
            "nReturned": 665,
            "inputStage": {"stage": "COLLSCAN", "nReturned": 665, "docsExamined": 2000},
        },
    },
    "ok": 1.0,
}

CLASSIC_IXSCAN_LIMIT: Final[dict[str, Any]] = {
    "explainVersion": "1",
    "queryPlanner": {
        "namespace": "hydrogen_demo.orders",
        "parsedQuery": {"status": {"$eq": "paid"}},
        "winningPlan": {
            "stage": "LIMIT",
            "limitAmount": 5,
            "inputStage": {"stage": "FETCH", "inputStage": _IXSCAN_STATUS},
        },
        "rejectedPlans": [],
    },
    "executionStats": {
        "executionSuccess": True,
        "nReturned": 5,
        "executionTimeMillis": 0,
        "totalKeysExamined": 5,
        "totalDocsExamined": 5,
    },
    "ok": 1.0,
}

CLASSIC_OR: Final[dict[str, Any]] = {
    "explainVersion": "1",
    "queryPlanner": {
        "namespace": "hydrogen_demo.orders",
        "winningPlan": {
            "stage": "SUBPLAN",
            "inputStage": {
                "stage": "FETCH",
                "inputStage": {
                    "stage": "OR",
                    "inputStages": [
                        _IXSCAN_STATUS,
                        {
                            "stage": "IXSCAN",
                            "keyPattern": {"customer_id": 1},
                            "indexName": "customer_id_1",
                            "indexBounds": {"customer_id": ["[7, 7]"]},
                        },
                    ],
                },
            },
        },
        "rejectedPlans": [],
    },
    "executionStats": {
        "nReturned": 101,
        "executionTimeMillis": 1,
        "totalKeysExamined": 101,
        "totalDocsExamined": 101,
    },
    "ok": 1.0,
}

SBE_IXSCAN_WITH_REJECTED_COLLSCAN: Final[dict[str, Any]] = {
    "explainVersion": "2",
    "queryPlanner": {
        "namespace": "shop.orders",
        "indexFilterSet": False,
        "parsedQuery": {"$and": [{"status": {"$eq": "A"}}, {"qty": {"$gt": 10}}]},
        "queryHash": "2B3A3C0E",
        "planCacheKey": "9F1E2B44",
        "optimizationTimeMillis": 0,
        "maxIndexedOrSolutionsReached": False,
        "winningPlan": {
            "queryPlan": {
                "stage": "FETCH",
                "planNodeId": 2,
                "filter": {"qty": {"$gt": 10}},
                "inputStage": {
                    "stage": "IXSCAN",
                    "planNodeId": 1,
                    "keyPattern": {"status": 1},
                    "indexName": "status_1",
                    "direction": "forward",
                    "indexBounds": {"status": ['["A", "A"]']},
                },
            },
            "slotBasedPlan": {
                "slots": "$$RESULT=s11 env: { s1 = IndexBounds(...), s3 = Nothing }",
                "stages": "[2] filter {(s9 > 10)}\n[2] nlj inner [] [s4, s5, s6, s7, s8]\n"
                "    left\n        [1] ixseek s1 s2 s4 s5 s6 []\n    right\n"
                "        [2] seek s4 s11 s12 s5 s6 s7 s8 none none [s9 = qty]",
            },
        },
        "rejectedPlans": [
            {
                "queryPlan": {"stage": "COLLSCAN", "planNodeId": 1, "direction": "forward"},
                "slotBasedPlan": {"slots": "...", "stages": "[1] scan s3 s4 none none none"},
            }
        ],
    },
    "executionStats": {
        "executionSuccess": True,
        "nReturned": 3,
        "executionTimeMillis": 1,
        "totalKeysExamined": 5,
        "totalDocsExamined": 5,
        "executionStages": {
            "stage": "filter",
            "planNodeId": 2,
            "nReturned": 3,
            "inputStage": {
                "stage": "nlj",
                "planNodeId": 2,
                "outerStage": {"stage": "ixseek", "planNodeId": 1, "indexName": "status_1"},
                "innerStage": {"stage": "seek", "planNodeId": 2},
            },
        },
    },
    "ok": 1.0,
}

SBE_COLLSCAN_SORT: Final[dict[str, Any]] = {
    "explainVersion": "2",
    "queryPlanner": {
        "namespace": "shop.orders",
        "winningPlan": {
            "queryPlan": {
                "stage": "SORT",
                "planNodeId": 2,
                "sortPattern": {"created_at": -1},
                "memLimit": 104857600,
                "type": "simple",
                "inputStage": {
                    "stage": "COLLSCAN",
                    "planNodeId": 1,
                    "filter": {"status": {"$eq": "A"}},
                    "direction": "forward",
                },
            },
            "slotBasedPlan": {"slots": "...", "stages": "[2] sort [s5] [desc] [s4]\n[1] scan"},
        },
        "rejectedPlans": [],
    },
    "executionStats": {
        "executionSuccess": True,
        "nReturned": 40,
        "executionTimeMillis": 12,
        "totalKeysExamined": 0,
        "totalDocsExamined": 10000,
        "executionStages": {"stage": "sort", "inputStage": {"stage": "scan", "numReads": 10000}},
    },
    "ok": 1.0,
}

SHARDED_CLASSIC: Final[dict[str, Any]] = {
    "queryPlanner": {
        "mongosPlannerVersion": 1,
        "winningPlan": {
            "stage": "SHARD_MERGE",
            "shards": [
                {
                    "shardName": "rs0",
                    "winningPlan": {
                        "stage": "SHARDING_FILTER",
                        "inputStage": {"stage": "FETCH", "inputStage": _IXSCAN_STATUS},
                    },
                },
                {
                    "shardName": "rs1",
                    "winningPlan": {"stage": "COLLSCAN", "direction": "forward"},
                },
            ],
        },
    },
    "executionStats": {"nReturned": 9, "totalKeysExamined": 4, "totalDocsExamined": 900},
}

AGGREGATE_CURSOR: Final[dict[str, Any]] = {
    "explainVersion": "1",
    "stages": [
        {
            "$cursor": {
                "queryPlanner": {"winningPlan": {"stage": "COLLSCAN", "direction": "forward"}},
                "executionStats": {"nReturned": 7, "totalDocsExamined": 70},
            }
        },
        {"$group": {"_id": "$status"}},
    ],
}

EXPRESS_ID_LOOKUP: Final[dict[str, Any]] = {
    "explainVersion": "1",
    "queryPlanner": {
        "winningPlan": {
            "isCached": False,
            "stage": "EXPRESS_IXSCAN",
            "keyPattern": "{ _id: 1 }",
            "indexName": "_id_",
        },
        "rejectedPlans": [],
    },
    "executionStats": {"nReturned": 1, "totalKeysExamined": 1, "totalDocsExamined": 1},
}
