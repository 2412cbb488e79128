"""The benchmark metrics against values worked out by hand."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from metrics import evaluate, mrr_at_k, ndcg_at_k, recall_at_k, squad_normalize


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
