"""Fusing the legs' rankings, chosen by name (``[search] fusion``): reciprocal-rank fusion (``rrf``, the
default) or a weighted sum of min-max-normalized scores (``weighted``). :func:`register_fusion` adds one."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Protocol

import numpy as np

from ragtune.config import SearchSettings
from ragtune.errors import SearchError

Ranking = tuple[np.ndarray, np.ndarray]  # positions and scores, best first


class Fusion(Protocol):
    """Merges the legs' rankings (leg name → ranking, in leg order) into one, best first."""

    def __call__(self, rankings: Mapping[str, Ranking], settings: SearchSettings, /) -> Ranking: ...


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


def _rrf(rankings: Mapping[str, Ranking], settings: SearchSettings, /) -> Ranking:
    return rrf([positions for positions, _ in rankings.values()], settings.rrf_k)


def _weighted(rankings: Mapping[str, Ranking], settings: SearchSettings, /) -> Ranking:
    w = settings.weight_dense  # the dense leg's share; the others split the rest
    others = max(len(rankings) - ("dense" in rankings), 1)
    weights = [w if name == "dense" else (1.0 - w) / others for name in rankings]
    return weighted(list(rankings.values()), weights)


_BUILTIN: dict[str, Fusion] = {"rrf": _rrf, "weighted": _weighted}
_fusions: dict[str, Fusion] = dict(_BUILTIN)
_lock = threading.Lock()


def register_fusion(name: str, fusion: Fusion) -> None:
    """Make ``[search] fusion = NAME`` use ``fusion`` (replacing any of that name)."""
    with _lock:
        _fusions[name] = fusion


def unregister_fusion(name: str) -> None:
    """Forget fusion ``name`` (a built-in one comes back)."""
    with _lock:
        if name in _BUILTIN:
            _fusions[name] = _BUILTIN[name]
        else:
            _fusions.pop(name, None)


def fusion_names() -> list[str]:
    return sorted(_fusions)


def fusion_named(name: str) -> Fusion:
    """The fusion registered as ``name``; SearchError naming the setting when there is none."""
    found = _fusions.get(name)
    if found is None:
        raise SearchError(f"search.fusion must be one of {tuple(fusion_names())}, not {name!r}")
    return found
