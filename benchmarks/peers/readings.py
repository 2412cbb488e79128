"""The peers benchmark's pure parts: merging a partial run into the previous result, and the goal readings.

Used by ``benchmarks/peers/run.py`` and ``benchmarks/report.py``; stdlib only.
"""

from __future__ import annotations

from typing import Any

LIBRARY_PEERS = ("llamaindex", "langchain", "txtai")

# issue 11: ragtune vs the best library peer, and vs the plain reference pipeline.
GOAL_FIRST_ANSWER_X = 3.0
GOAL_QUERY_X = 5.0
GOAL_REFERENCE_P50_X = 3.0
GOAL_REFERENCE_NDCG_DIFF = 0.002


def merge_rows(previous: list[dict[str, Any]], new: list[dict[str, Any]], order: list[str]) -> list[dict[str, Any]]:
    """This run's rows, plus the previous file's rows for peers not run this time; in ``order``."""
    by_peer = {r["peer"]: r for r in previous}
    by_peer.update({r["peer"]: r for r in new})
    rank = {p: i for i, p in enumerate(order)}
    return sorted(by_peer.values(), key=lambda r: (rank.get(r["peer"], len(rank)), r["peer"]))


def readings(rows: list[dict[str, Any]], ours: str = "ragtune") -> dict[str, Any]:
    """ragtune against the best library peer (per figure) and the reference pipeline; None where a row is absent.

    The best peer is taken per figure: the fastest to first answer, the fastest p50, the highest nDCG@10.
    ``same_run`` says whether the rows compared were measured in one run of the driver (one date).
    """
    by = {r["peer"]: r for r in rows}
    rt, ref = by.get(ours), by.get("reference")
    libs = [by[p] for p in LIBRARY_PEERS if p in by]
    out: dict[str, Any] = {"vs_best_peer": None, "vs_reference": None}
    if rt and libs:
        first = min(libs, key=lambda r: r["ingest_to_first_answer_s"])
        fast = min(libs, key=lambda r: r["p50_ms"])
        good = max(libs, key=lambda r: r["ndcg@10"])
        fa_x = first["ingest_to_first_answer_s"] / rt["ingest_to_first_answer_s"]
        q_x = fast["p50_ms"] / rt["p50_ms"]
        out["vs_best_peer"] = {
            "first_answer_peer": first["peer"],
            "first_answer_x": fa_x,
            "first_answer_goal_x": GOAL_FIRST_ANSWER_X,
            "first_answer_met": fa_x >= GOAL_FIRST_ANSWER_X,
            "query_peer": fast["peer"],
            "query_p50_x": q_x,
            "query_goal_x": GOAL_QUERY_X,
            "query_met": q_x >= GOAL_QUERY_X,
            "ndcg_peer": good["peer"],
            "ndcg_diff": rt["ndcg@10"] - good["ndcg@10"],
            "ndcg_met": rt["ndcg@10"] >= good["ndcg@10"],
            "same_run": len({r["date"] for r in [rt, *libs]}) == 1,
        }
    if rt and ref:
        p50_x = ref["p50_ms"] / rt["p50_ms"]
        diff = rt["ndcg@10"] - ref["ndcg@10"]
        out["vs_reference"] = {
            "p50_x": p50_x,
            "p50_goal_x": GOAL_REFERENCE_P50_X,
            "p50_met": p50_x >= GOAL_REFERENCE_P50_X,
            "ndcg_diff": diff,
            "ndcg_goal_abs": GOAL_REFERENCE_NDCG_DIFF,
            "ndcg_met": abs(diff) <= GOAL_REFERENCE_NDCG_DIFF,
            "same_run": rt["date"] == ref["date"],
        }
    return out
