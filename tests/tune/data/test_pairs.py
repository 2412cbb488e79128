"""Retrieval training pairs: labelled and synthesized, de-duplicated, without eval questions, with hard negatives."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragtune.config import Settings
from ragtune.errors import ConfigError, DatasetError
from ragtune.kb.doc_context import indexed_text
from ragtune.knowledge_base import KnowledgeBase
from ragtune.tune.data.pairs import (
    RetrievalPair,
    build_pairs,
    dedupe,
    drop_leaking,
    file_sha256,
    labelled_pairs,
    mine_negatives,
    read_pairs,
    synthesized_pairs,
    write_pairs,
)

HELPCENTER = Path(__file__).resolve().parents[3] / "examples" / "helpcenter"
DOCS = (
    "billing/plans-and-pricing.md",
    "billing/free-trial.md",
    "files/version-history-and-trash.md",
    "account/change-email-or-password.md",
    "security/sso-saml-setup.md",
)


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    """A few help-center pages, embedded with the suite's hashing stand-in (pairs are bookkeeping, not relevance)."""
    from tests.conftest import HashEmbedder

    root = tmp_path_factory.mktemp("pairskb")
    for doc in DOCS:
        (root / "docs" / doc).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(HELPCENTER / "docs" / doc, root / "docs" / doc)
    settings = Settings().replace("answer", sentence_vectors=False)
    with KnowledgeBase.open(root / ".ragtune", create=True, settings=settings, embedder=HashEmbedder()) as opened:
        opened.ingest([root / "docs"])
        yield opened


@pytest.fixture
def eval_file(tmp_path: Path, kb: KnowledgeBase) -> Path:
    """The help center's eval questions about the documents in the KB."""
    live = set(kb.documents())
    rows = [json.loads(line) for line in (HELPCENTER / "eval.jsonl").read_text().splitlines() if line.strip()]
    kept = [r for r in rows if r["sources"] and set(r["sources"]) <= live]
    path = tmp_path / "eval.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in kept))
    return path


def chunk_texts(kb: KnowledgeBase, doc_id: str) -> list[str]:
    _, passages = kb.document(doc_id)
    return [indexed_text(p["context"], p["text"]) for p in passages]


def test_labelled_pairs_take_the_best_passage_of_each_source_document(kb: KnowledgeBase, eval_file: Path) -> None:
    pairs, unmatched = labelled_pairs(kb, eval_file)
    n_items = len(eval_file.read_text().splitlines())
    assert unmatched == 0 and len(pairs) >= n_items > 5
    for p in pairs:
        assert p.source == "labels" and p.doc_ids and p.kb_version == kb.head
        assert any(p.positive in chunk_texts(kb, d) for d in p.doc_ids)


def test_labelled_pairs_from_chat_data_and_plain_pairs(kb: KnowledgeBase, tmp_path: Path) -> None:
    _, passages = kb.document("billing/free-trial.md")
    chat = {
        "messages": [{"role": "user", "content": "How long is the trial?"}, {"role": "assistant", "content": "14 d"}],
        "metadata": {"doc_id": "billing/free-trial.md", "chunk_id": passages[0]["chunk_id"]},
    }
    orphan = {**chat, "metadata": {"doc_id": "gone.md", "chunk_id": "x"}}
    plain = {"query": "What is SSO?", "positive": "Single sign-on lets people log in with one account."}
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in (chat, orphan, plain)))
    pairs, unmatched = labelled_pairs(kb, path)
    assert unmatched == 1
    assert [(p.query, p.source) for p in pairs] == [("How long is the trial?", "labels"), ("What is SSO?", "labels")]
    assert pairs[0].positive == indexed_text(passages[0]["context"], passages[0]["text"])
    path.write_text('{"question": "no sources field", "sources": "x.md"}\n')
    with pytest.raises(DatasetError, match=r"labels\.jsonl:1"):
        labelled_pairs(kb, path)


def test_synthesized_pairs_come_from_structure_and_titles(kb: KnowledgeBase) -> None:
    pairs = synthesized_pairs(kb)
    kinds = {p.source for p in pairs}
    assert kinds == {"structure", "title"}
    for p in pairs:
        texts = chunk_texts(kb, p.doc_ids[0])
        if p.source == "title":
            _, passages = kb.document(p.doc_ids[0])
            assert p.positive in passages[0]["text"]  # the opening passage, without its context or title line
            assert p.query not in p.positive.splitlines()[0]
        else:
            assert p.positive in texts
    assert len({p.doc_ids[0] for p in pairs if p.source == "title"}) == len(DOCS)


def test_dedupe_keeps_one_pair_per_query_and_passage_and_prefers_labels() -> None:
    pairs = [
        RetrievalPair("How do I reset my password?", "A", "labels", ("a",), "c1"),
        RetrievalPair("how do I reset my password", "A", "structure", ("a",), "c1"),
        RetrievalPair("How do I reset my password?", "B", "structure", ("b",), "c2"),
        RetrievalPair("What is a seat?", "C", "structure", ("c",), "c3"),
        RetrievalPair("What is a seat?", "C", "title", ("c",), "c3"),
    ]
    kept, dropped = dedupe(pairs)
    assert [(p.query, p.source) for p in kept] == [
        ("How do I reset my password?", "labels"),
        ("What is a seat?", "structure"),
    ]
    assert dropped == 3


def test_eval_questions_are_kept_out_exactly_or_nearly() -> None:
    pairs = [
        RetrievalPair("How much does the Team plan cost per month?", "A", "structure"),
        RetrievalPair("how much does the team plan cost per month", "A", "title"),
        RetrievalPair("How much does the Team plan cost monthly?", "A", "structure"),
        RetrievalPair("Where do deleted files go?", "B", "structure"),
    ]
    kept, dropped = drop_leaking(pairs, ["How much does the Team plan cost per month?"])
    assert [p.query for p in kept] == ["Where do deleted files go?"] and dropped == 3
    assert drop_leaking(pairs, [])[0] == pairs


def test_hard_negatives_come_from_other_documents_after_the_skipped_ones(kb: KnowledgeBase) -> None:
    pair = RetrievalPair("How long does the free trial last?", "x", "labels", ("billing/free-trial.md",), "")
    ranked = [p for p in kb.search(pair.query, k=30, mode="hybrid") if p.doc_id not in pair.doc_ids]
    texts = list(dict.fromkeys(indexed_text(p.context, p.text) for p in ranked))
    assert mine_negatives(kb, [pair], n=2, skip=0) == 0
    assert pair.negatives == texts[:2]
    mine_negatives(kb, [pair], n=1, skip=2)
    assert pair.negatives == texts[2:3]
    lonely = RetrievalPair("trial", "x", "labels", tuple(kb.documents()), "")
    assert mine_negatives(kb, [lonely], n=1) == 1 and lonely.negatives == []


def test_build_pairs_end_to_end(kb: KnowledgeBase, eval_file: Path, tmp_path: Path) -> None:
    built = build_pairs(kb, labels=[eval_file], eval_path=eval_file, negatives=1)
    assert built.leaking >= len(eval_file.read_text().splitlines())  # every labelled question is an eval question
    assert "labels" not in built.counts() and built.pairs
    assert all(p.negatives for p in built.pairs) == (built.without_negatives == 0)
    rows = built.rows()
    assert rows[0] == (built.pairs[0].query, built.pairs[0].positive, built.pairs[0].negatives)
    capped = build_pairs(kb, max_synthesized=3, negatives=0)
    assert len(capped.pairs) <= 3 and all(not p.negatives for p in capped.pairs)
    path = tmp_path / "pairs.jsonl"
    sha = write_pairs(path, built.pairs)
    assert sha == file_sha256(path) and read_pairs(path) == built.pairs
    with pytest.raises(ConfigError, match="no training pairs"):
        build_pairs(kb, synthesize_pairs=False, titles=False)
