"""The Store protocol, exercised against the SQLite backend: versions, live sets, reads at a version, rollback,
backup, the query-time reads, and choosing a backend by name or URL.

Revisions are written through the store API with small made-up vectors: these tests are about bookkeeping,
so no embedding model is loaded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ragtune.config import Settings, StoreSettings
from ragtune.errors import ConfigError, NotFoundError, StoreError
from ragtune.kb.doc_context import chunk_context
from ragtune.kb.document import Chunk, Document
from ragtune.kb.sqlite import SQLiteStore
from ragtune.kb.store import Store, chunk_hash, open_store, register_store, sqlite_location, unregister_store
from ragtune.knowledge_base import KnowledgeBase

EMBEDDER = "test-vectors"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(tmp_path / "kb", create=True)
    yield s
    s.close()


def put(store: Store, doc_id: str, *paragraphs: str, source: str = "", **metadata: object) -> int:
    """Write one revision of ``doc_id`` (one chunk per paragraph); returns its revision id (not yet live)."""
    doc = Document(doc_id, doc_id.title(), "\n\n".join(paragraphs), source or f"docs/{doc_id}", dict(metadata))
    chunks, start = [], 0
    for i, text in enumerate(paragraphs):
        chunks.append(Chunk(doc_id, i, text, start, start + len(text), ("Heading",), None, len(text.split())))
        start += len(text) + 2
    contexts = [chunk_context(doc, c.heading_path, c.table_header) for c in chunks]
    hashes = [chunk_hash(ctx, c.text) for ctx, c in zip(contexts, chunks, strict=True)]
    vectors = {h: np.full(4, float(len(h) + i), dtype=np.float32) for i, h in enumerate(hashes)}
    return store.write_revision(doc, "|".join(paragraphs), chunks, contexts, hashes, vectors, EMBEDDER)


@pytest.fixture
def history(store: Store) -> Store:
    """v1: a, b · v2: a changed, c added · v3: b removed."""
    a1, b1 = put(store, "a", "Alpha one."), put(store, "b", "Bravo one.", team="blue")
    store.commit_version({"a": a1, "b": b1}, "ingest", "first")
    a2, c1 = put(store, "a", "Alpha two.", "Alpha extra."), put(store, "c", "Charlie one.")
    store.commit_version({"a": a2, "c": c1}, "ingest", "second")
    store.commit_version({"b": None}, "remove", "drop b")
    return store


def test_the_sqlite_backend_implements_the_protocol(store: Store) -> None:
    assert isinstance(store, SQLiteStore) and isinstance(store, Store)
    assert store.head() == 0 and store.versions() == [] and store.live_docs() == {}


def test_versions_and_live_sets(history: Store) -> None:
    s = history
    assert s.head() == 3
    assert [(v.version, v.operation, v.added, v.updated, v.removed) for v in s.versions()] == [
        (1, "ingest", 2, 0, 0),
        (2, "ingest", 1, 1, 0),
        (3, "remove", 0, 0, 1),
    ]
    assert sorted(s.live_docs(1)) == ["a", "b"]
    assert sorted(s.live_docs(2)) == ["a", "b", "c"]
    assert sorted(s.live_docs()) == sorted(s.live_docs(3)) == ["a", "c"]
    assert s.live_docs(1)["a"] != s.live_docs(2)["a"]
    assert s.live_sources() == {"a": "docs/a", "c": "docs/c"}
    assert s.live_hashes()["a"] == "Alpha two.|Alpha extra."
    assert len(s.live_chunks(["a"], 1)["a"]) == 1 and len(s.live_chunks(["a"])["a"]) == 2
    assert "b" not in s.live_chunks(["b"]) and set(s.live_chunks(None, 2)) == {"a", "b", "c"}
    assert s.history("a") == [(1, 2, s.live_docs(1)["a"]), (2, None, s.live_docs()["a"])]
    d = s.diff(1, 3)
    assert (d.added, d.removed, d.changed) == (["c"], ["b"], ["a"])


def test_check_version(history: Store) -> None:
    s = history
    assert s.check_version(None) == 3 and s.check_version(2) == 2 and s.check_version(-1) == 2
    with pytest.raises(NotFoundError, match=r"versions 1\.\.3"):
        s.check_version(4)
    empty = open_store(s.root.parent / "empty", create=True)
    try:
        assert empty.check_version(None) == 0 and empty.check_version(0) == 0
        with pytest.raises(NotFoundError, match="empty"):
            empty.check_version(1)
    finally:
        empty.close()


def test_a_version_committed_elsewhere_is_found(tmp_path: Path) -> None:
    first = open_store(tmp_path / "kb", create=True)
    other = open_store(tmp_path / "kb")
    first.commit_version({"a": put(first, "a", "Alpha one.")}, "ingest")
    assert other.check_version(None) == 1
    first.commit_version({"b": put(first, "b", "Bravo.")}, "ingest")
    assert other.check_version(2) == 2  # not answered from what this handle saw before
    first.close()
    other.close()


def test_reads_at_a_version(history: Store) -> None:
    s = history
    old, passages = s.document("a", 1)
    assert old.doc_id == "a" and [p["text"] for p in passages] == ["Alpha one."]
    new, passages = s.document("a")
    assert [p["text"] for p in passages] == ["Alpha two.", "Alpha extra."] and new.revision_id != old.revision_id
    with pytest.raises(NotFoundError):
        s.document("b")  # removed at head ...
    assert s.document("b", 2)[0].metadata == {"team": "blue"}  # ... but still readable where it was live
    assert s.revision(new.revision_id) == new
    fields = s.revision_fields([old.revision_id, s.live_docs(1)["b"]])
    assert fields[s.live_docs(1)["b"]] == {"team": "blue", "doc_id": "b", "title": "B", "source": "docs/b"}


def test_commit_without_changes_writes_no_version(history: Store) -> None:
    assert history.commit_version(dict(history.live_docs()), "ingest") is None
    assert history.head() == 3
    with pytest.raises(StoreError, match="does not exist"):
        history.commit_version({"z": 9999}, "ingest")


def test_rollback_makes_a_new_version_equal_to_the_old_one(history: Store) -> None:
    info = history.rollback(1)
    assert info is not None and info.version == 4 and info.operation == "rollback"
    assert history.live_docs(4) == history.live_docs(1)
    assert sorted(history.live_docs(3)) == ["a", "c"]  # the past is not rewritten
    assert history.rollback(4) is None  # already equal: nothing to commit


def test_query_time_reads(history: Store) -> None:
    s = history
    live = s.live_passages(2)
    assert live.dtype == np.int64 and live.shape == (4, 3)  # a (2 chunks), b, c
    assert list(live[:, 0]) == sorted(live[:, 0])
    fields = s.passages(live[:, 0].tolist())
    assert {f["text"] for f in fields.values()} == {"Alpha two.", "Alpha extra.", "Bravo one.", "Charlie one."}
    one = next(f for f in fields.values() if f["text"] == "Bravo one.")
    assert one["doc_id"] == "b" and one["heading_path"] == ["Heading"] and one["metadata"] == {"team": "blue"}
    assert one["context"] == "B › Heading" and len(one["chunk_id"]) == 32
    chunks = s.chunks_since(0, EMBEDDER, 2) + s.chunks_since(2, EMBEDDER, 100)
    assert [c[0] for c in chunks] == [1, 2, 3, 4, 5]
    assert all(c[3] is not None and c[3].shape == (4,) for c in chunks)
    assert all(c[3] is None for c in s.chunks_since(0, "another-embedder", 100))
    hits = s.keyword_candidates("charlie", 10)
    assert len(hits) == 1 and fields[live[live[:, 1] == hits[0][0]][0, 0]]["text"] == "Charlie one."
    assert s.keyword_candidates("the of and", 10) == []  # stopwords only: nothing to match


def test_vectors_and_counts(history: Store) -> None:
    s = history
    assert s.chunks_missing_vectors(EMBEDDER) == []
    missing = s.chunks_missing_vectors("other")
    assert len(missing) == 5
    s.add_vectors("other", [(cid, np.ones(4, np.float32)) for cid, _, _ in missing])
    assert s.chunks_missing_vectors("other") == []
    counts = s.counts(EMBEDDER)
    assert counts == {**counts, "chunks": 5, "fts": 5, "vectors": 5, "revisions": 4, "versions": 3, "documents": 2}
    known = s.known_chunks([f["chunk_id"] for f in s.passages(s.live_passages(3)[:, 0].tolist()).values()], EMBEDDER)
    assert len(known) == 3 and all(known.values())
    assert s.sample_texts(2) == ["Alpha one.", "Bravo one."]
    s.set_meta("k", "v")
    assert s.get_meta("k") == "v" and s.get_meta("nope") is None


def test_backup_is_a_whole_store_of_its_own(history: Store, tmp_path: Path) -> None:
    dest = history.backup(tmp_path / "copy")
    assert dest == tmp_path / "copy"
    copy = open_store(dest)
    try:
        assert [v.as_dict() for v in copy.versions()] == [v.as_dict() for v in history.versions()]
        assert copy.document("a", 1)[1] == history.document("a", 1)[1]
        copy.commit_version({"a": None}, "remove")
        assert history.head() == 3  # the copy is independent
        assert copy.size_bytes() > 0 and history.size_bytes(journal=True) >= history.size_bytes()
    finally:
        copy.close()


def test_a_missing_store_is_not_created_unless_asked(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no knowledge base"):
        open_store(tmp_path / "nothing")
    assert not (tmp_path / "nothing").exists()


# -- backends by name -----------------------------------------------------------------------------


def test_backend_by_name_and_by_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    by_name = open_store(tmp_path / "a", StoreSettings(backend="sqlite"), create=True)
    assert isinstance(by_name, SQLiteStore) and by_name.root == tmp_path / "a"
    by_name.close()
    by_url = open_store(tmp_path / "ignored", StoreSettings(url=f"sqlite:///{tmp_path}/b"), create=True)
    assert isinstance(by_url, SQLiteStore) and by_url.root == tmp_path / "b"
    by_url.close()
    monkeypatch.chdir(tmp_path)
    assert sqlite_location("sqlite:///rel/kb") == Path("rel/kb")
    assert sqlite_location("sqlite:////abs/kb") == Path("/abs/kb")
    assert sqlite_location("sqlite:///rel/kb/kb.sqlite") == Path("rel/kb")


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        (StoreSettings(backend="cassandra"), "[store] backend = 'cassandra'"),
        (StoreSettings(url="mongodb://db/kb"), "[store] url = 'mongodb://db/kb'"),
        (StoreSettings(url="just/a/path"), "[store] url = 'just/a/path'"),
    ],
)
def test_an_unknown_backend_is_a_config_error_naming_the_setting(
    tmp_path: Path, settings: StoreSettings, named: str
) -> None:
    with pytest.raises(ConfigError) as err:
        open_store(tmp_path, settings, create=True)
    assert named in str(err.value)
    assert not (tmp_path / "kb.sqlite").exists()


def test_a_registered_backend_is_what_knowledge_base_open_uses(tmp_path: Path, hash_embedder: object) -> None:
    opened: list[tuple[Path, str, bool]] = []

    def recording(root: Path, *, url: str, create: bool) -> Store:
        opened.append((root, url, create))
        return SQLiteStore(root, create=create)

    register_store("recording", recording)
    try:
        settings = Settings(store=StoreSettings(backend="recording"))
        with KnowledgeBase.open(tmp_path / "kb", create=True, settings=settings, embedder=hash_embedder) as kb:  # type: ignore[arg-type]
            assert kb.head == 0
        with KnowledgeBase.open(
            tmp_path / "kb",
            settings=Settings(store=StoreSettings(url="RECORDING://x")),
            embedder=hash_embedder,  # type: ignore[arg-type]
        ):
            pass
    finally:
        unregister_store("recording")
    assert opened == [(tmp_path / "kb", "", True), (tmp_path / "kb", "RECORDING://x", False)]
    with pytest.raises(ConfigError, match="unknown store backend 'recording'"):
        KnowledgeBase.open(tmp_path / "kb", settings=Settings(store=StoreSettings(backend="recording")))


def test_the_backend_setting_comes_from_ragtune_toml_and_the_environment(hermetic: Path) -> None:
    from ragtune.config import load_settings

    (hermetic / "ragtune.toml").write_text('[store]\nbackend = "custom"\n', encoding="utf-8")
    assert load_settings().store == StoreSettings(backend="custom")
    assert load_settings(env={"RAGTUNE_STORE_URL": "sqlite:///x"}).store.url == "sqlite:///x"
