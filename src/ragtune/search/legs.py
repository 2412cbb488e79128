"""Search legs: the keyword (BM25) and vector rankings behind one small protocol, fused by the retriever.

A leg ranks chunk *positions* of the query-time index (:class:`~ragtune.search.index.ChunkIndex`) among those
``allowed`` at the queried version (live, and permitted by the query's filters): filtering happens before
ranking, so each leg returns its ``depth`` best permitted chunks. ``begin`` takes the work that needs only the
query text and may start it in the background: the query embedding runs while the keyword leg scores.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

import numpy as np

from ragtune.embed.base import Embedder
from ragtune.kb.store import Store
from ragtune.search.index import ChunkIndex, LiveSet

Ranking = tuple[np.ndarray, np.ndarray]  # chunk positions and their scores, best first

# Query embeddings run here while the calling thread scores BM25; shared by every Retriever in the process.
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ragtune-embed")
ENGINES = ("memory", "fts5")


class SearchLeg(Protocol):
    """One way of ranking chunks for a query. ``name`` keys its per-passage scores (``{name}_score``/``_rank``)."""

    name: str

    def begin(self, text: str) -> Any:
        """Start what needs only the query text (may run in the background); handed back to :meth:`rank`."""
        ...

    def rank(self, started: Any, live: LiveSet, allowed: np.ndarray, depth: int) -> Ranking:
        """The ``depth`` best chunk positions among ``allowed`` (a bool mask over positions)."""
        ...


class KeywordLeg:
    """BM25: the in-memory index (``memory``, exact at any version) or the store's own full-text index (``fts5``)."""

    name = "lexical"

    def __init__(self, index: ChunkIndex, store: Store, engine: str = "memory") -> None:
        self.index = index
        self.store = store
        self.engine = engine

    def begin(self, text: str) -> str:
        return text

    def rank(self, started: str, live: LiveSet, allowed: np.ndarray, depth: int) -> Ranking:
        if self.engine == "memory":
            return self.index.bm25.search(started, allowed, live.n_live, live.avg_len, depth)
        index = self.index
        limit = depth * 4
        while True:
            rows = self.store.keyword_candidates(started, limit)
            ids = np.array([r[0] for r in rows], dtype=np.int64)
            pos = np.minimum(np.searchsorted(index.chunk_ids, ids), max(index.size - 1, 0))
            # A row stored after the index last synced has no position yet: it cannot be live here.
            known = (index.chunk_ids[pos] == ids) if index.size else np.zeros(len(ids), bool)
            keep = known & (pos < len(allowed)) & allowed[np.minimum(pos, max(len(allowed) - 1, 0))]
            if keep.sum() >= depth or len(rows) < limit:
                scores = np.array([r[1] for r in rows], dtype=np.float32)
                return pos[keep][:depth], scores[keep][:depth]
            limit *= 4


class VectorLeg:
    """Exact inner product of the query embedding with every permitted chunk vector."""

    name = "dense"

    def __init__(self, index: ChunkIndex, embedder: Embedder) -> None:
        self.index = index
        self.embedder = embedder

    def begin(self, text: str) -> Future[np.ndarray]:
        # ONNX Runtime / torch release the GIL, so this runs beside the keyword leg.
        return _POOL.submit(self.embedder.embed_query, text)

    def rank(self, started: Future[np.ndarray], live: LiveSet, allowed: np.ndarray, depth: int) -> Ranking:
        return self.index.dense.search(started.result(), allowed, depth)
