"""Exact dense search: one matrix-vector product over normalized vectors.

Exact search is fast enough to ~300k chunks on this class of machine (4 ms at 100k, 384 dims); past that
an ANN index would be a derived, rebuildable cache. BLAS is held to one thread on the query path: with
torch and OpenBLAS both spinning two threads, p50 was measured 7x worse (shared/MEASUREMENTS.md).
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import ThreadpoolController

from ragtune.search.lexical import top_k

_BLAS = ThreadpoolController()


class DenseIndex:
    """A growable float32 matrix of unit vectors, one row per chunk position."""

    def __init__(self, dim: int, threads: int = 1) -> None:
        self.dim = dim
        self.threads = max(1, threads)
        self._matrix = np.zeros((1024, dim), dtype=np.float32)
        self.size = 0

    def add(self, vectors: np.ndarray) -> None:
        n = len(vectors)
        if self.size + n > len(self._matrix):
            grown = np.zeros((max(2 * len(self._matrix), self.size + n), self.dim), dtype=np.float32)
            grown[: self.size] = self._matrix[: self.size]
            self._matrix = grown
        self._matrix[self.size : self.size + n] = vectors
        self.size += n

    @property
    def matrix(self) -> np.ndarray:
        return self._matrix[: self.size]

    def search(self, query: np.ndarray, allowed: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` allowed positions by cosine similarity, best first."""
        with _BLAS.limit(limits=self.threads, user_api="blas"):
            scores = self.matrix @ query.astype(np.float32)
        cand = np.flatnonzero(allowed[: self.size])
        if not len(cand):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if len(cand) == self.size:
            return top_k(np.arange(self.size), scores, k)
        return top_k(cand, scores[cand], k)
