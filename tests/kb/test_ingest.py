"""Ingest: documents → chunks → vectors → one transaction per document → one version, through the Store protocol.

A hashed bag-of-words embedder stands in for the model: what is tested is what gets written and embedded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ragtune.errors import LoaderError
from ragtune.kb.document import Document
from ragtune.kb.ingest import Ingestor
from ragtune.kb.store import Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(tmp_path / "kb", create=True)
    yield s
    s.close()


@pytest.fixture
def ingestor(store: Store, hash_embedder: Any) -> Ingestor:
    return Ingestor(store, hash_embedder, max_tokens=40, overlap_tokens=0)


SHARED = "Every plan includes email support on business days."


def docs(**texts: str) -> list[Document]:
    return [Document(doc_id, doc_id.title(), text, f"docs/{doc_id}.md") for doc_id, text in texts.items()]


def test_first_ingest_writes_every_document_in_one_version(ingestor: Ingestor, store: Store) -> None:
    report = ingestor.run(docs(plans=f"# Plans\n\nTeam costs 49.\n\n{SHARED}", sso=f"# SSO\n\nSAML.\n\n{SHARED}"))
    assert report.ok and report.version is not None and report.version.version == 1
    assert sorted(report.added) == ["plans", "sso"] and report.updated == [] == report.removed
    counts = store.counts(ingestor.embedder.id)
    assert counts["documents"] == 2 and counts["chunks"] == counts["fts"] == counts["vectors"]
    assert report.chunks_written >= 2 and report.chunks_embedded == counts["chunks"]


def test_an_unchanged_corpus_writes_and_embeds_nothing(ingestor: Ingestor, store: Store) -> None:
    corpus = docs(plans="# Plans\n\nTeam costs 49 dollars.", sso="# SSO\n\nSAML and OIDC.")
    ingestor.run(corpus)
    before = store.counts()
    again = ingestor.run(corpus)
    assert again.version is None and sorted(again.unchanged) == ["plans", "sso"]
    assert again.chunks_embedded == 0 == again.chunks_written and store.counts() == before and store.head() == 1


def test_a_changed_document_is_updated(ingestor: Ingestor, store: Store) -> None:
    ingestor.run(docs(plans=f"# Plans\n\nTeam costs 49 dollars.\n\n{SHARED}", sso="# SSO\n\nSAML."))
    report = ingestor.run(docs(plans=f"# Plans\n\nTeam costs 59 dollars.\n\n{SHARED}", sso="# SSO\n\nSAML."))
    assert report.updated == ["plans"] and report.unchanged == ["sso"] and report.version is not None
    assert "59" in " ".join(p["text"] for p in store.document("plans")[1])
    assert "49" in " ".join(p["text"] for p in store.document("plans", 1)[1])


def test_a_chunk_shared_by_documents_is_stored_and_embedded_once(ingestor: Ingestor, store: Store) -> None:
    same = [Document(doc_id, "Support", SHARED, f"docs/{doc_id}.md") for doc_id in ("a", "b")]
    report = ingestor.run(same)
    assert report.chunks_written == 2 and report.chunks_embedded == 1
    counts = store.counts()
    assert counts["chunks"] == 1 and counts["passages"] == 2 and counts["documents"] == 2


def test_restoring_old_content_reuses_its_revision(ingestor: Ingestor, store: Store) -> None:
    ingestor.run(docs(plans="# Plans\n\nTeam costs 49 dollars."))
    first = store.live_docs()["plans"]
    ingestor.run(docs(plans="# Plans\n\nTeam costs 59 dollars."))
    report = ingestor.run(docs(plans="# Plans\n\nTeam costs 49 dollars."))
    assert report.updated == ["plans"] and report.chunks_embedded == 0 == report.chunks_written
    assert store.live_docs()["plans"] == first and store.head() == 3


def test_bad_items_are_reported_and_skipped(ingestor: Ingestor, store: Store) -> None:
    items: list[Document | LoaderError] = [
        *docs(plans="# Plans\n\nTeam costs 49 dollars.", empty="   "),
        Document("plans", "Again", "A second document with the same id.", "other.md"),
        LoaderError("broken.pdf", "not a PDF"),
    ]
    report = ingestor.run(items)
    reasons = sorted(e.reason for e in report.errors)
    assert reasons == ["duplicate document id 'plans'", "no text to index", "not a PDF"]
    assert report.added == ["plans"] and list(store.live_docs()) == ["plans"]


def test_removed_files_leave_with_remove_missing(ingestor: Ingestor, store: Store, tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    corpus = [Document(n, n, f"# {n}\n\nAbout {n}.", str(root / f"{n}.md")) for n in ("a", "b")]
    ingestor.run(corpus)
    report = ingestor.run(corpus[:1], remove_missing_under=[root])
    assert report.removed == ["b"] and sorted(store.live_docs()) == ["a"]
    assert sorted(store.live_docs(1)) == ["a", "b"]  # still there in history


def test_an_interrupted_ingest_is_finished_by_running_it_again(
    ingestor: Ingestor, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = docs(plans="# Plans\n\nTeam costs 49 dollars.", sso="# SSO\n\nSAML.")

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(store, "commit_version", killed)
        with pytest.raises(KeyboardInterrupt):
            ingestor.run(corpus)
    assert store.head() == 0 and store.live_docs() == {}  # revisions staged, nothing live
    report = ingestor.run(corpus)
    assert sorted(report.added) == ["plans", "sso"] and report.version is not None
    assert report.chunks_embedded == 0  # the staged revisions were found, not embedded again
