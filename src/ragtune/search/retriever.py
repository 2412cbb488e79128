"""The Retriever: a :class:`Query` → a :class:`SearchResult` of ranked Passages at one KB version.

Stages: resolve the version once → the live set (as the caller may read it: ``Query.access``) and the query's
filters as masks → each leg of the mode ranks the permitted chunks (:mod:`ragtune.search.legs`) → fusion by name
(:mod:`ragtune.search.fusion`) → the chunks holding an identifier the query names first
(:mod:`ragtune.search.exact`; ``[search] exact_first``) → passages fetched from the store → the rerank stage
(:mod:`ragtune.search.rerank`; none by default).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ragtune.config import SearchSettings
from ragtune.embed.base import Embedder
from ragtune.errors import SearchError
from ragtune.kb.store import Store
from ragtune.search.autofilter import infer_filters
from ragtune.search.exact import exact_first, identifiers
from ragtune.search.fusion import fusion_named
from ragtune.search.index import ChunkIndex, LiveSet
from ragtune.search.legs import ENGINES, KeywordLeg, Ranking, SearchLeg, VectorLeg
from ragtune.search.passage import Passage
from ragtune.search.persist import IndexFiles
from ragtune.search.query import Query, SearchResult
from ragtune.search.rerank import NoRerank, Reranker, reranker_named

# mode → the legs it runs, in fusion order
MODE_LEGS: dict[str, tuple[str, ...]] = {"hybrid": ("lexical", "dense"), "dense": ("dense",), "lexical": ("lexical",)}
MODES = tuple(MODE_LEGS)


class Retriever:
    """Searches one store. ``retrieve``/``search`` are thread-safe; the index follows the store as it changes."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        settings: SearchSettings | None = None,
        *,
        reranker: Reranker | None = None,
        index_dir: Path | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings or SearchSettings()
        if self.settings.lexical_engine not in ENGINES:
            raise SearchError(f"search.lexical_engine must be one of {ENGINES}, not {self.settings.lexical_engine!r}")
        self.fuse = fusion_named(self.settings.fusion)
        self.reranker = reranker or reranker_named(self.settings.rerank, self.settings)
        self.legs: dict[str, SearchLeg] = {}
        files = IndexFiles(index_dir) if index_dir is not None and self.settings.index_files else None
        self.index = ChunkIndex(
            store,
            embedder,
            self.settings.dense_threads,
            self.settings.dense_precision,
            files,
            ann_threshold=self.settings.ann_threshold,
        )

    @property
    def index(self) -> ChunkIndex:
        """The derived indexes the legs search; assigning another (e.g. one already loaded) rebuilds the legs."""
        return self._index

    @index.setter
    def index(self, index: ChunkIndex) -> None:
        self._index = index
        self.legs = {
            "lexical": KeywordLeg(index, self.store, self.settings.lexical_engine),
            "dense": VectorLeg(index, self.embedder),
        }

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
        return self.retrieve(Query(query, k, mode, at, filters)).passages

    def retrieve(self, query: Query) -> SearchResult:
        """The query's ``k`` best passages (default ``[search] k``) and the version they were found at."""
        mode = query.mode or self.settings.mode
        legs = MODE_LEGS.get(mode)
        if legs is None:
            raise SearchError(f"unknown search mode {mode!r}; choose one of {', '.join(MODES)}")
        k = self.settings.k if query.k is None else query.k
        if k < 1:
            raise SearchError(f"k must be at least 1, not {k}")
        version = self.store.check_version(query.at)
        if not query.text.strip() or version == 0:
            return SearchResult(query, version, [])
        # A restricted caller searches the version as if it held only the documents the caller may read.
        live = self.index.scoped(self.index.live(version), query.access)
        filters, auto = query.filters, {}
        if not filters and (self.settings.auto_filter if query.auto_filter is None else query.auto_filter):
            auto = infer_filters(query.text, self.index.revision_fields(live).values())
            filters = auto or None
        chunk_ok, passage_ok = self.index.allowed(live, filters)
        depth = max(self.settings.depth, k)
        started = {name: self.legs[name].begin(query.text) for name in reversed(legs)}  # the slow one first
        rankings: dict[str, Ranking] = {
            name: self.legs[name].rank(started[name], live, chunk_ok, depth) for name in legs
        }
        if len(legs) > 1:
            # a fusion reads the depth the legs ran at (deeper than the setting when k is)
            fuse_settings = self.settings if depth == self.settings.depth else replace(self.settings, depth=depth)
            positions, scores = self.fuse(rankings, fuse_settings)
            if self.settings.exact_first:
                positions, scores = self._exact_first(query.text, positions, scores, chunk_ok, depth)
        else:
            positions, scores = rankings[legs[0]]
        wanted = max(k, self.reranker.depth)
        passages = self._passages(positions, scores, rankings, live, passage_ok, wanted)
        if not isinstance(self.reranker, NoRerank):
            passages = self.reranker.rerank(query, passages)[:k]
            for rank, p in enumerate(passages, start=1):
                p.rank = rank
        return SearchResult(query, version, passages, auto)

    def _exact_first(
        self, text: str, positions: np.ndarray, scores: np.ndarray, chunk_ok: np.ndarray, depth: int
    ) -> Ranking:
        """Chunks holding the identifiers ``text`` names ahead of the rest (:mod:`ragtune.search.exact`)."""
        named = identifiers(text)
        if not named:
            return positions, scores
        holding = [self.index.bm25.holding(terms, chunk_ok) for terms in named]
        return exact_first(positions, scores, holding, depth)

    def _passages(
        self,
        positions: np.ndarray,
        scores: np.ndarray,
        legs: dict[str, Ranking],
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
