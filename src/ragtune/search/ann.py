"""Approximate nearest neighbours for the vector leg past a size threshold: a USearch HNSW graph over int8 vectors.

Below ``[search] ann_threshold`` chunks the vector leg scans every row (:mod:`ragtune.search.dense`); at 1M
chunks that scan costs ~20 ms, so past the threshold the leg asks this graph for candidates instead and
re-scores them exactly in fp32, as the exact path does with its int8 scan's candidates.

Why USearch (benchmarks/ann.py, 100k realistic vectors, 2 cores; docs/benchmarks.md): it built the graph 1.6–4×
faster than hnswlib and faiss (HNSW flat / SQ8), held the least memory (int8 nodes: 63 MB file at 100k
where hnswlib and faiss-flat need 173 MB) at the same recall@10 after re-scoring, and it can *view* a
serialized graph in place: the persisted file (a ``uint8`` ``.npy`` in the index folder, checksummed like the
other arrays) is memory-mapped and searched without being read or copied. Its Python API has no filtered
search, so the caller over-fetches in proportion to the share of chunks it may return and filters (see
:meth:`ragtune.search.dense.DenseIndex.search`, which falls back to an exact scan when that is not enough).

Keys are chunk positions. The graph takes appended rows incrementally (a viewed graph is first copied into
memory: a view is read-only).
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

import numpy as np

from ragtune.errors import SearchError

CONNECTIVITY = 32  # M: neighbours per node (16 lost ~0.5 pt of recall@10 at 1M for 15% less memory)
EXPANSION_ADD = 80  # ef at construction
DTYPE = (
    "i8"  # node vectors as int8 (usearch: x127); f16 nodes gave the same recall at 1M with +60% memory and build time
)
# Search depth. At 1M chunks, 220 candidates at ef 440 gave recall@10 0.948; 734 candidates at ef 1468 (what a
# filter admitting 30% asked for) gave 0.985 at ~2.7 ms: every search now asks for at least that many.
MIN_CANDIDATES = 750
EF_PER_CANDIDATE = 2
LIBRARY = "usearch"
log = logging.getLogger(__name__)

_usearch: Any = None


def _lib() -> Any:
    """``usearch.index``, imported on first use (a KB below the threshold never loads it).

    ONNX Runtime is imported first when installed: with usearch 2.26 and onnxruntime in one process, loading
    usearch's extension *before* ONNX Runtime's segfaults the process (either order of use works once both are
    loaded this way; tests/search/test_ann.py checks it)."""
    global _usearch
    if _usearch is None:
        if importlib.util.find_spec("onnxruntime") is not None:
            import onnxruntime  # noqa: F401
        try:
            from usearch import index
        except ImportError as exc:  # pragma: no cover - a dependency
            raise SearchError("search.ann_threshold needs the usearch package (pip install usearch)") from exc
        _usearch = index
    return _usearch


class AnnIndex:
    """An HNSW graph of unit vectors keyed by chunk position (0..size-1, appended in order)."""

    def __init__(self, dim: int, threads: int = 0) -> None:
        self.dim = dim
        self.threads = threads  # for adds (0: every core); a query searches on its own thread
        self._index = self._new()
        self._viewed = False
        self._buffer: np.ndarray | None = None  # the serialized graph a view reads

    def _new(self) -> Any:
        return _lib().Index(
            ndim=self.dim,
            metric="ip",
            dtype=DTYPE,
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            enable_key_lookups=False,
        )

    @classmethod
    def view(cls, dim: int, buffer: np.ndarray, size: int) -> AnnIndex:
        """Search a serialized graph in place (e.g. a memory-mapped file); ValueError when it is not one of
        ``size`` rows of ``dim`` dimensions with this module's settings."""
        ann = cls(dim)
        try:
            index = _lib().Index.restore(buffer, view=True)
        except (ValueError, RuntimeError) as exc:
            raise ValueError(f"not a usable USearch graph ({exc})") from exc
        if index is None:
            raise ValueError("not a USearch graph")
        if index.ndim != dim or index.size != size or index.connectivity != CONNECTIVITY:
            raise ValueError(
                f"graph holds {index.size} vectors of {index.ndim} dims (M={index.connectivity}), "
                f"expected {size} of {dim} (M={CONNECTIVITY})"
            )
        if str(index.dtype).lower().split(".")[-1] != DTYPE:
            raise ValueError(f"graph stores {index.dtype}, expected {DTYPE}")
        ann._index, ann._viewed, ann._buffer = index, True, buffer
        return ann

    @property
    def size(self) -> int:
        return int(self._index.size)

    @property
    def nbytes(self) -> int:
        return int(self._index.memory_usage)

    def add(self, vectors: np.ndarray) -> None:
        """Append rows; their keys continue from :attr:`size`."""
        if not len(vectors):
            return
        if self._viewed:  # a view is read-only: copy the graph into memory first
            self._index = _lib().Index.restore(np.asarray(self._buffer), view=False)
            self._viewed, self._buffer = False, None
        start = self.size
        keys = np.arange(start, start + len(vectors), dtype=np.uint64)
        self._index.add(keys, np.ascontiguousarray(vectors, dtype=np.float32), threads=self.threads)

    def candidates(self, query: np.ndarray, n: int, ef: int) -> np.ndarray:
        """About the ``n`` nearest positions to ``query`` (approximate order), searching ``ef`` deep."""
        self._index.expansion_search = max(ef, n)
        found = self._index.search(np.ascontiguousarray(query, dtype=np.float32), n, threads=1)
        return np.asarray(found.keys, dtype=np.int64)

    def to_array(self) -> np.ndarray:
        """The serialized graph as a ``uint8`` array (what :mod:`ragtune.search.persist` stores)."""
        if self._viewed:  # unchanged since it was loaded
            return np.asarray(self._buffer)
        return np.frombuffer(self._index.save(), dtype=np.uint8)
