"""The store's schema, as numbered migrations.

Each migration runs in the same transaction as the row that records it, so a store is always at a
whole migration. Tables:

- ``chunks``: content-addressed passages (``hash`` of the normalized context + text), immutable.
- ``chunks_fts``: FTS5 over chunks (external content), one row per chunk, same rowid.
- ``embeddings``: vector cache keyed by (chunk, embedder id).
- ``revisions``: one per distinct content of a document; ``passages``: a revision's chunks in order,
  with heading path, character span and page.
- ``sentence_vectors`` (migration 2): per (chunk, embedder id), the texts of the chunk's candidate answer
  sentences (``ragtune.text.answer_candidates``, JSON) and their vectors (float16 ``[n, dim]``), filled at
  ingest so the extractive answerer needs no model call.
- ``versions``: the KB's linear history; ``live``: which revision of each document is live over which
  versions (``from_version <= v < to_version``; ``to_version`` NULL while live at head).
- ``versions.embedder`` (migration 3): the embedder spec (a model name or path, as ``[embed] model`` takes it)
  whose vectors a version is searched with; NULL means the configured ``[embed] model`` (every version written
  before it, and every version of a knowledge base never re-embedded). ``kb reembed`` writes one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timezone

from ragtune.errors import SchemaError


def _run_script(db: sqlite3.Connection, script: str) -> None:
    """Run statements one by one: ``executescript`` would COMMIT the migration's transaction."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _m1_initial(db: sqlite3.Connection) -> None:
    _run_script(
        db,
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE chunks (
            id INTEGER PRIMARY KEY,
            hash TEXT NOT NULL UNIQUE,
            context TEXT NOT NULL,
            text TEXT NOT NULL,
            n_tokens INTEGER NOT NULL
        );
        CREATE VIRTUAL TABLE chunks_fts USING fts5(
            context, text, content='chunks', content_rowid='id',
            tokenize='porter unicode61 remove_diacritics 2'
        );
        CREATE TABLE embeddings (
            chunk_id INTEGER NOT NULL REFERENCES chunks(id),
            embedder TEXT NOT NULL,
            vector BLOB NOT NULL,
            PRIMARY KEY (chunk_id, embedder)
        ) WITHOUT ROWID;
        CREATE TABLE revisions (
            id INTEGER PRIMARY KEY,
            doc_id TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            title TEXT NOT NULL,
            source TEXT NOT NULL,
            metadata TEXT NOT NULL,
            n_chars INTEGER NOT NULL,
            n_chunks INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (doc_id, content_hash)
        );
        CREATE TABLE passages (
            id INTEGER PRIMARY KEY,
            revision_id INTEGER NOT NULL REFERENCES revisions(id),
            ord INTEGER NOT NULL,
            chunk_id INTEGER NOT NULL REFERENCES chunks(id),
            heading_path TEXT NOT NULL,
            start INTEGER NOT NULL,
            end INTEGER NOT NULL,
            page INTEGER,
            UNIQUE (revision_id, ord)
        );
        CREATE TABLE versions (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            operation TEXT NOT NULL,
            message TEXT NOT NULL,
            added INTEGER NOT NULL,
            updated INTEGER NOT NULL,
            removed INTEGER NOT NULL
        );
        CREATE TABLE live (
            doc_id TEXT NOT NULL,
            revision_id INTEGER NOT NULL REFERENCES revisions(id),
            from_version INTEGER NOT NULL,
            to_version INTEGER,
            PRIMARY KEY (doc_id, from_version)
        );
        CREATE INDEX live_open ON live (to_version, doc_id);
        CREATE INDEX live_revision ON live (revision_id);
        """,
    )


def _m2_sentence_vectors(db: sqlite3.Connection) -> None:
    _run_script(
        db,
        """
        CREATE TABLE sentence_vectors (
            chunk_id INTEGER NOT NULL REFERENCES chunks(id),
            embedder TEXT NOT NULL,
            texts TEXT NOT NULL,
            vectors BLOB NOT NULL,
            PRIMARY KEY (chunk_id, embedder)
        ) WITHOUT ROWID
        """,
    )


def _m3_version_embedder(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE versions ADD COLUMN embedder TEXT")


MIGRATIONS: list[tuple[str, Callable[[sqlite3.Connection], None]]] = [
    ("initial", _m1_initial),
    ("sentence_vectors", _m2_sentence_vectors),
    ("version_embedder", _m3_version_embedder),
]


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def migrate(db: sqlite3.Connection) -> int:
    """Bring the store's schema up to date; return its schema version."""
    db.execute("CREATE TABLE IF NOT EXISTS migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT)")
    done = {row[0] for row in db.execute("SELECT id FROM migrations")}
    if done and max(done) > len(MIGRATIONS):
        raise SchemaError(
            f"this store has schema version {max(done)}, newer than this ragtune ({len(MIGRATIONS)}); upgrade"
        )
    for number, (name, apply) in enumerate(MIGRATIONS, start=1):
        if number in done:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while we waited for the lock.
            if db.execute("SELECT 1 FROM migrations WHERE id = ?", (number,)).fetchone() is None:
                apply(db)
                db.execute("INSERT INTO migrations VALUES (?, ?, ?)", (number, name, now()))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)
