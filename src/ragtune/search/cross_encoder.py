"""A cross-encoder reranker: the query and each fused candidate read together by one transformer, which scores
their relevance; the candidates are reordered by that score (``[search] rerank = "cross-encoder:PATH"``).

A bi-encoder (the vector leg) embeds query and passage apart, so it cannot compare their words; a cross-encoder
attends across both and usually ranks better, at the price of one forward pass per (query, candidate) pair at
query time — so it sees only the ``[search] rerank_depth`` best fused candidates. No pretrained cross-encoder
ships offline; ragtune trains one from the bundled MiniLM weights on the team's own pairs (``ragtune
tune-reranker``). The candidate is read as it was indexed — the chunk's header (document label, headings, table
header) then its text — so the model sees which document a passage comes from.

The reranker's score is *blended* with fusion's rather than replacing it: each is min-max scaled over the candidates
and mixed as ``(1 − w)·fusion + w·cross-encoder``. A cross-encoder trained on a few hundred questions knows things
fusion does not but misses what it knows (BM25's exact terms, the tuned embedder's domain); ``tune-reranker``
chooses ``w`` on held-out questions of the team's own search and records it as ``blend_weight`` in the model's
``ragtune.json`` (0 when the reranker adds nothing there: it is then not even run). A cross-encoder directory
without that file reranks alone (``w`` = 1). Fusion's order is kept monotone first (a passage that exact-evidence
promoted counts the best score behind it), so blending never demotes what fusion put ahead for a named code.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ragtune.errors import SearchError
from ragtune.kb.doc_context import indexed_text
from ragtune.search.passage import Passage
from ragtune.search.query import Query

PREFIX = "cross-encoder:"
_MODELS: dict[tuple[str, int], Any] = {}
_LOCK = threading.Lock()


def load_cross_encoder(path: str, max_length: int = 256) -> Any:
    """The ``sentence_transformers.CrossEncoder`` at ``path`` (a local directory), loaded once per process."""
    if not Path(path).is_dir():
        raise SearchError(f"cross-encoder reranker: no model directory at {path!r}")
    key = (str(Path(path).resolve()), max_length)
    with _LOCK:
        if key not in _MODELS:
            from sentence_transformers import CrossEncoder

            try:
                _MODELS[key] = CrossEncoder(path, max_length=max_length, device="cpu")
            except (OSError, ValueError) as exc:
                raise SearchError(f"cross-encoder reranker: cannot load {path!r}: {exc}") from None
        return _MODELS[key]


def _scaled(values: Sequence[float]) -> list[float]:
    lo, hi = min(values), max(values)
    return [(v - lo) / (hi - lo) if hi > lo else 0.0 for v in values]


def blend_scores(first: Sequence[float], second: Sequence[float], weight: float) -> list[float]:
    """``(1 − weight)·first + weight·second``, each min-max scaled over the candidates (0 where all are equal)."""
    if not first:
        return []
    return [(1 - weight) * a + weight * b for a, b in zip(_scaled(first), _scaled(second), strict=True)]


def monotone(scores: Sequence[float]) -> list[float]:
    """Each score raised to the best one after it: the given order, as scores that never increase down the list."""
    out = list(map(float, scores))
    for i in range(len(out) - 2, -1, -1):
        out[i] = max(out[i], out[i + 1])
    return out


def blend_weight(path: str | Path) -> float:
    """The ``blend_weight`` that ``tune-reranker`` chose for the model at ``path`` (1.0 when none was recorded)."""
    meta = Path(path) / "ragtune.json"
    try:
        weight = json.loads(meta.read_text(encoding="utf-8")).get("blend_weight", 1.0)
    except FileNotFoundError:
        return 1.0
    except (OSError, ValueError, AttributeError) as exc:
        raise SearchError(f"cross-encoder reranker: {meta}: unreadable ({exc})") from None
    if not isinstance(weight, (int, float)) or not 0.0 <= weight <= 1.0:
        raise SearchError(f"cross-encoder reranker: {meta}: blend_weight must be a number in [0, 1], not {weight!r}")
    return float(weight)


class CrossEncoderReranker:
    """Reorders the ``depth`` best fused passages by fusion's score blended with a cross-encoder's (``weight``:
    the cross-encoder's share; default the model's recorded ``blend_weight``). The cross-encoder's own score is
    kept in ``scores["rerank"]``; ``score`` stays fusion's (the answerer's scale)."""

    def __init__(self, path: str, depth: int = 20, batch_size: int = 32, weight: float | None = None) -> None:
        self.path = path
        self.depth = depth
        self.batch_size = batch_size
        self.weight = blend_weight(path) if weight is None else weight
        self._model: Any = None

    def model(self) -> Any:
        if self._model is None:
            self._model = load_cross_encoder(self.path)
        return self._model

    def score(self, query: str, passages: Sequence[Passage]) -> list[float]:
        """The cross-encoder's relevance score of each passage (as indexed: header + text) for ``query``."""
        model = self.model()
        pairs = [(query, indexed_text(p.context, p.text)) for p in passages]
        return [float(x) for x in model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False)]

    def rerank(self, query: Query, passages: list[Passage]) -> list[Passage]:
        if not passages or self.weight == 0.0:  # a reranker that adds nothing costs nothing
            return passages
        scores = self.score(query.text, passages)
        mixed = blend_scores(monotone([p.score for p in passages]), scores, self.weight)
        order = sorted(range(len(passages)), key=lambda i: (-mixed[i], i))
        out = []
        for i in order:
            p = passages[i]
            p.scores["rerank"] = round(scores[i], 6)
            out.append(p)
        return out
