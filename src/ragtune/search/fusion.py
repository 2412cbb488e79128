"""Fusing ranked lists: reciprocal-rank fusion (default) or a weighted sum of normalized scores."""

from __future__ import annotations

import numpy as np

FUSIONS = ("rrf", "weighted")


def rrf(rankings: list[np.ndarray], k: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Reciprocal-rank fusion: score = Σ 1 / (k + rank), rank from 1. Returns positions, scores, best first."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, pos in enumerate(ranking.tolist(), start=1):
            fused[pos] = fused.get(pos, 0.0) + 1.0 / (k + rank)
    return _ordered(fused)


def weighted(legs: list[tuple[np.ndarray, np.ndarray]], weights: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Σ w · min-max-normalized score over the legs (a missing entry counts 0 in that leg)."""
    fused: dict[int, float] = {}
    for (positions, scores), w in zip(legs, weights, strict=True):
        if not len(scores):
            continue
        lo, hi = float(scores.min()), float(scores.max())
        span = hi - lo if hi > lo else 1.0
        for pos, s in zip(positions.tolist(), scores.tolist(), strict=True):
            fused[pos] = fused.get(pos, 0.0) + w * (s - lo) / span
    return _ordered(fused)


def _ordered(fused: dict[int, float]) -> tuple[np.ndarray, np.ndarray]:
    if not fused:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    items = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
    return (
        np.fromiter((p for p, _ in items), dtype=np.int64, count=len(items)),
        np.fromiter((s for _, s in items), dtype=np.float32, count=len(items)),
    )
