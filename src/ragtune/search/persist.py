"""Derived index files: the BM25 postings and the search vectors saved beside the store, memory-mapped on open.

Without them a fresh process re-reads and re-analyses every chunk before its first query (~20 s at 100k
chunks here). The files are a cache of the store, never a source of truth:

- **Layout.** ``<kb>/.ragtune/index/`` holds ``manifest.json`` and uncompressed ``.npy`` arrays (numpy's own
  format: a header, then the raw array, so ``np.load(mmap_mode="r")`` maps them without reading): chunk ids,
  BM25 term offsets/positions/term frequencies/lengths, the terms (one per line), and per embedder the fp32
  vectors and the int8 scan copy with its scales, and past ``[search] ann_threshold`` the serialized HNSW graph
  (``ann``, :mod:`ragtune.search.ann`; viewed in place, not read).
- **Atomic.** A save writes every array under a fresh name (``NAME-<token>.npy``, temporary name then
  ``os.replace``), then replaces ``manifest.json`` the same way, then deletes files no manifest names. A reader
  sees the old set or the new one, never a mix; writers take an exclusive ``flock`` on ``.lock``.
- **Tagged.** The manifest records the format, the analyzer, the embedder id, the store's id (``[meta]
  index_uid``, made on first save), how many chunks the files hold and the last chunk id, and each file's
  size and CRC-32.
- **Never trusted.** A bad ANN graph file costs only the graph: it is rebuilt from the stored vectors and saved.
  Otherwise :func:`load` returns None — and the caller rebuilds from the store — when the manifest or a
  file is missing, a size or checksum differs (a truncated or edited file), the format/analyzer/embedder differ,
  or the store no longer holds exactly those chunks (another store, a restored older copy). Chunks stored
  after the files were written are simply appended by :meth:`ChunkIndex.sync` (chunks are immutable).
- **Incremental.** Only chunks added since the files were written are analysed and quantized; the arrays are
  then written out again whole (a sequential copy: ~0.3 s at 100k chunks).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ragtune.kb.store import Store

if TYPE_CHECKING:
    from ragtune.search.index import ChunkIndex

FORMAT = 1
ANALYZER = "snowball-english/1"  # bump when ragtune.text.analyze changes what it emits
MANIFEST = "manifest.json"
log = logging.getLogger(__name__)


def _crc(path: Path) -> int:
    crc = 0
    with path.open("rb") as f:
        while block := f.read(1 << 24):
            crc = zlib.crc32(block, crc)
    return crc


def store_uid(store: Store, *, create: bool) -> str | None:
    """The store's identity for index files (a random id kept in the store's metadata)."""
    uid = store.get_meta("index_uid")
    if uid is None and create:
        uid = uuid.uuid4().hex
        store.set_meta("index_uid", uid)
    return uid


class IndexFiles:
    """The index folder of one knowledge base."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / ".lock").open("a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def manifest(self) -> dict[str, Any] | None:
        try:
            data = json.loads((self.folder / MANIFEST).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("index manifest %s unreadable (%s): rebuilding from the store", self.folder / MANIFEST, exc)
            return None
        return data if isinstance(data, dict) else None

    def load(self, index: ChunkIndex) -> str:
        """Fill the empty ``index`` from the files; returns "" when loaded, else why not (then rebuild)."""
        manifest = self.manifest()
        if manifest is None:
            return "no index files"
        why = self._check(manifest, index)
        if why:
            return why
        try:
            files = manifest["files"]
            arrays = {name: self._array(entry) for name, entry in files.items() if name not in ("terms", "ann")}
            ann, ann_problem = None, ""
            if "ann" in files:  # a bad graph file costs only the graph (rebuilt from the vectors), not the index
                try:
                    ann = self._array(files["ann"])
                except (OSError, ValueError, KeyError, TypeError) as exc:
                    ann_problem = f"ANN graph file unusable ({exc})"
            terms_entry = manifest["files"]["terms"]
            terms_path = self._verified(terms_entry)
            terms_text = terms_path.read_text(encoding="utf-8")
            terms = terms_text.split("\n") if terms_text else []
            chunk_ids = arrays["chunk_ids"]
            if len(chunk_ids) != manifest["chunks"] or (len(chunk_ids) and chunk_ids[-1] != manifest["last_chunk_id"]):
                raise ValueError("chunk ids disagree with the manifest")
            index.bm25.load(terms, arrays["term_offsets"], arrays["positions"], arrays["tfs"], arrays["lengths"])
            index.dense.load(arrays["vectors"], arrays.get("vectors_i8"), arrays.get("vector_scales"), ann, ann_problem)
            index.chunk_ids = np.asarray(chunk_ids)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            index.reset()
            return f"index files unusable ({exc})"
        return ""

    def _check(self, manifest: dict[str, Any], index: ChunkIndex) -> str:
        expected = {"format": FORMAT, "analyzer": ANALYZER, "embedder": index.embedder.id}
        for key, value in expected.items():
            if manifest.get(key) != value:
                return f"index files are for {key} {manifest.get(key)!r}, not {value!r}"
        uid = store_uid(index.store, create=False)
        if uid is None or manifest.get("store") != uid:
            return "index files belong to another store"
        last, n = manifest.get("last_chunk_id"), manifest.get("chunks")
        if not isinstance(last, int) or not isinstance(n, int) or index.store.chunk_count(last) != n:
            return "index files are stale (the store's chunks differ)"
        return ""

    def _verified(self, entry: dict[str, Any]) -> Path:
        path = self.folder / str(entry["name"])
        if path.parent != self.folder:
            raise ValueError(f"bad file name {entry['name']!r}")
        size = path.stat().st_size
        if size != entry["bytes"]:
            raise ValueError(f"{path.name} has {size} bytes, the manifest says {entry['bytes']}")
        if _crc(path) != entry["crc32"]:
            raise ValueError(f"{path.name} fails its checksum")
        return path

    def _array(self, entry: dict[str, Any]) -> np.ndarray:
        array = np.load(self._verified(entry), mmap_mode="r", allow_pickle=False)
        if array.dtype.str != entry["dtype"] or list(array.shape) != entry["shape"]:
            raise ValueError(f"{entry['name']} is {array.dtype.str}{list(array.shape)}, not {entry['dtype']}")
        # A plain ndarray over the same mapped memory: np.memmap's Python-level __getitem__ cost ~0.7 ms per query
        # over the BM25 posting slices at 100k chunks.
        return array.view(np.ndarray)

    def save(self, index: ChunkIndex) -> None:
        """Write the index as files (atomically); a failure is logged, never raised: the store is the record."""
        try:
            with self._locked():
                self._save(index)
        except OSError as exc:
            log.warning("could not save the index files in %s: %s", self.folder, exc)

    def _save(self, index: ChunkIndex) -> None:
        uid = store_uid(index.store, create=True)
        token = secrets.token_hex(4)
        with index.frozen() as (chunk_ids, terms, arrays):
            files: dict[str, dict[str, Any]] = {}
            arrays = {"chunk_ids": chunk_ids, **arrays}
            for name, array in arrays.items():
                files[name] = self._write_array(f"{name}-{token}.npy", np.ascontiguousarray(array))
            files["terms"] = self._write_bytes(f"terms-{token}.txt", "\n".join(terms).encode("utf-8"))
            manifest = {
                "format": FORMAT,
                "analyzer": ANALYZER,
                "embedder": index.embedder.id,
                "store": uid,
                "chunks": len(chunk_ids),
                "last_chunk_id": int(chunk_ids[-1]) if len(chunk_ids) else 0,
                "files": files,
            }
        self._replace(MANIFEST, json.dumps(manifest, indent=1).encode("utf-8"))
        keep = {MANIFEST, ".lock", *(f["name"] for f in files.values())}
        for path in self.folder.iterdir():
            if path.name not in keep:
                path.unlink(missing_ok=True)

    def _write_array(self, name: str, array: np.ndarray) -> dict[str, Any]:
        tmp = self.folder / f".{name}.tmp"
        with tmp.open("wb") as f:
            np.save(f, array, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.folder / name)
        path = self.folder / name
        return {
            "name": name,
            "bytes": path.stat().st_size,
            "crc32": _crc(path),
            "dtype": array.dtype.str,
            "shape": list(array.shape),
        }

    def _write_bytes(self, name: str, data: bytes) -> dict[str, Any]:
        self._replace(name, data)
        return {"name": name, "bytes": len(data), "crc32": zlib.crc32(data)}

    def _replace(self, name: str, data: bytes) -> None:
        tmp = self.folder / f".{name}.tmp"
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.folder / name)
