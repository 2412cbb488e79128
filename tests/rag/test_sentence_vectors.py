"""Extractive answers from sentence vectors stored at ingest: filled by ingest, used without any ``embed`` call at
answer time, the on-the-fly fallback for chunks without them, an existing knowledge base migrated, and the same
answers either way. Real SQLite, the real bundled embedding model, the real help-center articles."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ragtune import KnowledgeBase
from ragtune.config import Settings
from ragtune.embed.base import Embedder
from ragtune.errors import StoreError
from ragtune.kb import ingest as ingest_module
from ragtune.kb import schema
from ragtune.kb.sentences import fill_sentence_vectors, sentence_texts
from ragtune.llm.extractive import ExtractiveAnswerer
from ragtune.search.query import Query
from ragtune.text import answer_candidates, with_table_header

REPO = Path(__file__).resolve().parents[2]
BILLING = REPO / "examples" / "helpcenter" / "docs" / "billing"
QUESTIONS = [
    json.loads(line)["question"]
    for line in (REPO / "examples" / "helpcenter" / "eval.jsonl").read_text(encoding="utf-8").splitlines()
    if "billing/" in line
]


class Counting:
    """The real embedder, counting the calls the answer path makes."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.id, self.dim, self.max_tokens = inner.id, inner.dim, inner.max_tokens
        self.embed_calls = 0
        self.query_calls = 0

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        self.embed_calls += 1
        return self.inner.embed(texts, progress=progress)

    def embed_query(self, text: str) -> np.ndarray:
        self.query_calls += 1
        return self.inner.embed_query(text)

    def count_tokens(self, texts: list[str]) -> list[int]:
        return self.inner.count_tokens(texts)


@pytest.fixture
def counting(embedder: Embedder) -> Counting:
    return Counting(embedder)


@pytest.fixture
def billing_kb(tmp_path: Path, counting: Counting) -> Iterator[KnowledgeBase]:
    kb = KnowledgeBase.open(tmp_path / "kb", create=True, settings=Settings(), embedder=counting)
    kb.ingest([BILLING])
    yield kb
    kb.close()


def test_ingest_stores_every_chunks_candidate_sentences_with_their_vectors(
    billing_kb: KnowledgeBase, embedder: Embedder
) -> None:
    store = billing_kb.store
    hashes = sorted(h for hs in store.live_chunks().values() for h in hs)
    stored = store.sentence_vectors(hashes, embedder.id)
    assert sorted(stored) == hashes  # every chunk, none missing
    assert store.chunks_missing_sentence_vectors(embedder.id, 10) == []
    # A chunk that continues a table is read with the table's header row, which its context holds.
    contexts = dict(store._db.execute("SELECT hash, context FROM chunks").fetchall())  # type: ignore[attr-defined]
    texts = {
        p["chunk_id"]: with_table_header(contexts[p["chunk_id"]], p["text"])
        for d in store.live_docs()
        for p in store.document(d)[1]
    }
    assert any(t != p["text"] for d in store.live_docs() for p in store.document(d)[1] for t in [texts[p["chunk_id"]]])
    for h, (names, vecs) in stored.items():
        assert names == [c.embed_text for c in answer_candidates(texts[h])] == sentence_texts(texts[h])
        assert vecs.shape == (len(names), embedder.dim) and vecs.dtype == np.float32
        if names:  # float16 in the store: the same vectors to a cosine of 0.999
            fresh = embedder.embed(names)
            assert np.min(np.sum(fresh * vecs, axis=1)) > 0.999
            assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


def test_answering_uses_the_stored_vectors_and_calls_no_embed(billing_kb: KnowledgeBase, counting: Counting) -> None:
    strategy = billing_kb.strategies()["rag-extractive"]
    strategy.ask(QUESTIONS[0])  # builds the pipeline
    counting.embed_calls = counting.query_calls = 0
    answers = [strategy.ask(q) for q in QUESTIONS]
    assert counting.embed_calls == 0  # no candidate embedded at answer time
    assert counting.query_calls == 2 * len(QUESTIONS)  # the query: once to retrieve, once to answer
    assert sum(a.answered for a in answers) >= len(QUESTIONS) // 2
    assert any("$12" in a.text for a in answers)


def test_stored_and_on_the_fly_answers_are_the_same(billing_kb: KnowledgeBase, counting: Counting) -> None:
    stored_path = ExtractiveAnswerer(counting.embed, embed_query=counting.embed_query)
    fresh_path = ExtractiveAnswerer(counting.embed, embed_query=counting.embed_query)  # embeds every candidate
    store, embedder_id = billing_kb.store, counting.id
    for q in QUESTIONS:
        passages = billing_kb.retriever.retrieve(Query(text=q, k=5)).passages
        texts, scores = [p.readable_text for p in passages], [p.score for p in passages]
        found = store.sentence_vectors([p.chunk_id for p in passages], embedder_id)
        vectors = [found.get(p.chunk_id) for p in passages]
        assert all(v is not None for v in vectors)
        counting.embed_calls = 0
        fresh_path._cache.clear()  # its text cache would answer repeated passages without a call
        a = stored_path.answer(q, texts, passage_scores=scores, sentence_vectors=vectors)
        assert counting.embed_calls == 0
        b = fresh_path.answer(q, texts, passage_scores=scores)
        assert counting.embed_calls == 1
        assert (a.text, a.cited, a.answered) == (b.text, b.cited, b.answered), q
        assert a.best_score == pytest.approx(b.best_score, abs=2e-3)


def test_passages_without_stored_vectors_are_embedded_on_the_fly(billing_kb: KnowledgeBase, counting: Counting) -> None:
    answerer = ExtractiveAnswerer(counting.embed, embed_query=counting.embed_query)
    q = QUESTIONS[0]
    passages = billing_kb.retriever.retrieve(Query(text=q, k=5)).passages
    texts = [p.text for p in passages]
    found = billing_kb.store.sentence_vectors([p.chunk_id for p in passages], counting.id)
    expected = answerer.answer(q, texts, sentence_vectors=[found[p.chunk_id] for p in passages])
    answerer._cache.clear()
    counting.embed_calls = 0
    # The first passage has none stored (an old chunk, another embedder): only its candidates are embedded.
    partial = [None, *(found[p.chunk_id] for p in passages[1:])]
    got = answerer.answer(q, texts, sentence_vectors=partial)
    assert counting.embed_calls == 1 and (got.text, got.cited) == (expected.text, expected.cited)
    # Stored texts that no longer match the candidates (a newer splitter) are never used for other sentences.
    answerer._cache.clear()
    stale = [(["an unrelated sentence"], found[passages[0].chunk_id][1][:1]), *partial[1:]]
    got = answerer.answer(q, texts, sentence_vectors=stale)
    assert counting.embed_calls == 2 and (got.text, got.cited) == (expected.text, expected.cited)


def test_another_embedder_finds_no_sentence_vectors(billing_kb: KnowledgeBase, counting: Counting) -> None:
    hashes = [h for hs in billing_kb.store.live_chunks().values() for h in hs]
    assert billing_kb.store.sentence_vectors(hashes, "another-model@0:fp32") == {}


def test_a_knowledge_base_built_before_sentence_vectors_is_migrated_and_backfilled(
    tmp_path: Path, counting: Counting, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "old"
    with monkeypatch.context() as m:  # the ingest as it was before migration 2
        m.setattr(ingest_module, "fill_sentence_vectors", lambda store, embedder: 0)
        old = KnowledgeBase.open(root, create=True, settings=Settings(), embedder=counting)
        old.ingest([BILLING])
        old.close()
    # ... and the store: no sentence_vectors table, migration 2 not recorded (today's code writes today's other
    # tables and columns, so the store is built whole and then taken back to before that one migration)
    db = sqlite3.connect(root / "kb.sqlite")
    db.execute("DROP TABLE sentence_vectors")
    db.execute("DELETE FROM migrations WHERE id = 2")
    db.commit()
    db.close()
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)

    kb = KnowledgeBase.open(root, settings=Settings(), embedder=counting)  # migration 2 runs on open
    try:
        assert kb.store.schema_version == len(schema.MIGRATIONS) >= 2  # type: ignore[attr-defined]
        assert "sentence_vectors" in dict(schema.MIGRATIONS)
        n_chunks = kb.status()["chunks"]
        assert len(kb.store.chunks_missing_sentence_vectors(counting.id, 10_000)) == n_chunks
        strategy = kb.strategies()["rag-extractive"]
        counting.embed_calls = 0
        before = [strategy.ask(q) for q in QUESTIONS[:4]]
        assert counting.embed_calls >= 1  # nothing stored yet: today's on-the-fly path
        report = kb.ingest([BILLING])  # unchanged corpus: no new version, but the sentence vectors are filled
        assert report.version is None and report.chunks_embedded == 0
        assert kb.store.chunks_missing_sentence_vectors(counting.id, 10) == []
        fresh = KnowledgeBase.open(copy, settings=Settings(), embedder=counting)
        try:
            assert fill_sentence_vectors(fresh.store, counting) == n_chunks  # the same backfill, called directly
            assert fill_sentence_vectors(fresh.store, counting) == 0
        finally:
            fresh.close()
        strategy = KnowledgeBase.open(root, settings=Settings(), embedder=counting).strategies()["rag-extractive"]
        strategy.ask(QUESTIONS[0])
        counting.embed_calls = 0
        after = [strategy.ask(q) for q in QUESTIONS[:4]]
        assert counting.embed_calls == 0
        assert [a.text for a in after] == [b.text for b in before]
    finally:
        kb.close()


def test_sentence_vectors_must_match_their_texts(billing_kb: KnowledgeBase, counting: Counting) -> None:
    with pytest.raises(StoreError, match="2 sentence texts but 1 vectors"):
        billing_kb.store.add_sentence_vectors(counting.id, [(1, ["a b", "c d"], np.zeros((1, counting.dim)))])


def test_the_pipeline_gives_the_generator_the_stored_vectors(billing_kb: KnowledgeBase) -> None:
    pipeline: Any = billing_kb.strategies()["rag-extractive"].pipeline
    prep = pipeline._prepare([{"role": "user", "content": QUESTIONS[0]}], pipeline.options, Query(text=""))
    assert prep.context.sentence_vectors is not None
    assert len(prep.context.sentence_vectors) == len(prep.passages) > 0
    assert all(v is not None and len(v[0]) == v[1].shape[0] for v in prep.context.sentence_vectors)
