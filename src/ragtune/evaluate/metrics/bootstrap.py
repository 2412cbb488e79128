"""Bootstrap confidence intervals for a metric's mean and for the difference between two strategies.

- :func:`bootstrap_ci`: percentile interval of a statistic (default the mean) over per-question values,
  resampling questions with replacement.
- :func:`paired_bootstrap`: the two strategies answered the *same* questions, so question indices are
  resampled jointly and the statistic is taken of the per-question differences; this removes the
  between-question variance that an unpaired comparison would count twice. The two-sided p-value is
  ``2 · min(P*(d ≤ 0), P*(d ≥ 0))`` over the resampled differences (capped at 1), and ``significant``
  means the percentile interval excludes 0 (the two agree: significant ⇔ p < 1 - confidence, up to ties).

``None`` and NaN mark questions where a metric does not apply (citation recall of an unanswerable question):
they are dropped, and a paired comparison keeps only questions where both strategies have a value. All
resampling is vectorised (one ``(n_resamples, n)`` index matrix) and seeded, so results are reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

Statistic = Callable[..., Any]  # called as statistic(matrix, axis=1) → one value per resample
DEFAULT_RESAMPLES = 10_000
_CHUNK_ELEMENTS = 4_000_000  # resample matrices are built in chunks of at most this many indices (~32 MB)


@dataclass
class Interval:
    """A statistic with its bootstrap interval; ``n`` values used, ``n_missing`` dropped (None/NaN)."""

    estimate: float | None
    low: float | None
    high: float | None
    n: int
    n_missing: int = 0
    confidence: float = 0.95

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Difference:
    """``a - b`` over the questions both have a value for, with its interval, p-value and verdict."""

    a: str
    b: str
    diff: float | None
    low: float | None
    high: float | None
    p_value: float | None
    significant: bool
    n: int
    confidence: float = 0.95

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def as_array(values: Iterable[float | bool | None]) -> np.ndarray:
    """Values as float64 with None → NaN (bools → 0/1)."""
    return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)


def _resampled(values: np.ndarray, statistic: Statistic, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    n = len(values)
    rows = max(1, _CHUNK_ELEMENTS // max(n, 1))
    out = []
    for start in range(0, n_resamples, rows):
        idx = rng.integers(0, n, size=(min(rows, n_resamples - start), n))
        out.append(np.asarray(statistic(values[idx], axis=1), dtype=np.float64))
    return np.concatenate(out)


def bootstrap_ci(
    values: Sequence[float | bool | None] | np.ndarray,
    *,
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    statistic: Statistic = np.mean,
) -> Interval:
    """Percentile bootstrap interval of ``statistic`` over the values that are not None/NaN.

    No values → everything None. One value (or all equal) → a zero-width interval.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    arr = as_array(values) if not isinstance(values, np.ndarray) else values.astype(np.float64)
    keep = arr[~np.isnan(arr)]
    missing = len(arr) - len(keep)
    if len(keep) == 0:
        return Interval(None, None, None, 0, missing, confidence)
    estimate = float(statistic(keep[None, :], axis=1)[0])
    stats = _resampled(keep, statistic, n_resamples, np.random.default_rng(seed))
    alpha = (1 - confidence) / 2
    low, high = np.quantile(stats, [alpha, 1 - alpha])
    return Interval(estimate, float(low), float(high), len(keep), missing, confidence)


def paired_bootstrap(
    a: Sequence[float | bool | None] | np.ndarray,
    b: Sequence[float | bool | None] | np.ndarray,
    *,
    names: tuple[str, str] = ("a", "b"),
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Difference:
    """Paired bootstrap of mean(a) - mean(b) over questions where both have a value (same order = same question)."""
    x = as_array(a) if not isinstance(a, np.ndarray) else a.astype(np.float64)
    y = as_array(b) if not isinstance(b, np.ndarray) else b.astype(np.float64)
    if x.shape != y.shape:
        raise ValueError(f"paired values need the same questions: {len(x)} vs {len(y)} values")
    both = ~(np.isnan(x) | np.isnan(y))
    d = x[both] - y[both]
    if len(d) == 0:
        return Difference(names[0], names[1], None, None, None, None, False, 0, confidence)
    stats = _resampled(d, np.mean, n_resamples, np.random.default_rng(seed))
    alpha = (1 - confidence) / 2
    low, high = (float(q) for q in np.quantile(stats, [alpha, 1 - alpha]))
    p = min(1.0, 2 * min(float(np.mean(stats <= 0)), float(np.mean(stats >= 0))))
    significant = low > 0 or high < 0
    return Difference(names[0], names[1], float(d.mean()), low, high, p, significant, len(d), confidence)


def summarize_metrics(
    rows: Sequence[Mapping[str, Any]],
    metrics: Sequence[str] | None = None,
    *,
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> dict[str, Interval]:
    """Mean and interval of each numeric metric in per-question rows (dicts; missing key = None).

    ``metrics`` defaults to every key whose values are numbers, bools or None.
    """
    if metrics is None:
        keys = dict.fromkeys(k for row in rows for k in row)
        metrics = [k for k in keys if all(isinstance(r.get(k), (int, float, bool)) or r.get(k) is None for r in rows)]
    return {
        m: bootstrap_ci([r.get(m) for r in rows], confidence=confidence, n_resamples=n_resamples, seed=seed)
        for m in metrics
    }
