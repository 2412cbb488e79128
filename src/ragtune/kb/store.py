"""The SQLite store: the system of record of a knowledge base.

One file (``kb.sqlite``, WAL mode). Content is written one document per transaction
(:meth:`Store.write_revision`); which revisions are live changes only in :meth:`Store.commit_version`,
one small transaction per ingest, removal or rollback. So a killed process leaves every document wholly
at its old revision, and staged revisions are reused when the ingest is run again.
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ragtune.errors import NotFoundError, StoreError
from ragtune.kb.document import Chunk, Document
from ragtune.kb.schema import migrate, now

DB_NAME = "kb.sqlite"
T = TypeVar("T")


def normalize(text: str) -> str:
    """The form a chunk is hashed in: NFC, whitespace runs collapsed, trimmed."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def chunk_hash(context: str, text: str) -> str:
    """Content address of a chunk: its normalized context and text."""
    return hashlib.sha256(f"{normalize(context)}\x1f{normalize(text)}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class VersionInfo:
    """One entry of the KB's history."""

    version: int
    created_at: str
    operation: str
    message: str
    added: int
    updated: int
    removed: int

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


class Store:
    """Access to one ``kb.sqlite``; safe to share between threads (one connection per thread)."""

    def __init__(self, root: Path, *, create: bool = False) -> None:
        self.root = Path(root)
        self.path = self.root / DB_NAME
        if not self.path.exists():
            if not create:
                raise NotFoundError(f"no knowledge base at {self.root} (run `ragtune init` or pass --kb)")
            self.root.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.schema_version = self._retry(lambda: migrate(self.db))

    # -- connections and transactions -------------------------------------------------------------

    @property
    def db(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA busy_timeout=60000")
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: cannot open: {exc}") from exc
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @staticmethod
    def _retry(fn: Callable[[], T], attempts: int = 50) -> T:
        """Run ``fn``, retrying when SQLite reports lock contention the busy timeout did not absorb."""
        for attempt in range(attempts):
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                msg = str(exc).lower()
                if ("locked" not in msg and "busy" not in msg) or attempt == attempts - 1:
                    raise
                time.sleep(min(1.0, 0.01 * 2**attempt) * random.random())
        raise AssertionError("unreachable")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self.db
        self._retry(lambda: db.execute("BEGIN IMMEDIATE"))
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees one consistent state of the store."""
        db = self.db
        db.execute("BEGIN")
        try:
            yield db
        finally:
            db.execute("COMMIT")

    # -- metadata ---------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- versions ---------------------------------------------------------------------------------

    def head(self) -> int:
        """The latest version (0 for an empty knowledge base)."""
        row = self.db.execute("SELECT COALESCE(MAX(id), 0) FROM versions").fetchone()
        return int(row[0])

    def check_version(self, at: int | None) -> int:
        """``at`` if it exists (None means head); NotFoundError otherwise."""
        head = self.head()
        if at is None:
            return head
        if at < 0:
            at = head + at  # -1: the version before head
        if at == 0 or (0 < at <= head):
            return at
        if head == 0:
            raise NotFoundError(f"no version {at}: the knowledge base is empty (run `ragtune ingest PATH`)")
        raise NotFoundError(f"no version {at}: the knowledge base has versions 1..{head}")

    def versions(self) -> list[VersionInfo]:
        rows = self.db.execute("SELECT * FROM versions ORDER BY id").fetchall()
        return [VersionInfo(*row) for row in rows]

    def live_docs(self, at: int | None = None, db: sqlite3.Connection | None = None) -> dict[str, int]:
        """doc id → live revision id at version ``at`` (head when None)."""
        db = db or self.db
        if at is None:
            rows = db.execute("SELECT doc_id, revision_id FROM live WHERE to_version IS NULL")
        else:
            rows = db.execute(
                "SELECT doc_id, revision_id FROM live WHERE from_version <= ?1 "
                "AND (to_version IS NULL OR to_version > ?1)",
                (at,),
            )
        return dict(rows.fetchall())

    def live_hashes(self) -> dict[str, str]:
        """doc id → content hash of its live revision at head (to skip unchanged files cheaply)."""
        rows = self.db.execute(
            "SELECT l.doc_id, r.content_hash FROM live l JOIN revisions r ON r.id = l.revision_id "
            "WHERE l.to_version IS NULL"
        )
        return dict(rows.fetchall())

    def live_chunks(self, doc_ids: Sequence[str] | None = None, at: int | None = None) -> dict[str, set[str]]:
        """doc id → the chunk hashes of its live revision at version ``at`` (head when None).

        Only the documents in ``doc_ids`` when given (those not live are absent); every live one otherwise.
        """
        live = (
            "l.to_version IS NULL"
            if at is None
            else "l.from_version <= ? AND (l.to_version IS NULL OR l.to_version > ?)"
        )
        query = (
            "SELECT l.doc_id, c.hash FROM live l JOIN passages p ON p.revision_id = l.revision_id "
            f"JOIN chunks c ON c.id = p.chunk_id WHERE {live}"
        )
        version: tuple[int, ...] = () if at is None else (at, at)
        parts = [None] if doc_ids is None else [list(doc_ids[i : i + 500]) for i in range(0, len(doc_ids), 500)]
        out: dict[str, set[str]] = {}
        with self.snapshot() as db:
            for part in parts:
                if part is None:
                    rows = db.execute(query, version)
                else:
                    marks = ",".join("?" * len(part))
                    rows = db.execute(f"{query} AND l.doc_id IN ({marks})", (*version, *part))
                for doc_id, h in rows:
                    out.setdefault(doc_id, set()).add(h)
        return out

    def commit_version(
        self, changes: Mapping[str, int | None], operation: str, message: str = ""
    ) -> VersionInfo | None:
        """Make ``changes`` (doc id → revision id, or None to remove) live as one new version.

        Applied against the head at commit time, so concurrent ingests each commit their own version.
        Returns None when nothing would change (no empty versions are written).
        """
        with self._write() as db:
            current = self.live_docs(None, db)
            effective = {d: r for d, r in changes.items() if current.get(d) != r}
            if not effective:
                return None
            version = int(db.execute("SELECT COALESCE(MAX(id), 0) FROM versions").fetchone()[0]) + 1
            added = updated = removed = 0
            for doc_id, rev in sorted(effective.items()):
                if doc_id in current:
                    db.execute(
                        "UPDATE live SET to_version = ? WHERE doc_id = ? AND to_version IS NULL",
                        (version, doc_id),
                    )
                if rev is None:
                    removed += 1
                    continue
                if db.execute("SELECT 1 FROM revisions WHERE id = ?", (rev,)).fetchone() is None:
                    raise StoreError(f"revision {rev} of {doc_id} does not exist")
                db.execute("INSERT INTO live VALUES (?, ?, ?, NULL)", (doc_id, rev, version))
                if doc_id in current:
                    updated += 1
                else:
                    added += 1
            info = VersionInfo(version, now(), operation, message, added, updated, removed)
            db.execute("INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?, ?)", tuple(info.__dict__.values()))
            return info

    def diff(self, a: int, b: int) -> Diff:
        a, b = self.check_version(a), self.check_version(b)
        with self.snapshot() as db:
            left, right = self.live_docs(a, db), self.live_docs(b, db)
        return Diff(
            a=a,
            b=b,
            added=sorted(set(right) - set(left)),
            removed=sorted(set(left) - set(right)),
            changed=sorted(d for d in set(left) & set(right) if left[d] != right[d]),
        )

    def rollback(self, version: int) -> VersionInfo | None:
        """A new version whose live documents equal those of ``version``."""
        target_version = self.check_version(version)
        target = self.live_docs(target_version)
        current = self.live_docs(None)
        changes: dict[str, int | None] = {d: None for d in current if d not in target}
        changes.update(target)
        return self.commit_version(changes, "rollback", f"rollback to v{target_version}")

    # -- revisions --------------------------------------------------------------------------------

    def find_revision(self, doc_id: str, content_hash: str) -> int | None:
        row = self.db.execute(
            "SELECT id FROM revisions WHERE doc_id = ? AND content_hash = ?", (doc_id, content_hash)
        ).fetchone()
        return None if row is None else int(row[0])

    def known_chunks(self, hashes: Sequence[str], embedder_id: str) -> dict[str, bool]:
        """hash → whether a vector for ``embedder_id`` is cached, for the hashes already stored."""
        found: dict[str, bool] = {}
        for i in range(0, len(hashes), 500):
            part = list(hashes[i : i + 500])
            marks = ",".join("?" * len(part))
            rows = self.db.execute(
                f"SELECT c.hash, e.chunk_id IS NOT NULL FROM chunks c "
                f"LEFT JOIN embeddings e ON e.chunk_id = c.id AND e.embedder = ? WHERE c.hash IN ({marks})",
                (embedder_id, *part),
            )
            found.update((h, bool(v)) for h, v in rows)
        return found

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
        """Store one revision with its chunks, FTS rows and vectors in one transaction.

        ``vectors`` must hold a vector for every chunk hash not yet embedded by ``embedder_id``.
        The revision is not live until :meth:`commit_version` names it.
        """
        with self._write() as db:
            row = db.execute(
                "SELECT id FROM revisions WHERE doc_id = ? AND content_hash = ?", (doc.id, content_hash)
            ).fetchone()
            if row is not None:  # written by an earlier, interrupted run or another process
                return int(row[0])
            cur = db.execute(
                "INSERT INTO revisions (doc_id, content_hash, title, source, metadata, n_chars, n_chunks,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    doc.id,
                    content_hash,
                    doc.title,
                    doc.source,
                    json.dumps(doc.metadata, sort_keys=True, default=str),
                    len(doc.text),
                    len(chunks),
                    now(),
                ),
            )
            rev_id = int(cur.lastrowid or 0)
            for chunk, context, h in zip(chunks, contexts, hashes, strict=True):
                got = db.execute("SELECT id FROM chunks WHERE hash = ?", (h,)).fetchone()
                if got is None:
                    cid = int(
                        db.execute(
                            "INSERT INTO chunks (hash, context, text, n_tokens) VALUES (?, ?, ?, ?)",
                            (h, context, chunk.text, chunk.n_tokens),
                        ).lastrowid
                        or 0
                    )
                    db.execute(
                        "INSERT INTO chunks_fts (rowid, context, text) VALUES (?, ?, ?)",
                        (cid, context, chunk.text),
                    )
                else:
                    cid = int(got[0])
                if h in vectors:
                    vec = np.asarray(vectors[h], dtype=np.float32)
                    db.execute("INSERT OR IGNORE INTO embeddings VALUES (?, ?, ?)", (cid, embedder_id, vec.tobytes()))
                elif (
                    db.execute(
                        "SELECT 1 FROM embeddings WHERE chunk_id = ? AND embedder = ?", (cid, embedder_id)
                    ).fetchone()
                    is None
                ):
                    raise StoreError(f"{doc.id}: chunk {h[:12]} has no vector for {embedder_id}")
                db.execute(
                    "INSERT INTO passages (revision_id, ord, chunk_id, heading_path, start, end, page)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        rev_id,
                        chunk.ord,
                        cid,
                        json.dumps(list(chunk.heading_path)),
                        chunk.start,
                        chunk.end,
                        chunk.page,
                    ),
                )
            return rev_id

    def revision(self, revision_id: int) -> RevisionInfo:
        row = self.db.execute(
            "SELECT id, doc_id, title, source, metadata, content_hash, n_chunks, created_at "
            "FROM revisions WHERE id = ?",
            (revision_id,),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no revision {revision_id}")
        return RevisionInfo(row[0], row[1], row[2], row[3], json.loads(row[4]), row[5], row[6], row[7])

    def document(self, doc_id: str, at: int | None = None) -> tuple[RevisionInfo, list[dict[str, Any]]]:
        """A document's live revision at ``at`` and its passages in order."""
        at = self.check_version(at)
        with self.snapshot() as db:
            rev = self.live_docs(at, db).get(doc_id)
            if rev is None:
                raise NotFoundError(f"no document {doc_id!r} at version {at}")
            rows = db.execute(
                "SELECT p.ord, c.hash, c.text, p.heading_path, p.start, p.end, p.page, c.n_tokens "
                "FROM passages p JOIN chunks c ON c.id = p.chunk_id WHERE p.revision_id = ? ORDER BY p.ord",
                (rev,),
            ).fetchall()
        info = self.revision(rev)
        passages = [
            {
                "ord": r[0],
                "chunk_id": r[1],
                "text": r[2],
                "heading_path": json.loads(r[3]),
                "start": r[4],
                "end": r[5],
                "page": r[6],
                "n_tokens": r[7],
            }
            for r in rows
        ]
        return info, passages

    def history(self, doc_id: str) -> list[tuple[int, int | None, int]]:
        """(from_version, to_version, revision id) of each span a document was live."""
        rows = self.db.execute(
            "SELECT from_version, to_version, revision_id FROM live WHERE doc_id = ? ORDER BY from_version",
            (doc_id,),
        )
        return [(int(a), None if b is None else int(b), int(r)) for a, b, r in rows]

    def counts(self, embedder_id: str | None = None) -> dict[str, int]:
        """Row counts of the main tables (chunks, FTS rows and vectors must agree)."""
        db = self.db
        out = {
            name: int(db.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0])
            for name in ("chunks", "revisions", "passages", "versions")
        }
        out["fts"] = int(db.execute("SELECT COUNT(*) FROM chunks_fts_docsize").fetchone()[0])
        if embedder_id is None:
            out["vectors"] = int(db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])
        else:
            out["vectors"] = int(
                db.execute("SELECT COUNT(*) FROM embeddings WHERE embedder = ?", (embedder_id,)).fetchone()[0]
            )
        out["documents"] = len(self.live_docs(None))
        return out

    def chunks_missing_vectors(self, embedder_id: str) -> list[tuple[int, str, str]]:
        """(chunk id, context, text) of chunks with no vector from ``embedder_id``."""
        rows = self.db.execute(
            "SELECT c.id, c.context, c.text FROM chunks c WHERE NOT EXISTS "
            "(SELECT 1 FROM embeddings e WHERE e.chunk_id = c.id AND e.embedder = ?) ORDER BY c.id",
            (embedder_id,),
        )
        return [(int(a), b, c) for a, b, c in rows]

    def sample_texts(self, n: int) -> list[str]:
        """The texts of the first ``n`` chunks stored (a fixed, cheap sample, e.g. to time the embedder)."""
        return [str(r[0]) for r in self.db.execute("SELECT text FROM chunks ORDER BY id LIMIT ?", (n,))]

    def size_bytes(self) -> int:
        """Bytes the store's main file holds on disk."""
        return self.path.stat().st_size

    def backup(self, dest: Path) -> Path:
        """A consistent copy of this store in folder ``dest`` (SQLite online backup, safe while others write);
        open it as a knowledge base of its own. Returns ``dest``."""
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        target = sqlite3.connect(dest / self.path.name)
        try:
            self.db.backup(target)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: backup to {dest} failed: {exc}") from exc
        finally:
            target.close()
        return dest

    def add_vectors(self, embedder_id: str, items: Sequence[tuple[int, np.ndarray]]) -> None:
        with self._write() as db:
            db.executemany(
                "INSERT OR IGNORE INTO embeddings VALUES (?, ?, ?)",
                [(cid, embedder_id, np.asarray(v, dtype=np.float32).tobytes()) for cid, v in items],
            )
