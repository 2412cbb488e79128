"""The store's schema: numbered migrations applied in order, each recorded in its own transaction, idempotent."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from ragtune.errors import SchemaError
from ragtune.kb import schema


@pytest.fixture
def db() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    yield conn
    conn.close()


def tables(db: sqlite3.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'index')")}


def recorded(db: sqlite3.Connection) -> list[tuple[int, str]]:
    return [(int(i), n) for i, n in db.execute("SELECT id, name FROM migrations ORDER BY id")]


def test_a_fresh_store_gets_every_migration_recorded(db: sqlite3.Connection) -> None:
    assert schema.migrate(db) == len(schema.MIGRATIONS)
    assert recorded(db) == [(i, name) for i, (name, _) in enumerate(schema.MIGRATIONS, start=1)]
    assert {"chunks", "chunks_fts", "embeddings", "revisions", "passages", "versions", "live", "meta"} <= tables(db)
    assert "sentence_vectors" in tables(db)
    assert all(applied for (applied,) in db.execute("SELECT applied_at FROM migrations"))


def test_migrating_again_changes_nothing(db: sqlite3.Connection) -> None:
    schema.migrate(db)
    before = (tables(db), list(db.execute("SELECT * FROM migrations ORDER BY id")))
    assert schema.migrate(db) == len(schema.MIGRATIONS)
    assert (tables(db), list(db.execute("SELECT * FROM migrations ORDER BY id"))) == before


def test_new_migrations_apply_in_order_after_the_recorded_ones(
    db: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema.migrate(db)
    ran: list[str] = []

    def step(name: str):  # type: ignore[no-untyped-def]
        def apply(conn: sqlite3.Connection) -> None:
            assert conn.in_transaction  # the migration and its record commit together
            conn.execute(f"CREATE TABLE {name} (x)")
            ran.append(name)

        return apply

    names = [name for name, _ in schema.MIGRATIONS]
    extra = [("second", step("second")), ("third", step("third"))]
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, *extra])
    assert schema.migrate(db) == len(names) + 2
    assert ran == ["second", "third"]
    assert [n for _, n in recorded(db)] == [*names, "second", "third"]
    assert schema.migrate(db) == len(names) + 2 and ran == ["second", "third"]  # not re-run


def test_a_failing_migration_leaves_no_trace(db: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    schema.migrate(db)

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("disk on fire")

    names = [name for name, _ in schema.MIGRATIONS]
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, ("broken", broken)])
    with pytest.raises(RuntimeError):
        schema.migrate(db)
    assert "half_done" not in tables(db)
    assert [n for _, n in recorded(db)] == names


def test_a_store_from_a_newer_ragtune_is_refused(db: sqlite3.Connection) -> None:
    schema.migrate(db)
    db.execute("INSERT INTO migrations VALUES (?, 'from the future', NULL)", (len(schema.MIGRATIONS) + 1,))
    with pytest.raises(SchemaError, match="newer than this ragtune"):
        schema.migrate(db)
