"""The Retriever: a :class:`Query` → a :class:`SearchResult` of ranked Passages at one KB version.

Stages: resolve the version once → the version's embedder (``embedder_at``) and its index → the live set (as
the caller may read it: ``Query.access``) and the query's filters as masks → each leg of the mode ranks the
permitted chunks (:mod:`ragtune.search.legs`) → fusion by name (:mod:`ragtune.search.fusion`) → the chunks holding
an identifier the query names first (:mod:`ragtune.search.exact`; ``[search] exact_first``) → passages fetched
from the store → the rerank stage (:mod:`ragtune.search.rerank`; none by default).

Each version records the embedder it is searched with (``kb reembed`` writes a version with another one), so a
Retriever keeps one :class:`ChunkIndex` per embedder in use: the one it was built with, and one more for each
other embedder a query's version names (its own index files, its own cached vectors). Versions never change,
so ``--at v`` searches with v's vectors forever, and a rollback searches with the old embedder again.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
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
        embedder_at: Callable[[int], Embedder] | None = None,
        index_dir_for: Callable[[Embedder], Path | None] | None = None,
    ) -> None:
        """``embedder_at(version)``: the embedder a version is searched with (default: ``embedder`` for all).
        ``index_dir_for(embedder)``: where that embedder's index files live (default: beside ``index_dir``,
        named by the embedder id)."""
        self.store = store
        self.embedder = embedder
        self.settings = settings or SearchSettings()
        if self.settings.lexical_engine not in ENGINES:
            raise SearchError(f"search.lexical_engine must be one of {ENGINES}, not {self.settings.lexical_engine!r}")
        self.fuse = fusion_named(self.settings.fusion)
        root = getattr(store, "root", None)  # trained rerankers live in the knowledge base's folder
        self.reranker = reranker or reranker_named(self.settings.rerank, self.settings, root)
        self.legs: dict[str, SearchLeg] = {}
        self._index_dir = index_dir
        self._embedder_at = embedder_at
        self._index_dir_for = index_dir_for
        self._others: dict[str, tuple[ChunkIndex, dict[str, SearchLeg]]] = {}  # embedder id → index, legs
        self.index = self._new_index(embedder, index_dir)

    def _new_index(self, embedder: Embedder, index_dir: Path | None) -> ChunkIndex:
        files = IndexFiles(index_dir) if index_dir is not None and self.settings.index_files else None
        return ChunkIndex(
            self.store,
            embedder,
            self.settings.dense_threads,
            self.settings.dense_precision,
            files,
            ann_threshold=self.settings.ann_threshold,
        )

    def with_reranker(self, reranker: Reranker) -> Retriever:
        """This retriever (same indexes and legs, nothing reloaded) with another rerank stage: how a strategy with
        its own ``rerank`` retrieves beside the others."""
        other = copy.copy(self)
        other.reranker = reranker
        return other

    def with_embedder(self, embedder: Embedder) -> Retriever:
        """This retriever searching every version with ``embedder``'s vectors (built and cached on first use, as
        for a re-embedded version): how a strategy compares a tuned embedder without re-embedding the head."""
        other = copy.copy(self)
        other._embedder_at = lambda version: embedder
        return other

    def _legs(self, index: ChunkIndex, embedder: Embedder) -> dict[str, SearchLeg]:
        return {
            "lexical": KeywordLeg(index, self.store, self.settings.lexical_engine),
            "dense": VectorLeg(index, embedder),
        }

    def index_for(self, embedder: Embedder) -> ChunkIndex:
        """The index searched for versions that use ``embedder`` (built on first use: loaded from its files, or
        from the store, embedding — and caching — any chunk that has no vector from it yet)."""
        return self._side(embedder)[0]

    def _side(self, embedder: Embedder) -> tuple[ChunkIndex, dict[str, SearchLeg]]:
        if embedder.id == self.embedder.id:
            return self._index, self.legs
        side = self._others.get(embedder.id)
        if side is None:
            if self._index_dir_for is not None:
                folder = self._index_dir_for(embedder)
            elif self._index_dir is not None:
                folder = self._index_dir.with_name(f"{self._index_dir.name}-{_slug(embedder.id)}")
            else:
                folder = None
            index = self._new_index(embedder, folder)
            side = self._others.setdefault(embedder.id, (index, self._legs(index, embedder)))
        return side

    def embedder_for_version(self, version: int) -> Embedder:
        """The embedder ``version`` is searched with."""
        if self._embedder_at is None or version <= 0:
            return self.embedder
        return self._embedder_at(version)

    @property
    def index(self) -> ChunkIndex:
        """The derived indexes the legs search; assigning another (e.g. one already loaded) rebuilds the legs."""
        return self._index

    @index.setter
    def index(self, index: ChunkIndex) -> None:
        self._index = index
        self.legs = self._legs(index, self.embedder)

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
        index, version_legs = self._side(self.embedder_for_version(version))
        # A restricted caller searches the version as if it held only the documents the caller may read.
        live = index.scoped(index.live(version), query.access)
        filters, auto = query.filters, {}
        if not filters and (self.settings.auto_filter if query.auto_filter is None else query.auto_filter):
            auto = infer_filters(query.text, index.revision_fields(live).values())
            filters = auto or None
        chunk_ok, passage_ok = index.allowed(live, filters)
        depth = max(self.settings.depth, k)
        started = {name: version_legs[name].begin(query.text) for name in reversed(legs)}  # the slow one first
        rankings: dict[str, Ranking] = {
            name: version_legs[name].rank(started[name], live, chunk_ok, depth) for name in legs
        }
        if len(legs) > 1:
            # a fusion reads the depth the legs ran at (deeper than the setting when k is)
            fuse_settings = self.settings if depth == self.settings.depth else replace(self.settings, depth=depth)
            positions, scores = self.fuse(rankings, fuse_settings)
            if self.settings.exact_first:
                positions, scores = _exact_first(index, query.text, positions, scores, chunk_ok, depth)
        else:
            positions, scores = rankings[legs[0]]
        wanted = max(k, self.reranker.depth)
        passages = self._passages(positions, scores, rankings, live, passage_ok, wanted)
        if not isinstance(self.reranker, NoRerank):
            # The reranker reads only the ``depth`` best fused passages; deeper ones keep fusion's order behind them
            # (a k above the depth must not multiply the reranker's cost).
            cut = self.reranker.depth or k
            passages = (self.reranker.rerank(query, passages[:cut]) + passages[cut:])[:k]
            for rank, p in enumerate(passages, start=1):
                p.rank = rank
        return SearchResult(query, version, passages, auto)

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


def _slug(embedder_id: str) -> str:
    """An embedder id as a folder name part (``all-MiniLM-L6-v2@5048370e3f79:bf16`` → ``…@5048370e3f79_bf16``)."""
    return re.sub(r"[^A-Za-z0-9@._-]+", "_", embedder_id)


def _exact_first(
    index: ChunkIndex, text: str, positions: np.ndarray, scores: np.ndarray, chunk_ok: np.ndarray, depth: int
) -> Ranking:
    """Chunks holding the identifiers ``text`` names ahead of the rest (:mod:`ragtune.search.exact`), found in the
    keyword index of the version searched."""
    named = identifiers(text)
    if not named:
        return positions, scores
    holding = [index.bm25.holding(terms, chunk_ok) for terms in named]
    return exact_first(positions, scores, holding, depth)
