"""Exact dense search: a scan of every stored vector, then an exact fp32 re-score of the best candidates.

The scan is exhaustive (no ANN), but it reads a compact copy of the matrix: at 100k chunks × 384 dims the fp32
scan is memory-bound (154 MB per query). ``precision`` picks the copy:

- ``int8`` (default): each row scaled to int8 (symmetric, per-row scale) and the query likewise; the scan is
  SimSIMD's int8 dot product (AVX2/AVX-512 VNNI kernels chosen at run time), 38 MB per query — ~2 ms at 100k
  chunks where numpy's fp32 matrix-vector product took ~14 ms (docs/benchmarks.md).
- ``fp16``: an fp16 copy through SimSIMD's fp16 kernel (77 MB per query).
- ``fp32``: numpy on the fp32 matrix itself.

With int8 and fp16 the best ``rescore`` candidates (at least k) are scored again against the fp32 matrix, so the
returned scores are exact and the order can differ from an fp32 scan only for a chunk that sat within the scan's
error below the ``rescore``-th candidate. Without SimSIMD the scan falls back to fp32 (numpy). No torch: a search
process never loads it. The matrices may be memory-mapped files (:mod:`ragtune.search.persist`): they are copied
into growable memory only when rows are added after loading.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from ragtune.errors import SearchError
from ragtune.search.lexical import top_k

PRECISIONS = ("int8", "fp16", "fp32")
PARALLEL_SCAN_ROWS = 50_000
log = logging.getLogger(__name__)

_simsimd: Any
try:  # SimSIMD: dot-product kernels for int8/fp16, picked for the running CPU
    import simsimd as _simsimd
except ImportError:  # pragma: no cover - a dependency; without it the scan is fp32 numpy
    _simsimd = None


def quantize(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row symmetric int8 and the float32 scales (a zero row gets scale 1)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    scales = np.abs(vectors).max(axis=1, initial=0.0) / 127.0
    scales = np.where(scales > 0, scales, 1.0).astype(np.float32)
    q = np.clip(np.rint(vectors / scales[:, None]), -127, 127).astype(np.int8)
    return q, scales


class DenseIndex:
    """A growable float32 matrix of unit vectors, one row per chunk position, plus the scan copy."""

    def __init__(self, dim: int, threads: int = 0, precision: str = "int8", rescore: int = 200) -> None:
        if precision not in PRECISIONS:
            raise SearchError(f"search.dense_precision must be one of {sorted(PRECISIONS)}, not {precision!r}")
        if precision != "fp32" and _simsimd is None:
            log.info("SimSIMD unavailable: scanning fp32 vectors with numpy")
            precision = "fp32"
        self.dim = dim
        self.threads = threads  # 0: by size (see scan_threads)
        self.precision = precision
        self.rescore = max(1, rescore)
        self._matrix = np.zeros((0, dim), dtype=np.float32)
        self._scan = self._scan_copy(self._matrix)[0]
        self._scales = np.zeros(0, dtype=np.float32)
        self.size = 0

    def _scan_copy(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.precision == "int8":
            return quantize(vectors)
        if self.precision == "fp16":
            return np.asarray(vectors, dtype=np.float16), np.ones(len(vectors), dtype=np.float32)
        return np.zeros((0, self.dim), dtype=np.float32), np.ones(0, dtype=np.float32)  # fp32 scans the matrix

    def load(self, matrix: np.ndarray, scan: np.ndarray | None, scales: np.ndarray | None) -> None:
        """Adopt stored arrays (e.g. memory-mapped) as the first rows; ``scan``/``scales`` None: computed here."""
        if matrix.ndim != 2 or matrix.shape[1] != self.dim:
            raise SearchError(f"stored vectors have shape {matrix.shape}, expected (n, {self.dim})")
        self._matrix = matrix
        if scan is None or scales is None or self.precision != "int8":
            scan, scales = self._scan_copy(matrix)
        self._scan, self._scales = scan, scales
        self.size = len(matrix)

    def arrays(self) -> dict[str, np.ndarray]:
        """What :mod:`ragtune.search.persist` stores: the fp32 rows, and the int8 copy with its scales."""
        out = {"vectors": self._matrix[: self.size]}
        if self.precision == "int8":
            out["vectors_i8"], out["vector_scales"] = self._scan[: self.size], self._scales[: self.size]
        return out

    def add(self, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n = len(vectors)
        if not n:
            return
        if self.size + n > len(self._matrix) or not self._matrix.flags.writeable:
            cap = max(1024, 2 * len(self._matrix), self.size + n)
            self._matrix = _grow(self._matrix, self.size, cap)
            if self.precision != "fp32":
                self._scan = _grow(self._scan, self.size, cap)
                self._scales = _grow(self._scales, self.size, cap)
        self._matrix[self.size : self.size + n] = vectors
        if self.precision != "fp32":
            self._scan[self.size : self.size + n], self._scales[self.size : self.size + n] = self._scan_copy(vectors)
        self.size += n

    @property
    def matrix(self) -> np.ndarray:
        return self._matrix[: self.size]

    @property
    def nbytes(self) -> int:
        """Memory held by the vectors (the fp32 matrix and the scan copy)."""
        extra = 0 if self.precision == "fp32" else self._scan[: self.size].nbytes + self._scales[: self.size].nbytes
        return self.matrix.nbytes + extra

    @property
    def scan_threads(self) -> int:
        """Threads for the scan: a second thread paid off from ~100k rows here (memory-bound: 10.9 → 9.8 ms per
        hybrid query at 100k) and cost ~1.7 ms at 11k (starting it outweighs the scan), interleaved runs."""
        if self.threads:
            return self.threads
        return min(2, os.cpu_count() or 1) if self.size >= PARALLEL_SCAN_ROWS else 1

    def scores(self, query: np.ndarray) -> np.ndarray:
        """Approximate (int8/fp16) or exact (fp32) inner products of ``query`` with every row, float32."""
        q32 = np.ascontiguousarray(query, dtype=np.float32)
        if self.precision == "fp32" or _simsimd is None:
            return self._matrix[: self.size] @ q32
        rows: Any = self._scan[: self.size]
        if self.precision == "int8":
            q_scale = float(np.abs(q32).max()) / 127.0 or 1.0
            q8 = np.clip(np.rint(q32 / q_scale), -127, 127).astype(np.int8)
            raw = np.asarray(_simsimd.cdist(q8[None, :], rows, metric="dot", threads=self.scan_threads))[0]
            return (raw * q_scale).astype(np.float32) * self._scales[: self.size]
        raw = np.asarray(_simsimd.cdist(q32.astype(np.float16)[None, :], rows, metric="dot", threads=self.scan_threads))
        return raw[0].astype(np.float32)

    def search(self, query: np.ndarray, allowed: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` allowed positions by cosine similarity, best first (exact fp32 scores)."""
        if not self.size:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        q32 = np.ascontiguousarray(query, dtype=np.float32)
        scores = self.scores(q32)
        allowed = allowed[: self.size]
        take = k if self.precision == "fp32" else max(k, self.rescore)
        if len(allowed) == self.size and allowed.all():
            best, _ = top_k(np.arange(self.size), scores, take)
        else:
            cand = np.flatnonzero(allowed)
            if not len(cand):
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            best, _ = top_k(cand, scores[cand], take)
        if self.precision == "fp32":
            return best, scores[best]
        # Exact scores for the candidates: the compact scan only chose them.
        return top_k(best, self._matrix[best] @ q32, k)


def _grow(array: np.ndarray, used: int, capacity: int) -> np.ndarray:
    grown = np.zeros((capacity, *array.shape[1:]), dtype=array.dtype)
    grown[:used] = array[:used]
    return grown
