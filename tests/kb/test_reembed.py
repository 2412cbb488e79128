"""``kb reembed``: a version searched with another embedder, every other version with its own, vectors cached."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ragtune.config import Settings
from ragtune.embed import register_embedder, unregister_embedder
from ragtune.errors import EmbedderError
from ragtune.kb.doc_context import indexed_text
from ragtune.knowledge_base import KnowledgeBase

DOCS = {
    "plans.md": "# Plans\n\nThe Team plan costs 49 dollars per month and includes ten seats.\n",
    "refunds.md": "# Refunds\n\nRefunds are issued within 14 days of a cancelled subscription.\n",
    "setup.md": "# Setup\n\nInstall the desktop agent, then sign in with your workspace address.\n",
}


class SaltedHash:
    """A bag-of-words embedder like the suite's HashEmbedder but with its own buckets (``salt``): its vectors and
    rankings differ, which is what tells which embedder a search used. Counts the texts it embeds."""

    dim = 64
    max_tokens = 256

    def __init__(self, salt: str) -> None:
        self.salt = salt
        self.id = f"salted-{salt}"
        self.embedded = 0

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        self.embedded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, zlib.crc32((self.salt + word.strip(".,?!#")).encode()) % self.dim] += 1.0
            out[i, 0] += 1e-3
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(t.split()) for t in texts]


_MADE: dict[str, SaltedHash] = {}  # load_embedder caches what a factory returns for the whole session: so do we


@pytest.fixture
def salted() -> Iterator[dict[str, SaltedHash]]:
    """``salted:NAME`` embedder specs, one instance per name (counts accumulate: compare before and after)."""

    def factory(model: str, **settings: Any) -> SaltedHash:
        return _MADE.setdefault(model, SaltedHash(model))

    register_embedder("salted", factory)
    yield _MADE
    unregister_embedder("salted")


@pytest.fixture
def kb(tmp_path: Path, salted: dict[str, SaltedHash]) -> Iterator[KnowledgeBase]:
    """A KB whose configured embedder is ``salted:base``, with the three documents at version 1."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text)
    settings = Settings().replace("embed", model="salted:base").replace("answer", sentence_vectors=False)
    with KnowledgeBase.open(tmp_path / "kb", create=True, settings=settings) as opened:
        opened.ingest([docs])
        yield opened


def dense_scores(kb: KnowledgeBase, query: str, at: int) -> dict[str, float]:
    return {p.doc_id: p.score for p in kb.search(query, k=3, mode="dense", at=at)}


def expected_scores(kb: KnowledgeBase, embedder: SaltedHash, query: str, at: int) -> dict[str, float]:
    """The cosine of the query and each live chunk under ``embedder``: what a dense search with it scores."""
    out = {}
    for doc_id in kb.documents(at):
        _, passages = kb.document(doc_id, at)
        text = indexed_text(passages[0]["context"], passages[0]["text"])
        out[doc_id] = float(embedder.embed_query(query) @ embedder.embed([text])[0])
    return out


def test_reembed_writes_a_version_with_the_same_documents_that_records_the_embedder(
    kb: KnowledgeBase, salted: dict[str, SaltedHash]
) -> None:
    report = kb.reembed("salted:tuned")
    assert report.version is not None and report.version.version == 2
    assert report.version.operation == "reembed" and report.version.embedder == "salted:tuned"
    assert (report.version.added, report.version.updated, report.version.removed) == (0, 0, 0)
    assert kb.documents(2) == kb.documents(1)
    assert [v.embedder for v in kb.versions()] == [None, "salted:tuned"]
    assert report.embedder_id == "salted-tuned" and report.chunks_embedded == report.chunks == 3
    assert kb.search_embedder.id == "salted-tuned" and kb.embedder.id == "salted-base"
    assert kb.status()["embedder"] == "salted:tuned"


def test_each_version_is_searched_with_its_own_embedder(kb: KnowledgeBase, salted: dict[str, SaltedHash]) -> None:
    kb.reembed("salted:tuned")
    query = "how many days for a refund"
    before, after = dense_scores(kb, query, at=1), dense_scores(kb, query, at=2)
    assert before == pytest.approx(expected_scores(kb, salted["base"], query, 1), abs=1e-3)
    assert after == pytest.approx(expected_scores(kb, salted["tuned"], query, 2), abs=1e-3)
    assert before != pytest.approx(after, abs=1e-3)
    # A fresh process (new KB object) reads the embedder from the version, not from memory.
    with KnowledgeBase.open(kb.path, settings=kb.settings) as again:
        assert dense_scores(again, query, at=2) == pytest.approx(after, abs=1e-3)
        assert dense_scores(again, query, at=1) == pytest.approx(before, abs=1e-3)


def test_rollback_searches_with_the_old_embedder(kb: KnowledgeBase, salted: dict[str, SaltedHash]) -> None:
    kb.reembed("salted:tuned")
    query = "install the agent"
    rolled = kb.rollback(1)
    assert rolled is not None and rolled.version == 3 and rolled.embedder is None
    assert kb.search_embedder.id == "salted-base"
    assert dense_scores(kb, query, at=3) == pytest.approx(dense_scores(kb, query, at=1), abs=1e-6)
    assert kb.rollback(1) is None  # identical documents and embedder: no new version


def test_nothing_is_embedded_twice(kb: KnowledgeBase, salted: dict[str, SaltedHash]) -> None:
    first = kb.reembed("salted:tuned")
    embedded = salted["tuned"].embedded
    assert first.chunks_embedded == 3 and embedded >= 4  # the probe text and the three chunks
    back = kb.reembed("salted:base")  # the configured one: recorded as such, its vectors still cached
    assert back.version is not None and back.version.embedder is None and back.chunks_embedded == 0
    again = kb.reembed("salted:tuned")
    assert again.version is not None and again.chunks_embedded == 0
    assert salted["tuned"].embedded == embedded + 1  # only the probe text
    assert kb.reembed("salted:tuned").version is None  # the head already uses it


def test_an_ingest_after_reembed_embeds_with_the_head_embedder_and_keeps_documents(
    kb: KnowledgeBase, tmp_path: Path, salted: dict[str, SaltedHash]
) -> None:
    kb.reembed("salted:tuned")
    base_before = salted["base"].embedded
    docs = tmp_path / "docs"
    (docs / "sso.md").write_text("# Single sign-on\n\nSAML single sign-on is available on the Business plan.\n")
    report = kb.ingest([docs])
    assert sorted(report.added) == ["sso.md"] and len(report.unchanged) == 3  # chunking (and hashes) unchanged
    assert report.version is not None and report.version.embedder == "salted:tuned"
    assert salted["base"].embedded == base_before  # the configured model only counted tokens
    hits = kb.search("SAML sign-on", k=1, mode="dense")
    assert hits[0].doc_id == "sso.md"
    assert kb.store.counts("salted-tuned")["vectors"] == 4


def test_a_bad_embedder_fails_clearly_and_changes_nothing(kb: KnowledgeBase) -> None:
    before = (kb.versions(), kb.store.counts())
    with pytest.raises(EmbedderError, match="no-such-model"):
        kb.reembed("/nonexistent/no-such-model")
    assert (kb.versions(), kb.store.counts()) == before


def test_a_tuned_embedder_name_resolves_to_its_folder_in_the_kb(kb: KnowledgeBase) -> None:
    folder = kb.path / "embedders" / "support-retriever"
    assert kb.resolve_embedder("support-retriever") == "support-retriever"  # no such folder: passed through
    folder.mkdir(parents=True)
    (folder / "modules.json").write_text("[]")
    assert kb.resolve_embedder("support-retriever") == str(folder)
    assert kb.resolve_embedder("salted:tuned") == "salted:tuned"
