"""Retrieval metrics (and the benchmarks' re-export of them) against values worked out by hand."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from ragtune.evaluate.metrics.answer import squad_normalize
from ragtune.evaluate.metrics.retrieval import (
    evaluate_retrieval as evaluate,
)
from ragtune.evaluate.metrics.retrieval import (
    first_occurrences,
    mrr_at_k,
    ndcg_at_k,
    recall_at_k,
    retrieval_scores,
)


def test_ndcg_graded_by_hand() -> None:
    qrels = {"a": 2, "b": 1, "z": 1}
    ranked = ["x", "a", "b", "y"]
    dcg = 2 / math.log2(3) + 1 / math.log2(4)
    ideal = 2 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(ranked, qrels, 10) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(["a", "b", "z"], qrels, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["b", "a"], qrels, 1) == pytest.approx(1 / 2)  # ideal@1 has gain 2


def test_ndcg_cutoff_duplicates_and_non_relevant() -> None:
    qrels = {"a": 1}
    assert ndcg_at_k(["x"] * 5 + ["a"], qrels, 5) == pytest.approx(1 / math.log2(3))  # duplicates count once
    assert ndcg_at_k(["x", "y", "a"], qrels, 2) == 0.0
    assert ndcg_at_k(["a"], {"a": 0, "b": 0}, 10) == 0.0


def test_recall_and_mrr() -> None:
    qrels = {"a": 1, "b": 1, "c": 0}
    assert recall_at_k(["c", "a", "x"], qrels, 2) == pytest.approx(0.5)
    assert recall_at_k(["a", "b"], qrels, 100) == 1.0
    assert mrr_at_k(["c", "x", "b"], qrels, 10) == pytest.approx(1 / 3)


def test_evaluate_means_over_judged_queries() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 0}}
    out = evaluate({"q1": ["a"], "q2": ["x"]}, qrels, 10, 100)
    assert out["queries"] == 2
    assert out["ndcg@10"] == pytest.approx(0.5)
    assert out["recall@100"] == pytest.approx(0.5)


def test_squad_normalize() -> None:
    assert squad_normalize("The  Denver Broncos!") == "denver broncos"
    assert squad_normalize("an apple, a pear") == "apple pear"


def test_chunk_ranks_become_document_ranks() -> None:
    # three chunks of doc a, then b: b is the 2nd document, not the 4th result
    ranked = ["a", "a", "a", "b"]
    assert first_occurrences(ranked) == ["a", "b"]
    assert mrr_at_k(ranked, {"b"}, 10) == pytest.approx(1 / 2)
    assert recall_at_k(ranked, ["b"], 2) == 1.0
    assert ndcg_at_k(ranked, {"b"}, 10) == pytest.approx(1 / math.log2(3))


def test_retrieval_scores_per_question() -> None:
    out = retrieval_scores(["x", "a", "x", "b"], ["a", "b"], ks=(1, 2))
    assert out == {
        "recall@1": 0.0,
        "recall@2": 0.5,
        "mrr": 0.5,
        "ndcg@10": pytest.approx((1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))),
    }
    assert retrieval_scores(["a"], [], ks=(5,)) == {"recall@5": None, "mrr": None, "ndcg@10": None}


def test_benchmarks_import_the_same_functions() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
    try:
        import metrics as bench
    finally:
        sys.path.pop(0)
    assert bench.ndcg_at_k is ndcg_at_k and bench.evaluate is evaluate and bench.squad_normalize is squad_normalize
