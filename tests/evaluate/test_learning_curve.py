"""Learning-curve arithmetic: nested shares, the log fit, and the examples needed to match a reference."""

from __future__ import annotations

import math

import pytest

from ragtune.evaluate.learning_curve import examples_to_match, fit_log_curve, learning_curve, nested_subsets


def test_subsets_are_nested_and_seeded() -> None:
    data = list(range(200))
    subsets = nested_subsets(data, [0.5, 0.1, 1.0], seed=3)
    assert [len(s) for s in subsets] == [20, 100, 200]
    assert subsets[0] == subsets[1][:20] and subsets[1] == subsets[2][:100]
    assert subsets == nested_subsets(data, [0.1, 0.5, 1.0], seed=3)
    assert subsets != nested_subsets(data, [0.1, 0.5, 1.0], seed=4)
    with pytest.raises(ValueError):
        nested_subsets(data, [0.0, 1.0])


def test_fit_recovers_a_known_log_curve() -> None:
    sizes = [10, 25, 50, 100]
    quality = [0.2 + 0.1 * math.log(n) for n in sizes]
    fit = fit_log_curve(sizes, quality)
    assert fit is not None
    assert fit[0] == pytest.approx(0.2) and fit[1] == pytest.approx(0.1)
    # 0.2 + 0.1 ln n = 0.9  →  n = e^7 ≈ 1097
    assert examples_to_match(fit, 0.9) == math.ceil(math.exp(7.0))


def test_flat_or_falling_curves_never_match() -> None:
    assert examples_to_match(fit_log_curve([10, 100], [0.5, 0.5]), 0.9) is None
    assert examples_to_match(fit_log_curve([10, 100], [0.5, 0.4]), 0.9) is None
    assert fit_log_curve([10, 10], [0.1, 0.2]) is None
    # An absurd extrapolation (past ten million examples) is reported as not reached.
    assert examples_to_match((0.0, 0.01), 0.99) is None


def test_learning_curve_scores_each_share() -> None:
    seen: list[int] = []

    def train_and_score(subset: list[int], share: float) -> tuple[list[float | None], float]:
        seen.append(len(subset))
        q = 0.1 * math.log(len(subset))
        return [q, q, None], 1.5

    out = learning_curve(list(range(80)), train_and_score, shares=(0.25, 1.0), reference=("rag", 0.6))
    assert seen == [20, 80]
    assert [p["examples"] for p in out["points"]] == [20, 80]
    assert out["points"][0]["quality"] == pytest.approx(0.1 * math.log(20))
    assert out["examples_to_match"] == math.ceil(math.exp(6.0))
    assert out["reference"] == {"strategy": "rag", "quality": 0.6}
