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

import numpy as np

from ragtune.text import STOPWORDS, analyze

__all__ = ["STOPWORDS", "BM25Index", "analyze", "top_k"]


class BM25Index:
    """Append-only in-memory BM25 (Lucene's formula; k1=0.9, b=0.4 as in Anserini by default)."""

    def __init__(self, k1: float = 0.9, b: float = 0.4) -> None:
        self.k1, self.b = k1, b
        self.vocab: dict[str, int] = {}
        self._docs: list[np.ndarray] = []  # term id → chunk positions (int32, ascending)
        self._tfs: list[np.ndarray] = []  # term id → term frequencies (float32)
        self.lengths = np.zeros(0, dtype=np.float32)
        self.size = 0

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
                    # Lists first, then the vocabulary: a concurrent search() may look the term up.
                    self._docs.append(np.zeros(0, dtype=np.int32))
                    self._tfs.append(np.zeros(0, dtype=np.float32))
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
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            tid = int(terms_sorted[s])
            if len(self._docs[tid]):
                self._docs[tid] = np.concatenate([self._docs[tid], pos_sorted[s:e]])
                self._tfs[tid] = np.concatenate([self._tfs[tid], tf_sorted[s:e]])
            else:
                self._docs[tid] = pos_sorted[s:e]
                self._tfs[tid] = tf_sorted[s:e]

    def search(
        self, query: str, allowed: np.ndarray, n_live: int, avg_len: float, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` positions among ``allowed`` (bool mask) and their BM25 scores, best first.

        ``n_live`` and ``avg_len`` are the statistics of the live collection (the version queried).
        """
        terms = Counter(analyze(query))
        scores = np.zeros(self.size, dtype=np.float32)
        avg_len = max(avg_len, 1e-6)
        for term, qtf in terms.items():
            tid = self.vocab.get(term)
            if tid is None:
                continue
            # A concurrent add() may have indexed positions past the caller's mask, and replaces a
            # term's docs and tfs one after the other, each an extension of the last: their common
            # prefix, cut where the mask ends, is one consistent posting list.
            docs, tfs = self._docs[tid], self._tfs[tid]
            n = min(len(docs), len(tfs), int(np.searchsorted(docs, len(allowed))))
            docs, tfs = docs[:n], tfs[:n]
            keep = allowed[docs]
            docs = docs[keep]
            if not len(docs):
                continue
            tfs = tfs[keep]
            df = len(docs)
            idf = np.log1p((n_live - df + 0.5) / (df + 0.5))
            norm = self.k1 * (1.0 - self.b + self.b * self.lengths[docs] / avg_len)
            scores[docs] += qtf * idf * tfs * (self.k1 + 1.0) / (tfs + norm)
        # Every matched position scores > 0 (idf > 0, tf > 0): no need to merge the posting lists.
        cand = np.flatnonzero(scores)
        if not len(cand):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return top_k(cand, scores[cand], k)


def top_k(positions: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best (position, score) pairs, best first; ties broken by position."""
    if len(scores) > k:
        part = np.argpartition(-scores, k - 1)[:k]
        positions, scores = positions[part], scores[part]
    order = np.lexsort((positions, -scores))
    return positions[order].astype(np.int64), scores[order]
