"""The ``Store`` protocol: everything ragtune asks of a knowledge base's system of record, and its backends.

A backend is chosen by name from a registry (``[store] backend = "sqlite"``, or a URL such as
``sqlite:///path/to/kb``; the URL's scheme names the backend). :func:`register_store` adds one (a plugin, a
test double); :func:`open_store` is the only place a store is constructed. The SQLite backend
(:mod:`ragtune.kb.sqlite`) is the default; every caller above ``kb/`` talks to the protocol, never to SQL.

A new backend implements :class:`Store` and registers a factory::

    from ragtune.kb.store import register_store

    def open_postgres(root, *, url, create):
        return PostgresStore(url, root=root, create=create)   # implements ragtune.kb.store.Store

    register_store("postgresql", open_postgres)
    # ragtune.toml:  [store]  url = "postgresql://kb@db/support"
"""

from __future__ import annotations

import hashlib
import threading
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from ragtune.errors import ConfigError

if TYPE_CHECKING:
    from ragtune.config import StoreSettings
    from ragtune.kb.document import Chunk, Document


def normalize(text: str) -> str:
    """The form a chunk is hashed in: NFC, whitespace runs collapsed, trimmed."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def chunk_hash(context: str, text: str) -> str:
    """Content address of a chunk: its normalized context and text."""
    return hashlib.sha256(f"{normalize(context)}\x1f{normalize(text)}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class VersionInfo:
    """One entry of the KB's history. ``embedder``: the embedder spec the version is searched with (None: the
    configured ``[embed] model``; see ``kb reembed``)."""

    version: int
    created_at: str
    operation: str
    message: str
    added: int
    updated: int
    removed: int
    embedder: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Diff:
    """Documents that differ between two versions."""

    a: int
    b: int
    added: list[str]
    removed: list[str]
    changed: list[str]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def between(cls, a: int, b: int, left: Mapping[str, int], right: Mapping[str, int]) -> Diff:
        """The diff of two live sets (doc id → revision id) at versions ``a`` and ``b``."""
        return cls(
            a=a,
            b=b,
            added=sorted(set(right) - set(left)),
            removed=sorted(set(left) - set(right)),
            changed=sorted(d for d in set(left) & set(right) if left[d] != right[d]),
        )


@dataclass(frozen=True)
class RevisionInfo:
    """A document's revision (what ``kb show`` prints)."""

    revision_id: int
    doc_id: str
    title: str
    source: str
    metadata: dict[str, Any]
    content_hash: str
    n_chunks: int
    created_at: str


# (chunk id, context, text, vector from the asked embedder or None): what the query-time index appends.
StoredChunk = tuple[int, str, str, np.ndarray | None]

# (chunk id, its candidate answer sentences' embedded texts, their vectors [n, dim]): what ingest stores per chunk.
SentenceVectors = tuple[int, Sequence[str], np.ndarray]


@runtime_checkable
class Store(Protocol):
    """One knowledge base's system of record: content-addressed chunks, document revisions, a linear history
    of versions (each naming the live revision of every document), the keyword index and the vector cache.

    Safe to share between threads. Versions never change once committed, so anything read at a version may
    be cached by the caller. Errors are :class:`~ragtune.errors.StoreError` (``NotFoundError`` for a missing
    version, document or revision)."""

    root: Path  # the knowledge base's folder (runs, the model registry and settings live beside the store)

    def close(self) -> None: ...

    # -- versions ---------------------------------------------------------------------------------
    def head(self) -> int:
        """The latest version (0 for an empty knowledge base)."""
        ...

    def check_version(self, at: int | None) -> int:
        """``at`` if it exists (None: head; negative: counted back from head); NotFoundError otherwise."""
        ...

    def versions(self) -> list[VersionInfo]: ...

    def live_docs(self, at: int | None = None) -> dict[str, int]:
        """doc id → live revision id at version ``at`` (head when None)."""
        ...

    def live_hashes(self) -> dict[str, str]:
        """doc id → content hash of its live revision at head."""
        ...

    def live_sources(self) -> dict[str, str]:
        """doc id → source of its live revision at head."""
        ...

    def live_chunks(self, doc_ids: Sequence[str] | None = None, at: int | None = None) -> dict[str, set[str]]:
        """doc id → chunk hashes of its live revision at ``at`` (only ``doc_ids`` when given)."""
        ...

    def commit_version(
        self, changes: Mapping[str, int | None], operation: str, message: str = "", *, embedder: str | None = None
    ) -> VersionInfo | None:
        """Make ``changes`` (doc id → revision id, None to remove) live as one new version (None: no change).

        The version records ``embedder`` when given (``""``: back to the configured ``[embed] model``) — then a
        version is written even with no document change, if the embedder differs from the head's — else the
        head's embedder at commit time."""
        ...

    def version_embedder(self, version: int) -> str | None:
        """The embedder spec ``version`` records (None: the configured ``[embed] model``)."""
        ...

    def diff(self, a: int, b: int) -> Diff: ...

    def rollback(self, version: int) -> VersionInfo | None:
        """A new version whose live documents and embedder equal those of ``version``."""
        ...

    def history(self, doc_id: str) -> list[tuple[int, int | None, int]]:
        """(from_version, to_version, revision id) of each span a document was live."""
        ...

    # -- revisions and chunks -------------------------------------------------------------------------
    def find_revision(self, doc_id: str, content_hash: str) -> int | None: ...

    def known_chunks(self, hashes: Sequence[str], embedder_id: str) -> dict[str, bool]:
        """hash → whether a vector for ``embedder_id`` is cached, for the hashes already stored."""
        ...

    def write_revision(
        self,
        doc: Document,
        content_hash: str,
        chunks: Sequence[Chunk],
        contexts: Sequence[str],
        hashes: Sequence[str],
        vectors: Mapping[str, np.ndarray],
        embedder_id: str,
    ) -> int:
        """Store one revision with its chunks, keyword rows and vectors atomically; not live until committed."""
        ...

    def revision(self, revision_id: int) -> RevisionInfo: ...

    def revision_fields(self, revision_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Per revision, the fields a filter can test: its metadata plus doc_id, title and source."""
        ...

    def document(self, doc_id: str, at: int | None = None) -> tuple[RevisionInfo, list[dict[str, Any]]]:
        """A document's live revision at ``at`` and its passages in order (ord, chunk_id (the hash), text, context,
        heading_path, start, end, page, n_tokens)."""
        ...

    # -- what the query-time index reads --------------------------------------------------------------
    def chunks_since(self, after_id: int, embedder_id: str, limit: int) -> list[StoredChunk]:
        """Up to ``limit`` chunks with id > ``after_id``, in id order, with their cached vector if any."""
        ...

    def live_passages(self, version: int) -> np.ndarray:
        """int64 ``[n, 3]``: (passage id, chunk id, revision id) of every passage live at ``version``, by id."""
        ...

    def passages(self, passage_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """passage id → its fields (doc_id, chunk_id (the hash), text, title, source, heading_path, page, start,
        end, revision_id, context, metadata): the keyword arguments of a ``Passage`` bar rank and scores."""
        ...

    def keyword_candidates(self, text: str, limit: int) -> list[tuple[int, float]]:
        """(chunk id, score) of the ``limit`` best keyword matches for ``text`` over every stored chunk, best
        first (the store's own full-text index; the caller keeps those live at its version)."""
        ...

    def chunk_count(self, up_to_id: int) -> int:
        """How many chunks have an id ≤ ``up_to_id`` (derived index files check they reflect this store)."""
        ...

    def chunks_missing_vectors(self, embedder_id: str) -> list[tuple[int, str, str]]: ...

    def add_vectors(self, embedder_id: str, items: Sequence[tuple[int, np.ndarray]]) -> None: ...

    # -- sentence vectors (the extractive answerer's candidates, computed once per chunk) -----------------
    def chunks_missing_sentence_vectors(self, embedder_id: str, limit: int) -> list[tuple[int, str]]:
        """Up to ``limit`` (chunk id, text) of chunks with no sentence vectors from ``embedder_id``, by id; the
        text of a chunk that continues a table is preceded by the table's header row (``with_table_header``)."""
        ...

    def add_sentence_vectors(self, embedder_id: str, items: Sequence[SentenceVectors]) -> None:
        """Store each chunk's candidate sentence texts and their vectors (kept if already stored)."""
        ...

    def sentence_vectors(
        self, chunk_hashes: Sequence[str], embedder_id: str
    ) -> dict[str, tuple[list[str], np.ndarray]]:
        """chunk hash → (candidate texts, float32 unit vectors ``[n, dim]``) for the chunks that have them."""
        ...

    # -- the store as a whole -------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def counts(self, embedder_id: str | None = None) -> dict[str, int]:
        """Row counts: chunks, fts, vectors, revisions, passages, versions, documents."""
        ...

    def sample_texts(self, n: int) -> list[str]:
        """The texts of the first ``n`` chunks stored."""
        ...

    def size_bytes(self, *, journal: bool = False) -> int:
        """Bytes on disk (``journal``: with the write-ahead log or its equivalent, if the backend keeps one)."""
        ...

    def backup(self, dest: Path) -> Path:
        """A consistent copy of this store in folder ``dest`` (safe while others write). Returns ``dest``."""
        ...


class StoreFactory(Protocol):
    """Opens (``create``: creating if absent) the store of the knowledge base in folder ``root``; ``url`` is the
    ``[store] url`` setting ("" when unset: the backend's default location for ``root``)."""

    def __call__(self, root: Path, *, url: str, create: bool) -> Store: ...


def _open_sqlite(root: Path, *, url: str, create: bool) -> Store:
    from ragtune.kb.sqlite import SQLiteStore

    return SQLiteStore(sqlite_location(url) if url else root, create=create)


def sqlite_location(url: str) -> Path:
    """The folder a ``sqlite:`` URL names: ``sqlite:///rel/dir`` (relative) or ``sqlite:////abs/dir``, as
    SQLAlchemy and MLflow write them; a trailing ``kb.sqlite`` names the file in that folder."""
    rest = url.split("://", 1)[1] if "://" in url else url
    path = Path(rest[1:] if rest.startswith("/") else rest)
    return path.parent if path.suffix == ".sqlite" else path


_BUILTIN: dict[str, StoreFactory] = {"sqlite": _open_sqlite}
_backends: dict[str, StoreFactory] = dict(_BUILTIN)
_lock = threading.Lock()


def register_store(name: str, factory: StoreFactory) -> None:
    """Make backend ``name`` available to ``[store] backend`` and to URLs ``NAME://...`` (replacing any)."""
    with _lock:
        _backends[name.lower()] = factory


def unregister_store(name: str) -> None:
    """Forget backend ``name`` (a built-in one comes back)."""
    name = name.lower()
    with _lock:
        if name in _BUILTIN:
            _backends[name] = _BUILTIN[name]
        else:
            _backends.pop(name, None)


def store_backends() -> list[str]:
    """The registered backend names, sorted."""
    return sorted(_backends)


def open_store(root: str | Path, settings: StoreSettings | None = None, *, create: bool = False) -> Store:
    """The store of the knowledge base in ``root``, from the backend ``settings`` name (default: SQLite).

    With ``[store] url`` set, the URL's scheme names the backend; otherwise ``[store] backend`` does.
    An unknown name is a :class:`~ragtune.errors.ConfigError` naming the setting."""
    backend = settings.backend if settings is not None else "sqlite"
    url = settings.url if settings is not None else ""
    if url:
        if "://" not in url:
            raise ConfigError(f"[store] url = {url!r}: expected BACKEND://LOCATION, e.g. sqlite:///.ragtune")
        name, setting = url.split("://", 1)[0].lower(), f"[store] url = {url!r}"
    else:
        name, setting = backend.lower(), f"[store] backend = {backend!r}"
    factory = _backends.get(name)
    if factory is None:
        raise ConfigError(f"{setting}: unknown store backend {name!r}; known: {', '.join(store_backends())}")
    return factory(Path(root), url=url, create=create)
