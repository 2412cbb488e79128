"""Bootstrap intervals: coverage on synthetic data with a known effect, false positives, speed, missing values."""

from __future__ import annotations

import time

import numpy as np
import pytest

from ragtune.evaluate.metrics.bootstrap import bootstrap_ci, paired_bootstrap, summarize_metrics


def _pair(rng: np.random.Generator, n: int, effect: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-question scores of two strategies: a shared question difficulty plus each strategy's noise."""
    difficulty = rng.normal(0.5, 0.2, n)
    return difficulty + effect + rng.normal(0, 0.15, n), difficulty + rng.normal(0, 0.15, n)


def test_paired_interval_covers_the_true_difference() -> None:
    rng = np.random.default_rng(7)
    reps, covered = 200, 0
    for i in range(reps):
        a, b = _pair(rng, 80, effect=0.05)
        d = paired_bootstrap(a, b, n_resamples=1000, seed=i)
        assert d.low is not None and d.high is not None
        covered += d.low <= 0.05 <= d.high
    assert covered / reps >= 0.90  # nominal 0.95; percentile intervals run slightly narrow at n = 80


def test_zero_effect_is_rarely_called_significant() -> None:
    rng = np.random.default_rng(11)
    reps = 300
    false_positives = sum(
        paired_bootstrap(*_pair(rng, 80, effect=0.0), n_resamples=1000, seed=i).significant for i in range(reps)
    )
    assert false_positives / reps <= 0.10


def test_large_effect_is_significant_and_p_value_agrees() -> None:
    a, b = _pair(np.random.default_rng(3), 100, effect=0.2)
    d = paired_bootstrap(a, b, names=("ft", "rag"))
    assert d.significant and d.low is not None and d.low > 0
    assert d.p_value is not None and d.p_value < 0.01 and (d.a, d.b) == ("ft", "rag")
    same = paired_bootstrap(a, a)
    assert not same.significant and same.diff == 0.0


def test_pairing_drops_questions_missing_on_either_side() -> None:
    d = paired_bootstrap([1.0, None, 0.0, float("nan")], [0.0, 1.0, None, 0.0], n_resamples=200)
    assert d.n == 1 and d.diff == 1.0
    none = paired_bootstrap([None], [1.0])
    assert none.n == 0 and none.diff is None and not none.significant
    with pytest.raises(ValueError, match="same questions"):
        paired_bootstrap([1.0], [1.0, 2.0])


def test_ci_of_a_mean_by_hand_and_seeded() -> None:
    ci = bootstrap_ci([1.0, None, 1.0, 0.0, 0.0, True, False])
    assert ci.estimate == pytest.approx(0.5) and ci.n == 6 and ci.n_missing == 1
    assert ci.low is not None and ci.high is not None and 0.0 <= ci.low < 0.5 < ci.high <= 1.0
    assert bootstrap_ci([1.0, 0.0, 1.0], seed=5) == bootstrap_ci([1.0, 0.0, 1.0], seed=5)
    assert bootstrap_ci([0.7]).low == bootstrap_ci([0.7]).high == pytest.approx(0.7)
    assert bootstrap_ci([None, None]).estimate is None


def test_other_statistics() -> None:
    latencies = np.arange(1, 101, dtype=float)
    p95 = bootstrap_ci(latencies, statistic=lambda x, axis: np.percentile(x, 95, axis=axis), n_resamples=500)
    assert p95.estimate == pytest.approx(95.05)
    assert p95.low is not None and p95.high is not None and p95.low <= 95.05 <= p95.high


def test_ten_thousand_resamples_are_fast() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.random(400), rng.random(400)
    start = time.perf_counter()
    bootstrap_ci(a, n_resamples=10_000)
    paired_bootstrap(a, b, n_resamples=10_000)
    assert time.perf_counter() - start < 1.0


def test_summarize_metrics_skips_non_numeric_keys() -> None:
    rows = [{"f1": 1.0, "declined": False, "failed_rules": []}, {"f1": 0.0, "declined": True, "mrr": 0.5}]
    out = summarize_metrics(rows, n_resamples=200)
    assert set(out) == {"f1", "declined", "mrr"}
    assert out["mrr"].n == 1 and out["mrr"].n_missing == 1 and out["f1"].estimate == 0.5
