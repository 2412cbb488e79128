"""The Retriever: query → ranked Passages, lexical ⊕ dense, at any KB version, with filters."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ragtune.config import SearchSettings
from ragtune.embed.base import Embedder
from ragtune.errors import SearchError
from ragtune.kb.store import Store
from ragtune.search import fusion
from ragtune.search.index import ChunkIndex, LiveSet
from ragtune.search.passage import Passage

MODES = ("hybrid", "dense", "lexical")
# Query embeddings run here while the calling thread scores BM25; shared by every Retriever in the process.
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ragtune-embed")
ENGINES = ("memory", "fts5")


class Retriever:
    """Searches one store. ``search`` is thread-safe; the index follows the store as it changes."""

    def __init__(self, store: Store, embedder: Embedder, settings: SearchSettings | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings or SearchSettings()
        if self.settings.lexical_engine not in ENGINES:
            raise SearchError(f"search.lexical_engine must be one of {ENGINES}, not {self.settings.lexical_engine!r}")
        if self.settings.fusion not in fusion.FUSIONS:
            raise SearchError(f"search.fusion must be one of {fusion.FUSIONS}, not {self.settings.fusion!r}")
        self.index = ChunkIndex(store, embedder, self.settings.dense_threads, self.settings.dense_precision)

    def search(
        self,
        query: str,
        k: int = 10,
        *,
        mode: str | None = None,
        at: int | None = None,
        filters: dict[str, Any] | None = None,
    ) -> list[Passage]:
        """The ``k`` best passages for ``query`` among documents live at version ``at`` (head if None)."""
        mode = mode or self.settings.mode
        if mode not in MODES:
            raise SearchError(f"unknown search mode {mode!r}; choose one of {', '.join(MODES)}")
        if k < 1:
            raise SearchError(f"k must be at least 1, not {k}")
        version = self.store.check_version(at)
        if not query.strip() or version == 0:
            return []
        live = self.index.live(version)
        chunk_ok, passage_ok = self.index.allowed(live, filters)
        depth = max(self.settings.depth, k)
        legs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        # The query embedding (ONNX Runtime / torch, which release the GIL) runs beside the BM25 leg.
        qvec = _POOL.submit(self.embedder.embed_query, query) if mode in ("hybrid", "dense") else None
        if mode in ("hybrid", "lexical"):
            legs["lexical"] = self._lexical(query, live, chunk_ok, depth)
        if qvec is not None:
            legs["dense"] = self.index.dense.search(qvec.result(), chunk_ok, depth)
        if mode == "hybrid":
            if self.settings.fusion == "rrf":
                positions, scores = fusion.rrf([legs["lexical"][0], legs["dense"][0]], self.settings.rrf_k)
            else:
                w = self.settings.weight_dense
                positions, scores = fusion.weighted([legs["lexical"], legs["dense"]], [1.0 - w, w])
        else:
            positions, scores = legs[mode]
        return self._passages(positions, scores, legs, live, passage_ok, k)

    def _lexical(self, query: str, live: LiveSet, allowed: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
        if self.settings.lexical_engine == "memory":
            return self.index.bm25.search(query, allowed, live.n_live, live.avg_len, depth)
        limit = depth * 4
        while True:
            rows = self.store.keyword_candidates(query, limit)
            ids = np.array([r[0] for r in rows], dtype=np.int64)
            pos = np.minimum(np.searchsorted(self.index.chunk_ids, ids), max(self.index.size - 1, 0))
            # A row stored after the index last synced has no position yet: it cannot be live here.
            known = (self.index.chunk_ids[pos] == ids) if self.index.size else np.zeros(len(ids), bool)
            keep = known & (pos < len(allowed)) & allowed[np.minimum(pos, max(len(allowed) - 1, 0))]
            if keep.sum() >= depth or len(rows) < limit:
                scores = np.array([r[1] for r in rows], dtype=np.float32)
                return pos[keep][:depth], scores[keep][:depth]
            limit *= 4

    def _passages(
        self,
        positions: np.ndarray,
        scores: np.ndarray,
        legs: dict[str, tuple[np.ndarray, np.ndarray]],
        live: LiveSet,
        passage_ok: np.ndarray,
        k: int,
    ) -> list[Passage]:
        # A chunk's text may occur in several live documents: each occurrence is its own passage.
        order, sorted_pos = live.by_position()
        chosen: list[tuple[int, float, int]] = []
        for pos, score in zip(positions.tolist(), scores.tolist(), strict=True):
            lo, hi = np.searchsorted(sorted_pos, pos, "left"), np.searchsorted(sorted_pos, pos, "right")
            for idx in order[lo:hi].tolist():
                if passage_ok[idx]:
                    chosen.append((int(live.passage_ids[idx]), float(score), int(pos)))
            if len(chosen) >= k:
                break
        chosen = chosen[:k]
        if not chosen:
            return []
        wanted = {c[2] for c in chosen}
        leg_info: dict[int, dict[str, float]] = {}
        for name, (lpos, lscores) in legs.items():
            for rank, (p, s) in enumerate(zip(lpos.tolist(), lscores.tolist(), strict=True), start=1):
                if p in wanted:
                    leg_info.setdefault(p, {})[f"{name}_score"] = round(float(s), 6)
                    leg_info[p][f"{name}_rank"] = rank
        rows = self.store.passages([c[0] for c in chosen])
        return [
            Passage(rank=rank, score=score, version=live.version, scores=leg_info.get(pos, {}), **rows[pid])
            for rank, (pid, score, pos) in enumerate(chosen, start=1)
        ]
