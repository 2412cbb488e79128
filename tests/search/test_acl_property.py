"""Access control inside retrieval, as a property (issue 12, item 3).

A knowledge base of random documents with random acls (the real embedding model), and 1,000 random queries by
random callers (random group sets, modes, k, filters): no passage of a document the caller may not read ever
comes back, and every caller's results equal (documents, chunks, ranks, scores) those of a second knowledge base
that holds only the documents that caller may read. Twins are built once per distinct readable set and reused.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from ragtune.config import AnswerSettings, SearchSettings, Settings
from ragtune.embed import Embedder
from ragtune.kb.acl import Access, acl_of
from ragtune.kb.document import Document
from ragtune.knowledge_base import KnowledgeBase
from ragtune.search import Query, Retriever

HELPCENTER = Path(__file__).resolve().parents[2] / "examples" / "helpcenter" / "docs"
GROUPS = ("eng", "sales", "hr", "ops")
TOPICS = ("billing", "security", "files")
N_QUERIES = 1000
SEED = 12


def _settings() -> Settings:
    # No sentence vectors at ingest: the answerer embeds on the fly (the twins are many; this keeps them cheap).
    return Settings(answer=AnswerSettings(sentence_vectors=False))


def _sentence_pool() -> list[str]:
    sentences: list[str] = []
    for path in sorted(HELPCENTER.rglob("*.md")):
        for line in path.read_text().splitlines():
            line = line.strip()
            if not line or line.startswith(("#", "|", "---", "```")) or ":" in line[:12]:
                continue
            sentences += [s.strip() for s in re.split(r"(?<=[.!?])\s+", line.lstrip("-* ")) if len(s.split()) >= 5]
    return sorted(set(sentences))


def _random_acl(rng: random.Random) -> list[str] | str | None:
    roll = rng.random()
    if roll < 0.35:
        return None
    if roll < 0.40:
        return "*"
    if roll < 0.75:
        return [rng.choice(GROUPS)]
    if roll < 0.95:
        return rng.sample(GROUPS, 2)
    return ["legal"]  # a group nobody holds: readable by admins only


def _corpus(rng: random.Random) -> list[Document]:
    """~60 short documents; some are exact copies (same title and text, so the same chunks) of the one before,
    under another acl: a chunk shared by a readable and a forbidden document."""
    pool = _sentence_pool()
    docs: list[Document] = []
    for i in range(54):
        n = rng.randint(2, 9)
        title = f"Note {i}: " + " ".join(rng.choice(pool).split()[:3])
        body = "\n\n".join(" ".join(rng.sample(pool, rng.randint(1, 3))) for _ in range(max(1, n // 3)))
        text = f"# {title}\n\n{body}\n"
        meta = {"topic": rng.choice(TOPICS), "acl": _random_acl(rng)}
        docs.append(Document(f"doc-{i:02d}", title, text, f"docs/doc-{i:02d}.md", metadata=meta))
        if i % 9 == 4:  # a copy right after its original: chunk ids keep the same relative order in every twin
            copy_meta = {"topic": meta["topic"], "acl": _random_acl(rng)}
            docs.append(Document(f"doc-{i:02d}-copy", title, text, f"docs/doc-{i:02d}-copy.md", metadata=copy_meta))
    return docs


@dataclass
class World:
    kb: KnowledgeBase
    docs: list[Document]
    root: Path
    open_twin: Callable[[Path], KnowledgeBase]
    twins: dict[frozenset[str], KnowledgeBase] = field(default_factory=dict)

    def acl(self, doc_id: str) -> tuple[str, ...]:
        return acl_of(next(d for d in self.docs if d.id == doc_id).metadata)

    def readable(self, access: Access) -> frozenset[str]:
        return frozenset(d.id for d in self.docs if access.can_read(acl_of(d.metadata)))

    def twin(self, access: Access) -> KnowledgeBase:
        ids = self.readable(access)
        if ids not in self.twins:
            kb = self.open_twin(self.root / f"twin-{len(self.twins)}")
            if ids:
                kb.ingest_documents([_copy(d) for d in self.docs if d.id in ids])
            self.twins[ids] = kb
        return self.twins[ids]


def _copy(doc: Document) -> Document:
    return Document(doc.id, doc.title, doc.text, doc.source, dict(doc.metadata))


class Remembering:
    """The session's real embedder, remembering each text's vector: a twin knowledge base gets the very vectors the
    main one stored (bf16 autocast moves a vector by ~1e-3 with the batch it was embedded in, which would make two
    knowledge bases incomparable score for score), and a query is embedded once for both."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.id, self.dim, self.max_tokens = inner.id, inner.dim, inner.max_tokens
        self._texts: dict[str, np.ndarray] = {}
        self._queries: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in self._texts]
        if new:
            self._texts.update(zip(new, self.inner.embed(new, progress=progress), strict=True))
        return np.stack([self._texts[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        if text not in self._queries:
            self._queries[text] = self.inner.embed_query(text)
        return self._queries[text]

    def count_tokens(self, texts: list[str]) -> list[int]:
        return self.inner.count_tokens(texts)


@pytest.fixture(scope="module")
def world(embedder: Embedder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    embedder = Remembering(embedder)
    root = tmp_path_factory.mktemp("acl")
    opened: list[KnowledgeBase] = []

    def open_kb(path: Path) -> KnowledgeBase:
        kb = KnowledgeBase.open(path, create=True, settings=_settings(), embedder=embedder)
        opened.append(kb)
        return kb

    docs = _corpus(random.Random(SEED))
    kb = open_kb(root / "main")
    kb.ingest_documents([_copy(d) for d in docs])
    # the acls as stored (normalized at ingest) are the reference
    for d in docs:
        d.metadata = kb.document(d.id)[0].metadata
    yield World(kb, docs, root, open_kb)
    for kb in opened:
        kb.close()


def _random_access(rng: random.Random) -> Access:
    roll = rng.random()
    if roll < 0.05:
        return Access()  # a trusted local caller
    if roll < 0.10:
        return Access("admin", ("*",))
    groups = [g for g in (*GROUPS, "guest") if rng.random() < 0.3]
    return Access(f"user-{rng.randint(0, 99)}", tuple(groups))


def _random_text(rng: random.Random, vocabulary: list[str], pool: list[str]) -> str:
    if rng.random() < 0.3:
        words = rng.choice(pool).split()
        start = rng.randint(0, max(0, len(words) - 4))
        return " ".join(words[start : start + rng.randint(3, 8)])
    return " ".join(rng.sample(vocabulary, rng.randint(1, 4)))


def test_random_callers_see_only_what_they_may_read_and_exactly_what_a_kb_of_it_returns(world: World) -> None:
    rng = random.Random(SEED + 1)
    pool = _sentence_pool()
    vocabulary = sorted({w.lower().strip(".,;:()!?'\"") for s in pool for w in s.split() if len(w) > 3})
    checked = 0
    for _ in range(N_QUERIES):
        access = _random_access(rng)
        filters = {"topic": rng.choice(TOPICS)} if rng.random() < 0.2 else None
        query = Query(
            _random_text(rng, vocabulary, pool),
            rng.randint(1, 15),
            rng.choice(("hybrid", "dense", "lexical")),
            None,
            filters,
            access.principal,
            access.groups,
        )
        got = world.kb.retrieve(query).passages
        for p in got:
            assert access.can_read(world.acl(p.doc_id)), (access, p.doc_id, world.acl(p.doc_id))
            assert access.can_read(acl_of(p.metadata))
        twin = world.twin(access)
        want = twin.retrieve(Query(query.text, query.k, query.mode, None, filters)).passages
        assert [(p.rank, p.doc_id, p.chunk_id) for p in got] == [(p.rank, p.doc_id, p.chunk_id) for p in want], (
            access,
            query,
        )
        assert [p.score for p in got] == pytest.approx([p.score for p in want], rel=1e-5, abs=1e-6)
        checked += len(got)
    assert checked > N_QUERIES  # the queries found things
    assert len(world.twins) >= 8  # and many different readable sets were compared


@pytest.mark.parametrize("settings", [{"lexical_engine": "fts5"}, {"ann_threshold": 16}, {"dense_precision": "fp32"}])
def test_other_engines_never_return_an_unreadable_passage(world: World, settings: dict[str, object]) -> None:
    retriever = Retriever(world.kb.store, world.kb.embedder, SearchSettings(**settings))  # type: ignore[arg-type]
    rng = random.Random(SEED + 2)
    pool = _sentence_pool()
    vocabulary = sorted({w.lower().strip(".,;:()!?'\"") for s in pool for w in s.split() if len(w) > 3})
    for _ in range(150):
        access = _random_access(rng)
        k = rng.randint(1, 15)
        query = Query(_random_text(rng, vocabulary, pool), k, rng.choice(("hybrid", "dense", "lexical")))
        got = retriever.retrieve(query.replace(principal=access.principal, groups=access.groups)).passages
        assert all(access.can_read(world.acl(p.doc_id)) for p in got)
        permitted = sum(1 for d in world.docs if access.can_read(world.acl(d.id)))
        if query.mode == "dense" and permitted:  # filtering before ranking: k results while k permitted exist
            assert len(got) >= min(k, permitted)
    if settings.get("ann_threshold"):  # the graph answered restricted callers too, not only the exact scan
        assert retriever.index.dense.stats["ann"] > 0


def test_answers_quote_and_cite_only_readable_documents(world: World) -> None:
    rng = random.Random(SEED + 3)
    pool = _sentence_pool()
    for _ in range(15):
        access = _random_access(rng)
        question = rng.choice(pool)
        answer = world.kb.ask(question, access=access)
        assert all(access.can_read(world.acl(p.doc_id)) for p in answer.passages)
        assert all(access.can_read(world.acl(c.doc_id)) for c in answer.citations)
        twin = world.twin(access).ask(question)
        assert answer.text == twin.text
        assert [c.doc_id for c in answer.citations] == [c.doc_id for c in twin.citations]
