"""Exact dense search: a scan of every stored vector, then an exact fp32 re-score of the best candidates.

The scan is exhaustive (no ANN), but it reads a half-precision copy of the matrix by default: at 100k chunks
× 384 dims the fp32 scan is memory-bound (154 MB per query), and an fp16 copy halves the bytes. fp16 has an
11-bit significand, so a dot product of unit vectors is off by ~1e-4 at most; the ``rescore`` best candidates
are then scored again in fp32, so the returned scores are exact and the order can differ from the fp32 scan
only for a chunk that sat ~1e-4 below the ``rescore``-th candidate. ``precision = "fp32"`` scans the fp32
matrix itself. The scan runs in torch (its CPU matrix-vector kernels are faster than numpy+OpenBLAS here for
fp32 too, and numpy has no fast fp16 kernel); ``threads`` > 0 sets torch's intra-op threads for the scan
(process-wide while it runs), 0 leaves torch's own setting. Past ~300k chunks an ANN index would be a
derived, rebuildable cache (see ARCHITECTURE.md).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from ragtune.errors import SearchError
from ragtune.search.lexical import top_k

PRECISIONS = {"fp16": torch.float16, "fp32": torch.float32}
_THREADS_LOCK = threading.Lock()


class DenseIndex:
    """A growable float32 matrix of unit vectors, one row per chunk position, plus the scan copy."""

    def __init__(self, dim: int, threads: int = 0, precision: str = "fp16", rescore: int = 200) -> None:
        if precision not in PRECISIONS:
            raise SearchError(f"search.dense_precision must be one of {sorted(PRECISIONS)}, not {precision!r}")
        self.dim = dim
        self.threads = max(0, threads)
        self.precision = precision
        self.rescore = max(1, rescore)
        self._dtype = PRECISIONS[precision]
        self._matrix = np.zeros((1024, dim), dtype=np.float32)
        # For fp32 the scan reads the numpy matrix's own memory (no copy).
        self._scan = self._scan_copy(self._matrix)
        self.size = 0

    def _scan_copy(self, matrix: np.ndarray) -> torch.Tensor:
        tensor = torch.from_numpy(matrix)
        return tensor if self._dtype == torch.float32 else tensor.to(self._dtype)

    def add(self, vectors: np.ndarray) -> None:
        n = len(vectors)
        if self.size + n > len(self._matrix):
            grown = np.zeros((max(2 * len(self._matrix), self.size + n), self.dim), dtype=np.float32)
            grown[: self.size] = self._matrix[: self.size]
            self._matrix = grown
            self._scan = self._scan_copy(self._matrix)
        self._matrix[self.size : self.size + n] = vectors
        if self._dtype != torch.float32:
            self._scan[self.size : self.size + n] = torch.from_numpy(np.ascontiguousarray(vectors, np.float32)).to(
                self._dtype
            )
        self.size += n

    @property
    def matrix(self) -> np.ndarray:
        return self._matrix[: self.size]

    @property
    def nbytes(self) -> int:
        """Memory held by the vectors (the fp32 matrix and, for fp16, the scan copy)."""
        extra = 0 if self._dtype == torch.float32 else self._scan.element_size() * self._scan.nelement()
        return self._matrix.nbytes + extra

    def search(self, query: np.ndarray, allowed: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` allowed positions by cosine similarity, best first (exact fp32 scores)."""
        if not self.size:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        q32 = np.ascontiguousarray(query, dtype=np.float32)
        with self._threads():
            scores = torch.mv(self._scan[: self.size], torch.from_numpy(q32).to(self._dtype)).float().numpy()
        cand = np.flatnonzero(allowed[: self.size])
        if not len(cand):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        take = k if self._dtype == torch.float32 else max(k, self.rescore)
        if len(cand) == self.size:
            best, _ = top_k(np.arange(self.size), scores, take)
        else:
            best, _ = top_k(cand, scores[cand], take)
        if self._dtype != torch.float32:
            # Exact scores for the candidates: the fp16 scan only chose them.
            best, exact = top_k(best, self._matrix[best] @ q32, k)
            return best, exact
        return best, scores[best]

    @contextmanager
    def _threads(self) -> Iterator[None]:
        if not self.threads or self.threads == torch.get_num_threads():
            yield
            return
        with _THREADS_LOCK:
            before = torch.get_num_threads()
            torch.set_num_threads(self.threads)
            try:
                yield
            finally:
                torch.set_num_threads(before)
