"""BM25 over chunks, in memory (the default) or through SQLite FTS5.

The in-memory index keeps one posting list per term (chunk positions and term frequencies) over every
chunk ever stored; corpus statistics (document count, average length, document frequency) are computed
over the chunks live at the queried version, so scores are exact BM25 at any version. New chunks are
appended; nothing is rebuilt. At 100k chunks FTS5's OR-query ranking costs ~50 ms here against under
1 ms for this index (shared/MEASUREMENTS.md); FTS5 stays the durable record and the ``fts5`` engine.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ragtune.text import STOPWORDS, analyze

__all__ = ["STOPWORDS", "BM25Index", "analyze", "top_k"]


class _Postings(NamedTuple):
    offsets: np.ndarray
    positions: np.ndarray
    tfs: np.ndarray
    delta_docs: dict[int, np.ndarray]
    delta_tfs: dict[int, np.ndarray]


class BM25Index:
    """Append-only in-memory BM25 (Lucene's formula; k1=0.9, b=0.4 as in Anserini by default).

    Postings live in two parts: a compressed-sparse-row *base* (term id → a slice of ``positions``/``tfs``; may be
    memory-mapped files, see :mod:`ragtune.search.persist`) and a *delta* of per-term arrays for chunks added
    since. :meth:`compact` folds the delta into a new base (before saving).
    """

    def __init__(self, k1: float = 0.9, b: float = 0.4) -> None:
        self.k1, self.b = k1, b
        self.vocab: dict[str, int] = {}
        # One tuple, swapped whole by compact()/load(), so a concurrent search reads one consistent state:
        # base term id → [offsets[t], offsets[t+1]) of positions/tfs; the delta: term id → positions (int32,
        # ascending) and term id → term frequencies (float32), extended in place by add().
        self._state = _Postings(np.zeros(1, dtype=np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32), {}, {})
        self.lengths = np.zeros(0, dtype=np.float32)
        self.size = 0

    def load(
        self, terms: list[str], offsets: np.ndarray, positions: np.ndarray, tfs: np.ndarray, lengths: np.ndarray
    ) -> None:
        """Adopt stored postings as the base (an empty index only)."""
        if self.size:
            raise ValueError("load() needs an empty index")
        if len(offsets) != len(terms) + 1 or int(offsets[-1]) != len(positions) or len(positions) != len(tfs):
            raise ValueError("stored postings are inconsistent")
        self.vocab = dict(zip(terms, range(len(terms)), strict=True))
        self._state = _Postings(offsets, positions, tfs, {}, {})
        self.lengths = lengths
        self.size = len(lengths)

    def add(self, texts: Sequence[str]) -> None:
        """Index ``texts`` as the next positions (``self.size`` onward)."""
        base = self.size
        term_rows: list[int] = []
        pos_rows: list[int] = []
        tf_rows: list[int] = []
        lengths = np.zeros(len(texts), dtype=np.float32)
        vocab = self.vocab
        for i, text in enumerate(texts):
            terms = analyze(text)
            lengths[i] = len(terms)
            for term, tf in Counter(terms).items():
                tid = vocab.get(term)
                if tid is None:
                    tid = vocab[term] = len(vocab)
                term_rows.append(tid)
                pos_rows.append(base + i)
                tf_rows.append(tf)
        self.lengths = np.concatenate([self.lengths, lengths])
        self.size += len(texts)
        if not term_rows:
            return
        terms_arr = np.asarray(term_rows, dtype=np.int64)
        order = np.argsort(terms_arr, kind="stable")  # stable: positions stay ascending per term
        terms_sorted = terms_arr[order]
        pos_sorted = np.asarray(pos_rows, dtype=np.int32)[order]
        tf_sorted = np.asarray(tf_rows, dtype=np.float32)[order]
        bounds = np.flatnonzero(np.diff(terms_sorted)) + 1
        starts = np.concatenate([[0], bounds])
        ends = np.concatenate([bounds, [len(terms_sorted)]])
        docs, tfs = self._state.delta_docs, self._state.delta_tfs
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            tid = int(terms_sorted[s])
            old = docs.get(tid)
            # Docs first, then tfs, each an extension of the last: a concurrent search() takes their common prefix.
            if old is not None:
                docs[tid] = np.concatenate([old, pos_sorted[s:e]])
                tfs[tid] = np.concatenate([tfs[tid], tf_sorted[s:e]])
            else:
                docs[tid] = pos_sorted[s:e]
                tfs[tid] = tf_sorted[s:e]

    def postings(self, tid: int, state: _Postings | None = None) -> tuple[np.ndarray, np.ndarray]:
        """One term's (positions, tfs), ascending by position: the base slice, then the delta."""
        st = state or self._state
        parts_d, parts_t = [], []
        if tid < len(st.offsets) - 1:
            s, e = int(st.offsets[tid]), int(st.offsets[tid + 1])
            parts_d.append(st.positions[s:e])
            parts_t.append(st.tfs[s:e])
        d, t = st.delta_docs.get(tid), st.delta_tfs.get(tid)
        if d is not None and t is not None:
            n = min(len(d), len(t))
            parts_d.append(d[:n])
            parts_t.append(t[:n])
        if len(parts_d) == 1:
            return parts_d[0], parts_t[0]
        if not parts_d:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        return np.concatenate(parts_d), np.concatenate(parts_t)

    def compact(self) -> None:
        """Fold the delta into a new in-memory base (CSR over every term); searches see the same postings."""
        st = self._state
        n_terms = len(self.vocab)
        nb = len(st.offsets) - 1
        base_counts = np.zeros(n_terms, dtype=np.int64)
        base_counts[:nb] = np.diff(st.offsets)
        delta = sorted((tid, d[: len(st.delta_tfs[tid])]) for tid, d in st.delta_docs.items())
        delta_counts = np.zeros(n_terms, dtype=np.int64)
        for tid, d in delta:
            delta_counts[tid] = len(d)
        offsets = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(base_counts + delta_counts, out=offsets[1:])
        total = int(offsets[-1])
        pos = np.empty(total, dtype=np.int32)
        tf = np.empty(total, dtype=np.float32)
        if len(st.positions):  # each base entry keeps its place within its term, shifted to the new offsets
            shift = np.repeat(offsets[:nb] - st.offsets[:-1], base_counts[:nb])
            dest = shift + np.arange(len(st.positions))
            pos[dest], tf[dest] = st.positions, st.tfs
        for tid, d in delta:
            start = int(offsets[tid] + base_counts[tid])
            pos[start : start + len(d)] = d
            tf[start : start + len(d)] = st.delta_tfs[tid][: len(d)]
        self._state = _Postings(offsets, pos, tf, {}, {})

    def arrays(self) -> tuple[list[str], dict[str, np.ndarray]]:
        """The terms (by id) and the compacted postings, for :mod:`ragtune.search.persist`."""
        self.compact()
        terms = [""] * len(self.vocab)
        for term, tid in self.vocab.items():
            terms[tid] = term
        st = self._state
        arrays = {
            "term_offsets": st.offsets,
            "positions": st.positions,
            "tfs": st.tfs,
            "lengths": self.lengths[: self.size],
        }
        return terms, arrays

    def search(
        self, query: str, allowed: np.ndarray, n_live: int, avg_len: float, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` positions among ``allowed`` (bool mask) and their BM25 scores, best first.

        ``n_live`` and ``avg_len`` are the statistics of the live collection (the version queried).
        """
        terms = Counter(analyze(query))
        state = self._state
        everything = n_live == len(allowed) and bool(allowed.all())  # the head of a KB without filters: no masking
        scores = np.zeros(self.size, dtype=np.float32)
        avg_len = max(avg_len, 1e-6)
        for term, qtf in terms.items():
            tid = self.vocab.get(term)
            if tid is None:
                continue
            docs, tfs = self.postings(tid, state)
            # A concurrent add() may have indexed positions past the caller's mask: cut where the mask ends.
            n = int(np.searchsorted(docs, len(allowed)))
            docs, tfs = docs[:n], tfs[:n]
            if not everything:
                keep = allowed[docs]
                docs, tfs = docs[keep], tfs[keep]
            if not len(docs):
                continue
            df = len(docs)
            idf = np.log1p((n_live - df + 0.5) / (df + 0.5))
            norm = self.k1 * (1.0 - self.b + self.b * self.lengths[docs] / avg_len)
            scores[docs] += qtf * idf * tfs * (self.k1 + 1.0) / (tfs + norm)
        # Every matched position scores > 0 (idf > 0, tf > 0): no need to merge the posting lists.
        cand = np.flatnonzero(scores)
        if not len(cand):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return top_k(cand, scores[cand], k)

    def holding(self, terms: Sequence[str], allowed: np.ndarray) -> np.ndarray:
        """Positions among ``allowed`` whose text holds every one of ``terms`` (analyzed search terms), ascending."""
        state = self._state
        found: np.ndarray | None = None
        for term in dict.fromkeys(terms):
            tid = self.vocab.get(term)
            if tid is None:
                return np.zeros(0, dtype=np.int64)
            docs, _ = self.postings(tid, state)
            docs = docs[: int(np.searchsorted(docs, len(allowed)))]
            docs = docs[allowed[docs]].astype(np.int64)
            found = docs if found is None else np.intersect1d(found, docs, assume_unique=True)
            if not len(found):
                break
        return found if found is not None else np.zeros(0, dtype=np.int64)


def top_k(positions: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best (position, score) pairs, best first; ties broken by position."""
    if len(scores) > k:
        part = np.argpartition(-scores, k - 1)[:k]
        positions, scores = positions[part], scores[part]
    order = np.lexsort((positions, -scores))
    return positions[order].astype(np.int64), scores[order]
