"""The peers benchmark's pure parts: merging a partial run, the goal readings, and its docs/benchmarks.md section."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def modules() -> Iterator[tuple[Any, Any]]:
    sys.path[:0] = [str(BENCH), str(BENCH / "peers")]
    try:
        import readings

        import report

        yield readings, report
    finally:
        del sys.path[:2]


def row(peer: str, first: float, p50: float, ndcg: float, date: str = "d1") -> dict[str, Any]:
    return {
        "peer": peer,
        "date": date,
        "docs": 5183,
        "imports_s": 0.4,
        "model_load_s": 0.5,
        "first_query_ms": 30.0,
        "ingest_s": first - 1,
        "ingest_to_first_answer_s": first,
        "p50_ms": p50,
        "p95_ms": p50 * 2,
        "ndcg@10": ndcg,
        "peak_rss_mib": 900.0,
        "versions": {"torch": "2.13.0+cpu", "txtai": "9.14.0", "ragtune": "0.1.0"},
    }


def test_merge_keeps_previous_rows_of_peers_not_rerun_in_peer_order(modules: tuple[Any, Any]) -> None:
    readings, _ = modules
    old = [row("ragtune", 50, 8, 0.70, "old"), row("txtai", 90, 30, 0.66, "old")]
    new = [row("ragtune", 40, 6, 0.71, "new"), row("langchain", 100, 50, 0.60, "new")]
    merged = readings.merge_rows(old, new, ["llamaindex", "langchain", "txtai", "reference", "ragtune"])
    assert [(r["peer"], r["date"]) for r in merged] == [("langchain", "new"), ("txtai", "old"), ("ragtune", "new")]


def test_readings_take_the_best_peer_per_figure(modules: tuple[Any, Any]) -> None:
    readings, _ = modules
    rows = [
        row("llamaindex", 120, 20, 0.69),
        row("langchain", 90, 40, 0.60),
        row("txtai", 150, 10, 0.66),
        row("reference", 100, 9, 0.695),
        row("ragtune", 30, 2, 0.696),
    ]
    g = readings.readings(rows)
    bp = g["vs_best_peer"]
    assert (bp["first_answer_peer"], bp["first_answer_x"], bp["first_answer_met"]) == ("langchain", 3.0, True)
    assert (bp["query_peer"], bp["query_p50_x"], bp["query_met"]) == ("txtai", 5.0, True)
    assert bp["ndcg_peer"] == "llamaindex" and bp["ndcg_met"] and bp["ndcg_diff"] == pytest.approx(0.006)
    assert bp["same_run"]
    ref = g["vs_reference"]
    assert ref["p50_x"] == 4.5 and ref["p50_met"]
    assert ref["ndcg_diff"] == pytest.approx(0.001) and ref["ndcg_met"]


def test_readings_report_misses_and_mixed_runs(modules: tuple[Any, Any]) -> None:
    readings, _ = modules
    rows = [row("txtai", 60, 10, 0.70, "d0"), row("reference", 100, 5, 0.70), row("ragtune", 30, 4, 0.69)]
    g = readings.readings(rows)
    assert not g["vs_best_peer"]["first_answer_met"] and not g["vs_best_peer"]["query_met"]
    assert not g["vs_best_peer"]["ndcg_met"] and not g["vs_best_peer"]["same_run"]
    assert not g["vs_reference"]["p50_met"] and not g["vs_reference"]["ndcg_met"]
    assert readings.readings([row("txtai", 60, 10, 0.70)]) == {"vs_best_peer": None, "vs_reference": None}


def test_report_section_has_every_row_and_the_goal_readings(modules: tuple[Any, Any]) -> None:
    _, report = modules
    result = {
        "command": ".venv/bin/python benchmarks/peers/run.py",
        "date": "d1",
        "machine": {"cpu": "Xeon", "cores": 2},
        "k": 10,
        "warmup": 20,
        "queries": 300,
        "rows": [row("txtai", 90, 30, 0.66), row("reference", 80, 9, 0.69), row("ragtune", 30, 3, 0.69)],
    }
    text = "\n".join(report.peers(result))
    assert "`.venv/bin/python benchmarks/peers/run.py`" in text
    assert "| txtai | txtai 9.14.0 |" in text and "| **ragtune** | ragtune 0.1.0 |" in text
    assert "fastest peer to first answer (txtai): **3.00×** (goal ≥ 3×: met)" in text
    assert "per query (txtai, p50): **10.00×** (goal ≥ 5×: met)" in text
    assert "reference pipeline, warm p50: **3.00×** (goal ≥ 3×: met)" in text
    assert "run |" not in text  # one run: no date column
