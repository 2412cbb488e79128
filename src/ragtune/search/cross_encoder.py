"""A cross-encoder reranker: the query and each fused candidate read together by one transformer, which scores
their relevance; the candidates are reordered by that score (``[search] rerank = "cross-encoder:PATH"``).

A bi-encoder (the vector leg) embeds query and passage apart, so it cannot compare their words; a cross-encoder
attends across both and usually ranks better, at the price of one forward pass per (query, candidate) pair at
query time — so it sees only the ``[search] rerank_depth`` best fused candidates. No pretrained cross-encoder
ships offline; ragtune trains one from the bundled MiniLM weights on the team's own pairs (``ragtune
tune-reranker``). The candidate is read as it was indexed — the chunk's header (document label, headings, table
header) then its text — so the model sees which document a passage comes from.
"""

from __future__ import annotations

import threading
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


class CrossEncoderReranker:
    """Reorders the ``depth`` best fused passages by a cross-encoder's score (kept in ``scores["rerank"]``)."""

    def __init__(self, path: str, depth: int = 50, batch_size: int = 32) -> None:
        self.path = path
        self.depth = depth
        self.batch_size = batch_size
        self._model: Any = None

    def model(self) -> Any:
        if self._model is None:
            self._model = load_cross_encoder(self.path)
        return self._model

    def rerank(self, query: Query, passages: list[Passage]) -> list[Passage]:
        if not passages:
            return passages
        model = self.model()
        pairs = [(query.text, indexed_text(p.context, p.text)) for p in passages]
        scores = model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False)
        order = sorted(range(len(passages)), key=lambda i: (-float(scores[i]), i))
        out = []
        for i in order:
            p = passages[i]
            p.scores["rerank"] = round(float(scores[i]), 6)  # ``score`` stays fusion's: the answerer's scale
            out.append(p)
        return out
