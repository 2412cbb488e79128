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

**Past ``ann_threshold`` rows** (``[search] ann_threshold``; 0: never) the scan is replaced by an HNSW graph
(:mod:`ragtune.search.ann`): the graph proposes candidates, which are re-scored exactly in fp32 like the scan's.
The graph is built when the index first reaches the threshold and grows with every append. Permission (the
version's live chunks and the query's filters) is applied before ranking, as on the exact path:

- fewer permitted rows than the threshold (an old version, a narrow filter): an exact scan of those rows only;
- otherwise the graph is asked for ``fetch / share`` candidates (``share``: the permitted fraction of all rows,
  at least threshold / size, so the over-fetch is bounded; at least ``ann.MIN_CANDIDATES``, searching twice as
  deep), the permitted ones are re-scored, and when fewer than ``k`` remain the query falls back to the exact scan.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from ragtune.errors import SearchError
from ragtune.search.ann import EF_PER_CANDIDATE, MIN_CANDIDATES, AnnIndex
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

    def __init__(
        self, dim: int, threads: int = 0, precision: str = "int8", rescore: int = 200, ann_threshold: int = 0
    ) -> None:
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
        if ann_threshold < 0:
            raise SearchError(f"search.ann_threshold must be 0 (never) or a number of chunks, not {ann_threshold}")
        self.ann_threshold = ann_threshold
        self.ann: AnnIndex | None = None
        self.ann_note = ""  # why a stored graph was not used and the graph was rebuilt (then it should be saved)
        self.stats = {"ann": 0, "exact_subset": 0, "exact": 0, "fallback": 0}  # how searches were answered

    def _scan_copy(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.precision == "int8":
            return quantize(vectors)
        if self.precision == "fp16":
            return np.asarray(vectors, dtype=np.float16), np.ones(len(vectors), dtype=np.float32)
        return np.zeros((0, self.dim), dtype=np.float32), np.ones(0, dtype=np.float32)  # fp32 scans the matrix

    def load(
        self,
        matrix: np.ndarray,
        scan: np.ndarray | None,
        scales: np.ndarray | None,
        ann: np.ndarray | None = None,
        ann_problem: str = "",
    ) -> None:
        """Adopt stored arrays (e.g. memory-mapped) as the first rows; ``scan``/``scales`` None: computed here.

        ``ann`` is a stored graph (viewed in place); when the index is past the threshold and it is missing or
        unusable (``ann_problem`` says why it was not read), the graph is rebuilt from ``matrix`` and
        :attr:`ann_note` says why."""
        if matrix.ndim != 2 or matrix.shape[1] != self.dim:
            raise SearchError(f"stored vectors have shape {matrix.shape}, expected (n, {self.dim})")
        self._matrix = matrix
        if scan is None or scales is None or self.precision != "int8":
            scan, scales = self._scan_copy(matrix)
        self._scan, self._scales = scan, scales
        self.size = len(matrix)
        self.ann, self.ann_note = None, ""
        if not self._ann_wanted():
            return
        problem = ann_problem or ("no stored graph" if ann is None else "")
        if ann is not None and not problem:
            try:
                self.ann = AnnIndex.view(self.dim, ann, self.size)
            except ValueError as exc:
                problem = str(exc)
        if self.ann is None:
            log.info("ANN graph: %s; rebuilding it from the %d stored vectors", problem, self.size)
            self.ann_note = problem
            self._build_ann()

    def _ann_wanted(self) -> bool:
        return bool(self.ann_threshold) and self.size >= self.ann_threshold

    def _build_ann(self) -> None:
        self.ann = AnnIndex(self.dim, threads=0)
        for start in range(0, self.size, 65536):  # bounded fp32 copies of a memory-mapped matrix
            self.ann.add(self._matrix[start : min(self.size, start + 65536)])

    def arrays(self) -> dict[str, np.ndarray]:
        """What :mod:`ragtune.search.persist` stores: the fp32 rows, and the int8 copy with its scales."""
        out = {"vectors": self._matrix[: self.size]}
        if self.precision == "int8":
            out["vectors_i8"], out["vector_scales"] = self._scan[: self.size], self._scales[: self.size]
        if self.ann is not None:
            out["ann"] = self.ann.to_array()
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
        if self.ann is not None:
            self.ann.add(vectors)
        elif self._ann_wanted():
            log.info(
                "vector index at %d rows (ann_threshold %d): building the ANN graph", self.size, self.ann_threshold
            )
            self._build_ann()

    @property
    def matrix(self) -> np.ndarray:
        return self._matrix[: self.size]

    @property
    def nbytes(self) -> int:
        """Memory held by the vectors (the fp32 matrix and the scan copy) and the ANN graph."""
        extra = 0 if self.precision == "fp32" else self._scan[: self.size].nbytes + self._scales[: self.size].nbytes
        return self.matrix.nbytes + extra + (self.ann.nbytes if self.ann is not None else 0)

    @property
    def scan_threads(self) -> int:
        """Threads for the scan: a second thread paid off from ~100k rows here (memory-bound: 10.9 → 9.8 ms per
        hybrid query at 100k) and cost ~1.7 ms at 11k (starting it outweighs the scan), interleaved runs."""
        if self.threads:
            return self.threads
        return min(2, os.cpu_count() or 1) if self.size >= PARALLEL_SCAN_ROWS else 1

    def scores(self, query: np.ndarray, rows_at: np.ndarray | None = None) -> np.ndarray:
        """Approximate (int8/fp16) or exact (fp32) inner products of ``query`` with every row (or the rows at
        positions ``rows_at``), float32."""
        q32 = np.ascontiguousarray(query, dtype=np.float32)
        pick = slice(0, self.size) if rows_at is None else rows_at
        if self.precision == "fp32" or _simsimd is None:
            return self._matrix[pick] @ q32
        rows: Any = self._scan[pick]
        if self.precision == "int8":
            q_scale = float(np.abs(q32).max()) / 127.0 or 1.0
            q8 = np.clip(np.rint(q32 / q_scale), -127, 127).astype(np.int8)
            raw = np.asarray(_simsimd.cdist(q8[None, :], rows, metric="dot", threads=self.scan_threads))[0]
            return (raw * q_scale).astype(np.float32) * self._scales[pick]
        raw = np.asarray(_simsimd.cdist(q32.astype(np.float16)[None, :], rows, metric="dot", threads=self.scan_threads))
        return raw[0].astype(np.float32)

    def search(self, query: np.ndarray, allowed: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` allowed positions by cosine similarity, best first (exact fp32 scores)."""
        if not self.size:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        q32 = np.ascontiguousarray(query, dtype=np.float32)
        allowed = allowed[: self.size]
        if self.ann is not None and self.ann_threshold and self.size >= self.ann_threshold:
            found = self._search_ann(q32, allowed, k)
            if found is not None:
                return found
        self.stats["exact"] += 1
        scores = self.scores(q32)
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

    def _search_ann(self, q32: np.ndarray, allowed: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The graph's answer, an exact scan of few permitted rows, or None (then the caller scans everything)."""
        assert self.ann is not None
        n_allowed = int(np.count_nonzero(allowed))
        if n_allowed == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if n_allowed < self.ann_threshold:  # few permitted rows: scanning just those is as cheap as below it
            self.stats["exact_subset"] += 1
            cand = np.flatnonzero(allowed)
            best, _ = top_k(cand, self.scores(q32, cand), k if self.precision == "fp32" else max(k, self.rescore))
            return top_k(best, self._matrix[best] @ q32, k)
        fetch = max(k, self.rescore)
        share = n_allowed / len(allowed)  # >= threshold / size: the over-fetch stays bounded
        want = min(self.ann.size, max(MIN_CANDIDATES, int(np.ceil(fetch / share * 1.1))))
        cand = self.ann.candidates(q32, want, ef=EF_PER_CANDIDATE * want)
        cand = cand[(cand >= 0) & (cand < len(allowed))]  # rows added by a concurrent sync are not ours
        cand = cand[allowed[cand]]
        if len(cand) < min(k, n_allowed):
            self.stats["fallback"] += 1
            return None
        self.stats["ann"] += 1
        return top_k(cand, self._matrix[cand] @ q32, k)


def _grow(array: np.ndarray, used: int, capacity: int) -> np.ndarray:
    grown = np.zeros((capacity, *array.shape[1:]), dtype=array.dtype)
    grown[:used] = array[:used]
    return grown
