"""Exact dense search: a scan of every stored vector, then an exact fp32 re-score of the best candidates.

The scan is exhaustive (no ANN), but it reads a compact copy of the matrix: at 100k chunks × 384 dims the fp32
scan is memory-bound (154 MB per query). ``precision`` picks the copy:

- ``int8`` (default): each row scaled to int8 (symmetric, per-row scale), the query in bf16, one
  ``torch._weight_int8pack_mm`` (the int8 weight-only kernel torch uses for LLM inference); 38 MB per query.
  A score is off by ~2e-3 at most; no true top-100 chunk fell outside the 200 candidates in 5,000 checks
  on random unit vectors, the hardest case (tiny score gaps). If the kernel is unavailable, fp16 is used.
- ``fp16``: an fp16 copy (off by ~1e-4); 77 MB per query.
- ``fp32``: the fp32 matrix itself.

With int8 and fp16 the best ``rescore`` candidates (at least k) are scored again against the fp32 matrix, so the
returned scores are exact and the order can differ from an fp32 scan only for a chunk that sat within the
scan's error below the ``rescore``-th candidate. The scan runs in torch (faster than numpy+OpenBLAS here even
for fp32; numpy has no fast fp16/int8 kernel); ``threads`` > 0 sets torch's intra-op threads for the scan
(process-wide while it runs), 0 leaves torch's own setting (two threads measured faster than one at 100k).
Past ~300k chunks an ANN index would be a derived, rebuildable cache (see ARCHITECTURE.md).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from ragtune.errors import SearchError
from ragtune.search.lexical import top_k

if TYPE_CHECKING:
    import torch

# torch dtype names; torch itself is imported when the first index is built, not when ragtune (or its CLI) loads.
PRECISIONS = {"int8": "int8", "fp16": "float16", "fp32": "float32"}
_THREADS_LOCK = threading.Lock()
log = logging.getLogger(__name__)


class DenseIndex:
    """A growable float32 matrix of unit vectors, one row per chunk position, plus the scan copy."""

    def __init__(self, dim: int, threads: int = 0, precision: str = "int8", rescore: int = 200) -> None:
        import torch

        if precision not in PRECISIONS:
            raise SearchError(f"search.dense_precision must be one of {sorted(PRECISIONS)}, not {precision!r}")
        if precision == "int8" and not _int8_kernel_works(dim):
            log.info("int8 vector scan unavailable in this torch build; scanning fp16")
            precision = "fp16"
        self.dim = dim
        self.threads = max(0, threads)
        self.precision = precision
        self.rescore = max(1, rescore)
        self._dtype = getattr(torch, PRECISIONS[precision])
        self._matrix = np.zeros((1024, dim), dtype=np.float32)
        # For fp32 the scan reads the numpy matrix's own memory (no copy).
        self._scan, self._scales = self._scan_copy(self._matrix)
        self.size = 0

    def _scan_copy(self, matrix: np.ndarray) -> tuple[torch.Tensor, torch.Tensor | None]:
        import torch

        tensor = torch.from_numpy(matrix)
        if self._dtype == torch.int8:
            return _quantize(tensor)
        return (tensor if self._dtype == torch.float32 else tensor.to(self._dtype)), None

    def add(self, vectors: np.ndarray) -> None:
        import torch

        n = len(vectors)
        if self.size + n > len(self._matrix):
            grown = np.zeros((max(2 * len(self._matrix), self.size + n), self.dim), dtype=np.float32)
            grown[: self.size] = self._matrix[: self.size]
            self._matrix = grown
            self._scan, self._scales = self._scan_copy(self._matrix)
        self._matrix[self.size : self.size + n] = vectors
        block = torch.from_numpy(np.ascontiguousarray(vectors, np.float32))
        if self._dtype == torch.int8:
            assert self._scales is not None
            self._scan[self.size : self.size + n], self._scales[self.size : self.size + n] = _quantize(block)
        elif self._dtype != torch.float32:
            self._scan[self.size : self.size + n] = block.to(self._dtype)
        self.size += n

    @property
    def matrix(self) -> np.ndarray:
        return self._matrix[: self.size]

    @property
    def nbytes(self) -> int:
        """Memory held by the vectors (the fp32 matrix and, for fp16, the scan copy)."""
        import torch

        extra = 0 if self._dtype == torch.float32 else self._scan.element_size() * self._scan.nelement()
        if self._scales is not None:
            extra += self._scales.element_size() * self._scales.nelement()
        return self._matrix.nbytes + extra

    def search(self, query: np.ndarray, allowed: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` allowed positions by cosine similarity, best first (exact fp32 scores)."""
        import torch

        if not self.size:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        q32 = np.ascontiguousarray(query, dtype=np.float32)
        with self._threads():
            scores = self._scan_scores(torch.from_numpy(q32))
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

    def _scan_scores(self, query: torch.Tensor) -> np.ndarray:
        import torch

        rows = self._scan[: self.size]
        if self._dtype == torch.int8:
            assert self._scales is not None
            out = torch._weight_int8pack_mm(query[None, :].to(torch.bfloat16), rows, self._scales[: self.size])
            return out[0].float().numpy()
        return torch.mv(rows, query.to(self._dtype)).float().numpy()

    @contextmanager
    def _threads(self) -> Iterator[None]:
        import torch

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


def _quantize(vectors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row symmetric int8 and the bf16 scales (a zero row gets scale 1)."""
    import torch

    scales = vectors.abs().amax(dim=1) / 127.0
    scales = torch.where(scales > 0, scales, torch.ones_like(scales))
    q = torch.round(vectors / scales[:, None]).clamp_(-127, 127).to(torch.int8)
    return q, scales.to(torch.bfloat16)


@lru_cache(maxsize=8)
def _int8_kernel_works(dim: int) -> bool:
    """The int8 kernel exists in this torch build, takes this dimension, and agrees with fp32 on a probe."""
    import torch

    try:
        probe = torch.nn.functional.normalize(torch.randn(64, dim, generator=torch.Generator().manual_seed(0)), dim=1)
        q, scales = _quantize(probe)
        got = torch._weight_int8pack_mm(probe[:1].to(torch.bfloat16), q, scales)[0].float()
        return bool(torch.allclose(got, probe @ probe[0], atol=0.02))
    except (RuntimeError, AttributeError, TypeError):
        return False
