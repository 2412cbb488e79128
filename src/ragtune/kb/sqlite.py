"""The SQLite store (the default :class:`~ragtune.kb.store.Store` backend): the system of record of a knowledge base.

One file (``kb.sqlite``, WAL mode). Content is written one document per transaction
(:meth:`SQLiteStore.write_revision`); which revisions are live changes only in :meth:`SQLiteStore.commit_version`,
one small transaction per ingest, removal or rollback. So a killed process leaves every document wholly
at its old revision, and staged revisions are reused when the ingest is run again.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ragtune.errors import NotFoundError, StoreError
from ragtune.kb.document import Chunk, Document
from ragtune.kb.schema import migrate, now
from ragtune.kb.store import Diff, RevisionInfo, SentenceVectors, StoredChunk, VersionInfo
from ragtune.text import STOPWORDS, WORD, with_table_header

DB_NAME = "kb.sqlite"
T = TypeVar("T")


class SQLiteStore:
    """Access to one ``kb.sqlite``; safe to share between threads (one connection per thread)."""

    def __init__(self, root: Path, *, create: bool = False) -> None:
        self.root = Path(root)
        self.path = self.root / DB_NAME
        if not self.path.exists():
            if not create:
                raise NotFoundError(f"no knowledge base at {self.root} (run `ragtune init` or pass --kb)")
            self.root.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._known_head = 0  # versions are never deleted: any 0 < v <= a head once seen stays valid
        self.schema_version = self._retry(lambda: migrate(self._db))

    # -- connections and transactions -------------------------------------------------------------

    @property
    def _db(self) -> sqlite3.Connection:
        """This thread's connection (private: callers above ``kb/`` use the Store protocol, never SQL)."""
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
        db = self._db
        self._retry(lambda: db.execute("BEGIN IMMEDIATE"))
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees one consistent state of the store."""
        db = self._db
        db.execute("BEGIN")
        try:
            yield db
        finally:
            db.execute("COMMIT")

    # -- metadata ---------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- versions ---------------------------------------------------------------------------------

    def head(self) -> int:
        """The latest version (0 for an empty knowledge base)."""
        row = self._db.execute("SELECT COALESCE(MAX(id), 0) FROM versions").fetchone()
        head = int(row[0])
        self._known_head = max(self._known_head, head)
        return head

    def check_version(self, at: int | None) -> int:
        """``at`` if it exists (None means head); NotFoundError otherwise.

        A version already known to exist is returned without asking the database, so checking a version a
        caller resolved before (``kb.ask`` does, to fail before any model loads) costs nothing."""
        if at is not None and 0 < at <= self._known_head:
            return at
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
        rows = self._db.execute(
            "SELECT id, created_at, operation, message, added, updated, removed, embedder FROM versions ORDER BY id"
        ).fetchall()
        return [VersionInfo(*row) for row in rows]

    def live_docs(self, at: int | None = None) -> dict[str, int]:
        """doc id → live revision id at version ``at`` (head when None)."""
        return self._live_docs(at, self._db)

    @staticmethod
    def _live_docs(at: int | None, db: sqlite3.Connection) -> dict[str, int]:
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
        rows = self._db.execute(
            "SELECT l.doc_id, r.content_hash FROM live l JOIN revisions r ON r.id = l.revision_id "
            "WHERE l.to_version IS NULL"
        )
        return dict(rows.fetchall())

    def live_sources(self) -> dict[str, str]:
        """doc id → source of its live revision at head (what ``--remove-missing`` checks on disk)."""
        rows = self._db.execute(
            "SELECT l.doc_id, r.source FROM live l JOIN revisions r ON r.id = l.revision_id WHERE l.to_version IS NULL"
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
        with self._snapshot() as db:
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
        self, changes: Mapping[str, int | None], operation: str, message: str = "", *, embedder: str | None = None
    ) -> VersionInfo | None:
        """Make ``changes`` (doc id → revision id, or None to remove) live as one new version.

        Applied against the head at commit time, so concurrent ingests each commit their own version. The version
        records ``embedder`` when given (``""``: the configured ``[embed] model``, stored as NULL), else the head's
        (read in the same transaction, so an ingest that raced a ``kb reembed`` lands under the new embedder; the
        index embeds any chunk it lacks a vector for).
        Returns None when nothing would change (no empty versions are written): no document changes and no new
        embedder.
        """
        with self._write() as db:
            current = self._live_docs(None, db)
            effective = {d: r for d, r in changes.items() if current.get(d) != r}
            row = db.execute("SELECT id, embedder FROM versions ORDER BY id DESC LIMIT 1").fetchone()
            head, head_embedder = (int(row[0]), row[1]) if row else (0, None)
            recorded = head_embedder if embedder is None else (embedder or None)  # "": back to the configured one
            if not effective and recorded == head_embedder:
                return None
            version = head + 1
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
            info = VersionInfo(version, now(), operation, message, added, updated, removed, recorded)
            db.execute(
                "INSERT INTO versions (id, created_at, operation, message, added, updated, removed, embedder) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                tuple(info.__dict__.values()),
            )
            return info

    def version_embedder(self, version: int) -> str | None:
        """The embedder spec ``version`` records (None: the configured ``[embed] model``, or no such version)."""
        row = self._db.execute("SELECT embedder FROM versions WHERE id = ?", (version,)).fetchone()
        return None if row is None else row[0]

    def diff(self, a: int, b: int) -> Diff:
        a, b = self.check_version(a), self.check_version(b)
        with self._snapshot() as db:
            left, right = self._live_docs(a, db), self._live_docs(b, db)
        return Diff.between(a, b, left, right)

    def rollback(self, version: int) -> VersionInfo | None:
        """A new version whose live documents equal those of ``version``, searched with its embedder (the vectors
        it was built with are still cached)."""
        target_version = self.check_version(version)
        target = self.live_docs(target_version)
        current = self.live_docs(None)
        changes: dict[str, int | None] = {d: None for d in current if d not in target}
        changes.update(target)
        embedder = self.version_embedder(target_version)
        return self.commit_version(
            changes, "rollback", f"rollback to v{target_version}", embedder="" if embedder is None else embedder
        )

    # -- revisions --------------------------------------------------------------------------------

    def find_revision(self, doc_id: str, content_hash: str) -> int | None:
        row = self._db.execute(
            "SELECT id FROM revisions WHERE doc_id = ? AND content_hash = ?", (doc_id, content_hash)
        ).fetchone()
        return None if row is None else int(row[0])

    def known_chunks(self, hashes: Sequence[str], embedder_id: str) -> dict[str, bool]:
        """hash → whether a vector for ``embedder_id`` is cached, for the hashes already stored."""
        found: dict[str, bool] = {}
        for i in range(0, len(hashes), 500):
            part = list(hashes[i : i + 500])
            marks = ",".join("?" * len(part))
            rows = self._db.execute(
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
        row = self._db.execute(
            "SELECT id, doc_id, title, source, metadata, content_hash, n_chunks, created_at "
            "FROM revisions WHERE id = ?",
            (revision_id,),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no revision {revision_id}")
        return RevisionInfo(row[0], row[1], row[2], row[3], json.loads(row[4]), row[5], row[6], row[7])

    def revision_fields(self, revision_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Per revision, the fields a filter can test: its metadata plus doc_id, title and source."""
        revs = list(revision_ids)
        fields: dict[int, dict[str, Any]] = {}
        for i in range(0, len(revs), 500):
            part = revs[i : i + 500]
            q = ",".join("?" * len(part))
            for rid, doc_id, title, source, meta in self._db.execute(
                f"SELECT id, doc_id, title, source, metadata FROM revisions WHERE id IN ({q})", part
            ):
                fields[int(rid)] = {**json.loads(meta), "doc_id": doc_id, "title": title, "source": source}
        return fields

    def document(self, doc_id: str, at: int | None = None) -> tuple[RevisionInfo, list[dict[str, Any]]]:
        """A document's live revision at ``at`` and its passages in order."""
        at = self.check_version(at)
        with self._snapshot() as db:
            rev = self._live_docs(at, db).get(doc_id)
            if rev is None:
                raise NotFoundError(f"no document {doc_id!r} at version {at}")
            rows = db.execute(
                "SELECT p.ord, c.hash, c.text, p.heading_path, p.start, p.end, p.page, c.n_tokens, c.context "
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
                "context": r[8],
            }
            for r in rows
        ]
        return info, passages

    def history(self, doc_id: str) -> list[tuple[int, int | None, int]]:
        """(from_version, to_version, revision id) of each span a document was live."""
        rows = self._db.execute(
            "SELECT from_version, to_version, revision_id FROM live WHERE doc_id = ? ORDER BY from_version",
            (doc_id,),
        )
        return [(int(a), None if b is None else int(b), int(r)) for a, b, r in rows]

    def counts(self, embedder_id: str | None = None) -> dict[str, int]:
        """Row counts of the main tables (chunks, FTS rows and vectors must agree)."""
        db = self._db
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
        rows = self._db.execute(
            "SELECT c.id, c.context, c.text FROM chunks c WHERE NOT EXISTS "
            "(SELECT 1 FROM embeddings e WHERE e.chunk_id = c.id AND e.embedder = ?) ORDER BY c.id",
            (embedder_id,),
        )
        return [(int(a), b, c) for a, b, c in rows]

    # -- what the query-time index reads ----------------------------------------------------------

    def chunks_since(self, after_id: int, embedder_id: str, limit: int) -> list[StoredChunk]:
        """Up to ``limit`` chunks with id > ``after_id``, in id order, with their ``embedder_id`` vector if any."""
        rows = self._db.execute(
            "SELECT c.id, c.context, c.text, e.vector FROM chunks c LEFT JOIN embeddings e "
            "ON e.chunk_id = c.id AND e.embedder = ? WHERE c.id > ? ORDER BY c.id LIMIT ?",
            (embedder_id, after_id, limit),
        ).fetchall()
        return [
            (int(cid), ctx, text, None if vec is None else np.frombuffer(vec, dtype=np.float32))
            for cid, ctx, text, vec in rows
        ]

    def chunk_count(self, up_to_id: int) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM chunks WHERE id <= ?", (up_to_id,)).fetchone()[0])

    def live_passages(self, version: int) -> np.ndarray:
        """int64 ``[n, 3]``: (passage id, chunk id, revision id) of every passage live at ``version``, by id."""
        rows = self._db.execute(
            "SELECT p.id, p.chunk_id, p.revision_id FROM live l JOIN passages p ON p.revision_id = l.revision_id "
            "WHERE l.from_version <= ?1 AND (l.to_version IS NULL OR l.to_version > ?1) ORDER BY p.id",
            (version,),
        ).fetchall()
        return np.array(rows, dtype=np.int64).reshape(-1, 3)

    def passages(self, passage_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """passage id → the fields of a ``Passage`` (bar rank, score, version and per-leg scores)."""
        out: dict[int, dict[str, Any]] = {}
        ids = list(passage_ids)
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            marks = ",".join("?" * len(part))
            for r in self._db.execute(
                "SELECT p.id, r.doc_id, c.hash, c.text, r.title, r.source, p.heading_path, p.page, p.start, "
                "p.end, r.id, c.context, r.metadata FROM passages p JOIN revisions r ON r.id = p.revision_id "
                f"JOIN chunks c ON c.id = p.chunk_id WHERE p.id IN ({marks})",
                part,
            ):
                out[int(r[0])] = {
                    "doc_id": r[1],
                    "chunk_id": r[2],
                    "text": r[3],
                    "title": r[4],
                    "source": r[5],
                    "heading_path": json.loads(r[6]),
                    "page": r[7],
                    "start": r[8],
                    "end": r[9],
                    "revision_id": r[10],
                    "context": r[11],
                    "metadata": json.loads(r[12]),
                }
        return out

    def keyword_candidates(self, text: str, limit: int) -> list[tuple[int, float]]:
        """(chunk id, BM25 score) of the ``limit`` best FTS5 matches for ``text`` (any word; best first)."""
        expr = fts5_query(text)
        if not expr:
            return []
        rows = self._db.execute(
            "SELECT rowid, -bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?",
            (expr, limit),
        ).fetchall()
        return [(int(cid), float(score)) for cid, score in rows]

    # -- the store as a whole ---------------------------------------------------------------------

    def sample_texts(self, n: int) -> list[str]:
        """The texts of the first ``n`` chunks stored (a fixed, cheap sample, e.g. to time the embedder)."""
        return [str(r[0]) for r in self._db.execute("SELECT text FROM chunks ORDER BY id LIMIT ?", (n,))]

    def size_bytes(self, *, journal: bool = False) -> int:
        """Bytes of the database file on disk (``journal``: with its write-ahead log and shared-memory files)."""
        if not journal:
            return self.path.stat().st_size
        return sum(f.stat().st_size for f in self.root.glob(DB_NAME + "*"))

    def backup(self, dest: Path) -> Path:
        """A consistent copy of this store in folder ``dest`` (SQLite online backup, safe while others write);
        open it as a knowledge base of its own. Returns ``dest``."""
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        target = sqlite3.connect(dest / self.path.name)
        try:
            self._db.backup(target)
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

    # -- sentence vectors -------------------------------------------------------------------------

    def chunks_missing_sentence_vectors(self, embedder_id: str, limit: int) -> list[tuple[int, str]]:
        """Up to ``limit`` (chunk id, text) of chunks with no sentence vectors from ``embedder_id``, by id; the
        text of a chunk that continues a table is preceded by the table's header row (``with_table_header``)."""
        rows = self._db.execute(
            "SELECT c.id, c.text, c.context FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM sentence_vectors s "
            "WHERE s.chunk_id = c.id AND s.embedder = ?) ORDER BY c.id LIMIT ?",
            (embedder_id, limit),
        )
        return [(int(a), with_table_header(str(c), str(b))) for a, b, c in rows]

    def add_sentence_vectors(self, embedder_id: str, items: Sequence[SentenceVectors]) -> None:
        """Each chunk's candidate texts (JSON) and vectors (float16, ``[n, dim]``) in one transaction."""
        rows = []
        for cid, texts, vectors in items:
            vecs = np.asarray(vectors, dtype=np.float16)
            if vecs.shape[0] != len(texts):
                raise StoreError(f"chunk {cid}: {len(texts)} sentence texts but {vecs.shape[0]} vectors")
            rows.append((cid, embedder_id, json.dumps(list(texts), ensure_ascii=False), vecs.tobytes()))
        with self._write() as db:
            db.executemany("INSERT OR IGNORE INTO sentence_vectors VALUES (?, ?, ?, ?)", rows)

    def sentence_vectors(
        self, chunk_hashes: Sequence[str], embedder_id: str
    ) -> dict[str, tuple[list[str], np.ndarray]]:
        """chunk hash → (candidate texts, float32 vectors ``[n, dim]``) for the chunks that have them."""
        out: dict[str, tuple[list[str], np.ndarray]] = {}
        hashes = list(dict.fromkeys(chunk_hashes))
        for i in range(0, len(hashes), 500):
            part = hashes[i : i + 500]
            marks = ",".join("?" * len(part))
            for h, texts, blob in self._db.execute(
                "SELECT c.hash, s.texts, s.vectors FROM chunks c JOIN sentence_vectors s ON s.chunk_id = c.id "
                f"AND s.embedder = ? WHERE c.hash IN ({marks})",
                (embedder_id, *part),
            ):
                names = json.loads(texts)
                vecs = np.frombuffer(blob, dtype=np.float16).astype(np.float32).reshape(len(names), -1)
                vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)  # unit again after float16
                out[str(h)] = (names, vecs)
        return out


def fts5_query(query: str) -> str:
    """A safe FTS5 MATCH expression: every word quoted, OR-ed (BM25 semantics, not AND)."""
    words = [w for w in WORD.findall(query.lower()) if w not in STOPWORDS]
    return " OR ".join(f'"{w}"' for w in words)
