"""KnowledgeBase end to end with the real embedder: ingest, versions, time travel, diff, rollback, filters.

Every test builds a small help-center corpus in tmp_path, one distinct fact per file, so which passages a
query may return at a given version can be written down by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ragtune.config import Settings
from ragtune.embed import Embedder
from ragtune.errors import NotFoundError, SearchError
from ragtune.kb.document import Document
from ragtune.knowledge_base import KnowledgeBase

pytestmark = pytest.mark.usefixtures("hermetic")

OpenKB = Callable[[Path], KnowledgeBase]

CORPUS = {
    "billing/plans.md": "# Plans\n\nThe Team plan costs 49 dollars per month and includes ten seats.\n",
    "billing/refunds.md": "# Refunds\n\nRefunds are issued within 14 days of a cancelled subscription.\n",
    "guides/setup.md": "# Setup\n\nInstall the desktop agent, then sign in with your workspace address.\n",
    "guides/sso.md": "# Single sign-on\n\nSingle sign-on supports SAML and OpenID Connect identity providers.\n",
    "security.md": "# Security\n\nCustomer data is encrypted at rest with AES-256 and backed up nightly.\n",
}
PLANS_V2 = "# Plans\n\nThe Team plan costs 59 dollars per month and includes twelve seats.\n"
API_DOC = "# API\n\nThe REST API allows 600 requests per minute for each access token.\n"


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    write(root, CORPUS)
    return root


@pytest.fixture
def kb(open_kb: OpenKB, tmp_path: Path, docs: Path) -> KnowledgeBase:
    """A KB with CORPUS ingested as version 1."""
    kb = open_kb(tmp_path / "kb")
    report = kb.ingest([docs])
    assert report.ok, report.errors
    assert report.version is not None and report.version.version == 1
    assert sorted(report.added) == sorted(CORPUS)
    return kb


def everything(kb: KnowledgeBase, at: int | None = None) -> set[tuple[str, str]]:
    """(doc id, text) of every passage a broad search returns (k far above the corpus size)."""
    return {(p.doc_id, p.text) for p in kb.search("information about the product", k=500, at=at)}


def passages_of(kb: KnowledgeBase, doc_ids: list[str], at: int) -> set[tuple[str, str]]:
    return {(d, p["text"]) for d in doc_ids for p in kb.document(d, at=at)[1]}


def top_text(kb: KnowledgeBase, query: str, at: int | None = None, **filters: str) -> str:
    hits = kb.search(query, k=1, at=at, filters=filters or None)
    assert hits, f"no result for {query!r} at {at}"
    return hits[0].text


# -- ingest ---------------------------------------------------------------------------------------------


def test_reingesting_an_unchanged_corpus_writes_nothing(kb: KnowledgeBase, docs: Path, embedder: Embedder) -> None:
    before = kb.store.counts(embedder.id)
    report = kb.ingest([docs])
    assert report.version is None
    assert (report.chunks_written, report.chunks_embedded) == (0, 0)
    assert (report.added, report.updated, report.removed, report.errors) == ([], [], [], [])
    assert sorted(report.unchanged) == sorted(CORPUS)
    assert kb.store.counts(embedder.id) == before
    assert kb.head == 1 and len(kb.versions()) == 1


def test_store_counts_agree_after_ingest(kb: KnowledgeBase, embedder: Embedder) -> None:
    counts = kb.store.counts(embedder.id)
    assert counts["documents"] == len(CORPUS)
    assert counts["chunks"] == counts["fts"] == counts["vectors"] > 0
    assert kb.store.chunks_missing_vectors(embedder.id) == []
    assert kb.store._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_editing_one_file_makes_one_version_with_that_document_updated(kb: KnowledgeBase, docs: Path) -> None:
    (docs / "billing/plans.md").write_text(PLANS_V2, encoding="utf-8")
    report = kb.ingest([docs])
    assert report.version is not None and report.version.version == 2
    assert report.updated == ["billing/plans.md"]
    assert (report.added, report.removed) == ([], [])
    assert len(report.unchanged) == len(CORPUS) - 1
    assert report.chunks_written == report.chunks_embedded == 1
    assert (report.version.added, report.version.updated, report.version.removed) == (0, 1, 0)

    query = "How much does the Team plan cost per month?"
    assert "59 dollars" in top_text(kb, query)
    assert "59 dollars" in top_text(kb, query, at=2)
    assert "49 dollars" in top_text(kb, query, at=1)
    assert all("49 dollars" not in text for _, text in everything(kb))


def test_restoring_old_content_reuses_the_old_revision(kb: KnowledgeBase, docs: Path, embedder: Embedder) -> None:
    first_rev = kb.documents()["billing/plans.md"]
    (docs / "billing/plans.md").write_text(PLANS_V2, encoding="utf-8")
    kb.ingest([docs])
    assert kb.documents()["billing/plans.md"] != first_rev
    counts = kb.store.counts(embedder.id)

    (docs / "billing/plans.md").write_text(CORPUS["billing/plans.md"], encoding="utf-8")
    report = kb.ingest([docs])
    assert report.version is not None and report.version.version == 3
    assert report.updated == ["billing/plans.md"]
    assert (report.chunks_written, report.chunks_embedded) == (0, 0)
    assert kb.documents()["billing/plans.md"] == first_rev
    after = kb.store.counts(embedder.id)
    assert {k: after[k] for k in ("chunks", "revisions", "passages", "fts", "vectors")} == {
        k: counts[k] for k in ("chunks", "revisions", "passages", "fts", "vectors")
    }
    assert "49 dollars" in top_text(kb, "Team plan price")


def test_ingest_documents_built_in_code(open_kb: OpenKB, tmp_path: Path) -> None:
    kb = open_kb(tmp_path / "kb")
    doc = Document(id="notes/one", title="One", text="The office is closed on public holidays.")
    report = kb.ingest_documents([doc])
    assert report.added == ["notes/one"] and report.version is not None
    assert kb.ingest_documents([doc]).version is None
    assert "public holidays" in top_text(kb, "When is the office closed?")


# -- removal --------------------------------------------------------------------------------------------


def test_remove_missing_drops_deleted_files_at_head_only(kb: KnowledgeBase, docs: Path) -> None:
    (docs / "billing/refunds.md").unlink()
    report = kb.ingest([docs])  # without remove_missing a deleted file is left alone
    assert report.version is None and report.removed == []

    report = kb.ingest([docs], remove_missing=True)
    assert report.removed == ["billing/refunds.md"]
    assert report.version is not None and report.version.version == 2 and report.version.removed == 1
    assert "billing/refunds.md" not in kb.documents()
    assert all(doc_id != "billing/refunds.md" for doc_id, _ in everything(kb))
    assert "14 days" in top_text(kb, "How long do refunds take?", at=1)
    with pytest.raises(NotFoundError):
        kb.document("billing/refunds.md")
    assert "14 days" in kb.document("billing/refunds.md", at=1)[1][0]["text"]


def test_remove_by_id(kb: KnowledgeBase) -> None:
    info = kb.remove(["guides/sso.md", "security.md"])
    assert info is not None and (info.version, info.removed, info.operation) == (2, 2, "remove")
    assert sorted(kb.documents()) == ["billing/plans.md", "billing/refunds.md", "guides/setup.md"]
    assert {d for d, _ in everything(kb, at=1)} == set(CORPUS)
    with pytest.raises(NotFoundError, match=r"guides/sso\.md"):
        kb.remove("guides/sso.md")
    assert kb.head == 2


# -- history ------------------------------------------------------------------------------------------


@pytest.fixture
def history(kb: KnowledgeBase, docs: Path) -> dict[int, dict[str, str]]:
    """Versions 1..5 and, for each, doc id → a phrase only that document's live revision contains.

    v1 corpus · v2 plans edited · v3 api added · v4 refunds removed · v5 rollback to v2.
    """
    (docs / "billing/plans.md").write_text(PLANS_V2, encoding="utf-8")
    assert kb.ingest([docs]).version is not None
    write(docs, {"guides/api.md": API_DOC})
    assert kb.ingest([docs]).added == ["guides/api.md"]
    assert kb.remove("billing/refunds.md") is not None
    info = kb.rollback(2)
    assert info is not None and info.version == 5 and info.operation == "rollback"

    v1 = {
        "billing/plans.md": "49 dollars",
        "billing/refunds.md": "14 days",
        "guides/setup.md": "desktop agent",
        "guides/sso.md": "SAML",
        "security.md": "AES-256",
    }
    v2 = {**v1, "billing/plans.md": "59 dollars"}
    v3 = {**v2, "guides/api.md": "600 requests"}
    v4 = {k: v for k, v in v3.items() if k != "billing/refunds.md"}
    return {1: v1, 2: v2, 3: v3, 4: v4, 5: v2}


def test_time_travel_returns_exactly_the_passages_live_at_each_version(
    kb: KnowledgeBase, history: dict[int, dict[str, str]]
) -> None:
    assert [v.version for v in kb.versions()] == [1, 2, 3, 4, 5]
    for version, expected in history.items():
        assert sorted(kb.documents(at=version)) == sorted(expected), version
        got = everything(kb, at=version)
        assert got == passages_of(kb, sorted(expected), version), version
        by_doc = {doc_id: text for doc_id, text in got}
        for doc_id, phrase in expected.items():
            assert phrase in by_doc[doc_id], (version, doc_id)
        for passage in kb.search("information about the product", k=500, at=version):
            assert passage.version == version
            assert passage.revision_id == kb.documents(at=version)[passage.doc_id]
    assert everything(kb) == everything(kb, at=5)


def test_rollback_makes_a_version_equal_to_the_old_one(kb: KnowledgeBase, history: dict[int, dict[str, str]]) -> None:
    assert kb.documents(at=5) == kb.documents(at=2)
    for query in ("Team plan price", "refund window"):
        for mode in ("hybrid", "lexical", "dense"):
            old = kb.search(query, k=10, mode=mode, at=2)
            new = kb.search(query, k=10, mode=mode)
            assert [(p.doc_id, p.chunk_id, p.text) for p in new] == [(p.doc_id, p.chunk_id, p.text) for p in old]
            assert [p.score for p in new] == pytest.approx([p.score for p in old])
    assert kb.rollback(2) is None  # already equal: no empty version
    assert kb.head == 5


def test_diff_lists_added_changed_and_removed(kb: KnowledgeBase, history: dict[int, dict[str, str]]) -> None:
    d = kb.diff(1, 4)
    assert (d.a, d.b) == (1, 4)
    assert (d.added, d.changed, d.removed) == (["guides/api.md"], ["billing/plans.md"], ["billing/refunds.md"])
    back = kb.diff(4, 1)
    assert (back.added, back.changed, back.removed) == (["billing/refunds.md"], ["billing/plans.md"], ["guides/api.md"])
    assert (kb.diff(2, 5).added, kb.diff(2, 5).changed, kb.diff(2, 5).removed) == ([], [], [])
    with pytest.raises(NotFoundError):
        kb.diff(1, 99)


def test_versions_record_each_operation(kb: KnowledgeBase, history: dict[int, dict[str, str]]) -> None:
    ops = [(v.version, v.operation, v.added, v.updated, v.removed) for v in kb.versions()]
    assert ops == [
        (1, "ingest", 5, 0, 0),
        (2, "ingest", 0, 1, 0),
        (3, "ingest", 1, 0, 0),
        (4, "remove", 0, 0, 1),
        (5, "rollback", 1, 0, 1),  # refunds back, api gone (plans was already at v2's revision)
    ]


# -- filters --------------------------------------------------------------------------------------------


def test_filters_only_return_matching_documents_and_still_fill_k(embedder: Embedder, tmp_path: Path) -> None:
    # depth 10: if filtering happened after each leg's top 10, the 30 better-matching widget documents
    # would crowd out every billing passage.
    settings = Settings().replace("search", depth=10)
    with KnowledgeBase.open(tmp_path / "kb", create=True, settings=settings, embedder=embedder) as kb:
        docs = [
            Document(
                id=f"widgets/w{i:02d}",
                title=f"Widget {i}",
                text=f"The blue widget model {i} is paid by card and spins quickly.",
            )
            for i in range(30)
        ] + [
            Document(id=f"billing/b{i:02d}", title=f"Invoice {i}", text=f"Invoice {i} is paid by bank transfer.")
            for i in range(12)
        ]
        assert kb.ingest_documents(docs).version is not None
        for mode in ("hybrid", "lexical", "dense"):
            hits = kb.search("paid blue widget", k=10, mode=mode, filters={"doc_id": "billing/*"})
            assert len(hits) == 10, mode
            assert all(h.doc_id.startswith("billing/") for h in hits), mode
            assert [h.rank for h in hits] == list(range(1, 11))
        everything_billing = kb.search("paid blue widget", k=50, filters={"doc_id": "billing/*"})
        assert len(everything_billing) == 12
        pair = kb.search("invoice", k=10, filters={"doc_id": ["billing/b01", "widgets/w02"]})
        assert {h.doc_id for h in pair} == {"billing/b01", "widgets/w02"}
        assert kb.search("invoice", k=10, filters={"doc_id": "nothing/*"}) == []
        assert kb.search("invoice", k=10, filters={"no_such_field": "x"}) == []


def test_filters_by_path_prefix_on_an_ingested_folder(kb: KnowledgeBase) -> None:
    hits = kb.search("information about the product", k=10, filters={"doc_id": "billing/*"})
    assert sorted(h.doc_id for h in hits) == ["billing/plans.md", "billing/refunds.md"]
    hits = kb.search("information", k=10, filters={"format": "md", "doc_id": "guides/*"})
    assert sorted(h.doc_id for h in hits) == ["guides/setup.md", "guides/sso.md"]


# -- errors ---------------------------------------------------------------------------------------------


def test_errors(kb: KnowledgeBase) -> None:
    with pytest.raises(NotFoundError, match="99"):
        kb.search("plans", at=99)
    with pytest.raises(SearchError, match="mode"):
        kb.search("plans", mode="psychic")
    with pytest.raises(SearchError):
        kb.search("plans", k=0)
    with pytest.raises(NotFoundError, match=r"nope\.md"):
        kb.document("nope.md")
    with pytest.raises(NotFoundError):
        kb.document("billing/plans.md", at=99)
    with pytest.raises(NotFoundError):
        kb.rollback(42)
    with pytest.raises(NotFoundError):
        kb.remove("nope.md")
    assert kb.search("   ") == []


def test_an_empty_knowledge_base(open_kb: OpenKB, tmp_path: Path) -> None:
    kb = open_kb(tmp_path / "kb")
    assert kb.head == 0 and kb.versions() == [] and kb.documents() == {}
    assert kb.search("anything") == []
    with pytest.raises(NotFoundError):
        kb.search("anything", at=1)


def test_opening_a_missing_kb_without_create_fails(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        KnowledgeBase.open(tmp_path / "nowhere", settings=Settings())


def test_unreadable_files_are_reported_and_skipped(kb: KnowledgeBase, docs: Path) -> None:
    (docs / "empty.md").write_text("", encoding="utf-8")
    write(docs, {"guides/api.md": API_DOC})
    report = kb.ingest([docs])
    assert report.added == ["guides/api.md"]
    assert [Path(e.path).name for e in report.errors] == ["empty.md"]
    assert not report.ok
    assert "empty.md" not in kb.documents()


# -- answers --------------------------------------------------------------------------------------------


def test_ask_cites_the_passage_live_at_the_version_asked(kb: KnowledgeBase, docs: Path) -> None:
    (docs / "billing/plans.md").write_text(PLANS_V2, encoding="utf-8")
    kb.ingest([docs])
    answer = kb.ask("How much does the Team plan cost per month?")
    assert answer.version == 2 and answer.answered
    assert "59 dollars" in answer.text
    assert answer.citations and answer.citations[0].doc_id == "billing/plans.md"
    old = kb.ask("How much does the Team plan cost per month?", at=1)
    assert old.version == 1 and "49 dollars" in old.text
    assert {c.doc_id for c in old.citations} <= set(CORPUS)
    for key in ("retrieve", "generate", "total"):
        assert answer.timings_ms[key] >= 0
