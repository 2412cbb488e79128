"""Fusing the legs' rankings, chosen by name (``[search] fusion``). :func:`register_fusion` adds one.

- ``rrf``: reciprocal-rank fusion. It reads ranks only, so a passage that is the unique, overwhelming keyword
  match (BM25 three times the next) counts no more than a narrow first place, and one ranked second in both legs
  beats it: the error code, product or setting name a user types exactly is not found first.
- ``weighted``: a convex combination of scores min-max normalized over each leg's candidates. The observed
  minimum moves with the depth and the query, so a leg whose candidates are all nearly as good is stretched
  over [0, 1] as if they differed as much as a leg with one clear winner.
- ``convex``: a convex combination of scores normalized by each score's *theoretical* minimum and the leg's
  observed top (TMM; Bruch, Gai and Ingber 2023, "An Analysis of Fusion Functions for Hybrid Retrieval", which
  found it beats RRF in and out of domain and needs few queries to tune). BM25's floor is 0 and a cosine's
  is -1, so a normalized score keeps its distance from the best one: a keyword match three times the next stays
  three times the next, and the dense leg's near-ties stay near-ties.

``convex`` is the default at weight_dense 0.75, the best SciFact *train* nDCG@10 of a 0.10–0.95 sweep. On the
same run (benchmarks/fusion.py) it scores SciFact test nDCG@10 0.738 against rrf's 0.720, puts the edited abstract
first for 100% of a seeded rare-term set against rrf's 40%, and leaves the help center's page recall@5 and MRR@10
as they were. Codes inside questions are the identifier stage's job (:mod:`ragtune.search.exact`).
"""

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


# The least score a leg can give: BM25 (both keyword engines) is a sum of positive terms; the vector leg's is
# the cosine of unit vectors. A leg not named here is normalized by its observed minimum instead.
LOWER_BOUNDS: dict[str, float] = {"lexical": 0.0, "dense": -1.0}


def convex(
    legs: Mapping[str, Ranking],
    weights: Mapping[str, float],
    depth: int,
    lower_bounds: Mapping[str, float] = LOWER_BOUNDS,
) -> Ranking:
    """Σ w · (s − lb) / (top − lb) over the legs: each score over its leg's theoretical minimum ``lb`` and its
    observed ``top``. Returns positions and fused scores in [0, 1], best first (ties by position).

    A position one leg did not return scored at most that leg's last score when the leg returned ``depth``
    candidates (it was cut there), and ``lb`` when it returned fewer (it ran out: BM25 0, no query word). It
    counts as that bound: a passage just below one leg's cut is not as bad as one with nothing in common with the
    query, and counting it as ``lb`` cost SciFact train nDCG@10 (0.7426 → 0.7331 at weight_dense 0.75,
    benchmarks/fusion.py)."""
    present = [(name, pos, sc) for name, (pos, sc) in legs.items() if len(pos)]
    if not present:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    union = np.unique(np.concatenate([pos for _, pos, _ in present]))
    fused = np.zeros(len(union), dtype=np.float64)
    for name, pos, sc in present:
        scores = sc.astype(np.float64)
        low = float(scores.min())
        lb = min(lower_bounds.get(name, low), low)  # never above a score seen (an embedder not unit-normalized)
        span = float(scores.max()) - lb
        if span <= 0:  # every candidate at the floor: the leg tells them apart from nothing
            continue
        cut = len(pos) >= depth
        unseen = (low - lb) / span if cut else 0.0
        column = np.full(len(union), unseen)
        column[np.searchsorted(union, pos)] = (scores - lb) / span
        fused += weights.get(name, 0.0) * column
    scores = fused.astype(np.float32)  # ordered by the scores returned, so equal ones are ties by position
    order = np.lexsort((union, -scores))
    return union[order], scores[order]


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


def _leg_weights(rankings: Mapping[str, Ranking], weight_dense: float) -> dict[str, float]:
    """The dense leg's share is ``weight_dense``; the other legs split the rest."""
    others = max(len(rankings) - ("dense" in rankings), 1)
    return {name: weight_dense if name == "dense" else (1.0 - weight_dense) / others for name in rankings}


def _weighted(rankings: Mapping[str, Ranking], settings: SearchSettings, /) -> Ranking:
    weights = _leg_weights(rankings, settings.weight_dense)
    return weighted(list(rankings.values()), [weights[name] for name in rankings])


def _convex(rankings: Mapping[str, Ranking], settings: SearchSettings, /) -> Ranking:
    return convex(rankings, _leg_weights(rankings, settings.weight_dense), settings.depth)


_BUILTIN: dict[str, Fusion] = {"rrf": _rrf, "weighted": _weighted, "convex": _convex}
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
