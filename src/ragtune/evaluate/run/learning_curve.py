"""Learning curve: fine-tune on growing shares of the training data and measure quality at each.

Shares are nested (the 10% examples are inside the 25% ones: one seeded shuffle, then prefixes), so the curve
shows what more data adds rather than which examples were drawn. Each point is a real training run (tracked in
MLflow, not registered) evaluated closed book on the eval set.

Examples to match. Quality is fitted as ``a + b·ln(examples)`` by least squares over the points; when the
slope is positive, the fit is solved for the reference strategy's quality (usually RAG's). That extrapolation
is an estimate and is labelled so; with a flat or falling curve the answer is "not reached" (None).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ragtune.evaluate.metrics.bootstrap import bootstrap_ci

DEFAULT_SHARES = (0.1, 0.25, 0.5, 1.0)
MAX_EXTRAPOLATION = 10_000_000


def nested_subsets(examples: Sequence[Any], shares: Sequence[float], seed: int = 0) -> list[list[Any]]:
    """Prefixes of one seeded shuffle, one per share (at least 2 examples each)."""
    if not shares or any(not 0 < s <= 1 for s in shares):
        raise ValueError(f"shares must be in (0, 1], got {list(shares)}")
    order = list(examples)
    random.Random(seed).shuffle(order)
    return [order[: max(2, round(s * len(order)))] for s in sorted(shares)]


def fit_log_curve(examples: Sequence[int], quality: Sequence[float]) -> tuple[float, float] | None:
    """Least-squares ``(a, b)`` of ``quality ≈ a + b·ln(examples)``; None with fewer than two distinct sizes."""
    x = np.log(np.asarray(examples, dtype=np.float64))
    y = np.asarray(quality, dtype=np.float64)
    keep = ~np.isnan(y)
    x, y = x[keep], y[keep]
    if len(set(x.tolist())) < 2:
        return None
    b, a = np.polyfit(x, y, 1)
    return float(a), float(b)


def examples_to_match(fit: tuple[float, float] | None, target: float) -> int | None:
    """Examples at which the fitted curve reaches ``target``; None when it never does (flat/falling, absurd)."""
    if fit is None:
        return None
    a, b = fit
    if b <= 1e-9:
        return None
    log_n = (target - a) / b
    if log_n > math.log(MAX_EXTRAPOLATION):
        return None
    return max(1, math.ceil(math.exp(log_n)))


def learning_curve(
    examples: Sequence[Any],
    train_and_score: Callable[[list[Any], float], tuple[list[float | None], float]],
    *,
    shares: Sequence[float] = DEFAULT_SHARES,
    seed: int = 0,
    reference: tuple[str, float] | None = None,
    n_resamples: int = 2000,
) -> dict[str, Any]:
    """Train on each share and score it: ``train_and_score(subset, share) -> (per-question quality, seconds)``.

    ``reference`` is ``(strategy name, quality)`` to estimate the examples needed to match.
    """
    points: list[dict[str, Any]] = []
    for subset, share in zip(nested_subsets(examples, shares, seed), sorted(shares), strict=True):
        values, seconds = train_and_score(subset, share)
        ci = bootstrap_ci(values, n_resamples=n_resamples, seed=seed)
        points.append(
            {
                "share": share,
                "examples": len(subset),
                "quality": ci.estimate,
                "ci_low": ci.low,
                "ci_high": ci.high,
                "train_seconds": round(seconds, 2),
            }
        )
    fit = fit_log_curve([p["examples"] for p in points], [_nan(p["quality"]) for p in points])
    out: dict[str, Any] = {
        "points": points,
        "fit": None if fit is None else {"a": fit[0], "b": fit[1]},
        "reference": None,
        "examples_to_match": None,
        "method": "least-squares fit quality = a + b·ln(examples), solved for the reference quality (an estimate)",
    }
    if reference is not None:
        name, target = reference
        out["reference"] = {"strategy": name, "quality": target}
        out["examples_to_match"] = examples_to_match(fit, target)
    return out


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)
