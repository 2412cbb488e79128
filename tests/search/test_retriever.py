"""The retriever's stages behind their seams: Query in, SearchResult out; legs; fusion and rerank by name.

A hashed bag-of-words embedder stands in for the model (relevance is not what is tested here; the SciFact
benchmark and tests/test_knowledge_base.py measure that with the real one)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ragtune.config import SearchSettings, Settings
from ragtune.errors import NotFoundError, SearchError
from ragtune.kb.document import Document
from ragtune.knowledge_base import KnowledgeBase
from ragtune.search import Passage, Query, Retriever, SearchResult
from ragtune.search.fusion import fusion_named, fusion_names, register_fusion, rrf, unregister_fusion
from ragtune.search.index import LiveSet
from ragtune.search.legs import KeywordLeg, Ranking, SearchLeg, VectorLeg
from ragtune.search.rerank import NoRerank, register_reranker, reranker_named, unregister_reranker

DOCS = {
    "billing/plans": "The Team plan costs 49 dollars per month and includes ten seats.",
    "billing/refunds": "Refunds are issued within 14 days of a cancelled subscription.",
    "guides/sso": "Single sign-on supports SAML and OpenID Connect identity providers.",
    "guides/setup": "Install the desktop agent, then sign in with your workspace address.",
    "security": "Customer data is encrypted at rest and backed up nightly.",
}


@pytest.fixture
def kb(tmp_path: Path, hash_embedder: Any) -> Iterator[KnowledgeBase]:
    """DOCS at version 1; version 2 changes the Team plan's price."""
    kb = KnowledgeBase.open(tmp_path / "kb", create=True, settings=Settings(), embedder=hash_embedder)
    kb.ingest_documents([Document(d, d.split("/")[-1].title(), t, f"docs/{d}.md") for d, t in DOCS.items()])
    kb.ingest_documents(
        [Document(d, d.split("/")[-1].title(), t.replace("49", "59"), f"docs/{d}.md") for d, t in DOCS.items()]
    )
    yield kb
    kb.close()


def retriever(kb: KnowledgeBase, **settings: Any) -> Retriever:
    return Retriever(kb.store, kb.embedder, SearchSettings(**settings))


def test_retrieve_returns_the_version_it_searched(kb: KnowledgeBase) -> None:
    result = kb.retrieve(Query("team plan dollars", k=2))
    assert isinstance(result, SearchResult) and result.version == 2 == kb.head
    assert len(result.passages) == 2 and all(p.version == 2 for p in result.passages)
    assert [p.rank for p in result.passages] == [1, 2]
    assert kb.search("team plan dollars", k=2) == result.passages  # the keyword form is the same search


def test_at_and_filters_flow_through_the_query(kb: KnowledgeBase) -> None:
    old = kb.retrieve(Query("team plan dollars", k=1, mode="lexical", at=1)).passages[0]
    new = kb.retrieve(Query("team plan dollars", k=1, mode="lexical")).passages[0]
    assert "49" in old.text and "59" in new.text and old.version == 1
    assert kb.retrieve(Query("team plan dollars", at=-1)).version == 1
    hits = kb.retrieve(Query("plan", k=10, filters={"doc_id": "guides/*"})).passages
    assert hits and {p.doc_id for p in hits} <= {"guides/sso", "guides/setup"}
    with pytest.raises(NotFoundError):
        kb.retrieve(Query("plan", at=9))


def test_the_callers_identity_rides_along(kb: KnowledgeBase) -> None:
    q = Query("refunds", k=1, principal="ana@example.com", groups=("support",))
    result = kb.retrieve(q)
    assert result.query.principal == "ana@example.com" and result.query.groups == ("support",)


def test_k_defaults_to_the_search_setting_and_is_checked(kb: KnowledgeBase) -> None:
    assert len(retriever(kb, k=3).retrieve(Query("plan seats month")).passages) == 3
    with pytest.raises(SearchError, match="k must be at least 1"):
        kb.retrieve(Query("plan", k=0))
    with pytest.raises(SearchError, match="unknown search mode"):
        kb.retrieve(Query("plan", mode="psychic"))


# -- legs -----------------------------------------------------------------------------------------


def test_the_legs_share_one_protocol(kb: KnowledgeBase) -> None:
    r = kb.retriever
    assert isinstance(r.legs["lexical"], KeywordLeg) and isinstance(r.legs["dense"], VectorLeg)
    live = r.index.live(kb.head)
    allowed, _ = r.index.allowed(live, None)
    for name, leg in r.legs.items():
        positions, scores = leg.rank(leg.begin("team plan"), live, allowed, 3)
        assert leg.name == name and len(positions) == len(scores) <= 3
        assert list(scores) == sorted(scores, reverse=True)


class FixedLeg:
    """A leg that ranks chunk positions in a given order, whatever the query."""

    name = "dense"

    def __init__(self, order: list[int]) -> None:
        self.order = order

    def begin(self, text: str) -> str:
        return text

    def rank(self, started: str, live: LiveSet, allowed: np.ndarray, depth: int) -> Ranking:
        kept = [p for p in self.order if allowed[p]][:depth]
        return np.array(kept, np.int64), np.linspace(1.0, 0.5, len(kept)).astype(np.float32)


def test_a_leg_can_be_swapped(kb: KnowledgeBase) -> None:
    r = retriever(kb)
    live = r.index.live(kb.head)  # loads the index: positions exist
    last = int(np.flatnonzero(live.mask)[-1])
    leg: SearchLeg = FixedLeg([last])
    r.legs["dense"] = leg
    top = r.retrieve(Query("anything at all", k=1, mode="dense")).passages[0]
    assert top.scores == {"dense_score": 1.0, "dense_rank": 1}


def test_a_shared_index_reaches_the_legs(kb: KnowledgeBase) -> None:
    # Assigning an already-loaded index (as a second handle on the same store does) must rebuild the legs:
    # a keyword leg left on the new retriever's own, never-synced index knows no chunk positions.
    loaded = kb.retriever
    expected = loaded.retrieve(Query("team plan dollars", k=3, mode="lexical")).passages
    twin = retriever(kb, lexical_engine="fts5")
    twin.index = loaded.index
    assert all(leg.index is loaded.index for leg in twin.legs.values())  # type: ignore[attr-defined]
    got = twin.retrieve(Query("team plan dollars", k=3, mode="lexical")).passages
    assert [p.chunk_id for p in got] == [p.chunk_id for p in expected]


# -- fusion ---------------------------------------------------------------------------------------


def test_fusion_by_name(kb: KnowledgeBase) -> None:
    assert {"rrf", "weighted"} <= set(fusion_names())
    rankings = {"lexical": (np.array([1, 2]), np.array([2.0, 1.0])), "dense": (np.array([2, 3]), np.array([0.9, 0.1]))}
    positions, _ = fusion_named("rrf")(rankings, SearchSettings())
    assert positions.tolist() == rrf([np.array([1, 2]), np.array([2, 3])], 60)[0].tolist() == [2, 1, 3]
    weighted = fusion_named("weighted")(rankings, SearchSettings(weight_dense=1.0))
    assert weighted[0].tolist()[0] == 2
    assert retriever(kb, fusion="weighted").retrieve(Query("team plan", k=3)).passages
    with pytest.raises(SearchError, match=r"search\.fusion"):
        retriever(kb, fusion="borda")


def test_a_registered_fusion_is_used_by_name(kb: KnowledgeBase) -> None:
    def lexical_only(rankings: Any, settings: SearchSettings, /) -> Ranking:
        return rankings["lexical"]

    register_fusion("lexical-only", lexical_only)
    try:
        fused = retriever(kb, fusion="lexical-only").retrieve(Query("refunds subscription days", k=3))
    finally:
        unregister_fusion("lexical-only")
    lexical = kb.retrieve(Query("refunds subscription days", k=3, mode="lexical"))
    assert [p.chunk_id for p in fused.passages] == [p.chunk_id for p in lexical.passages]
    assert "lexical-only" not in fusion_names()


# -- rerank ---------------------------------------------------------------------------------------


def test_the_default_rerank_leaves_the_order(kb: KnowledgeBase) -> None:
    assert isinstance(kb.retriever.reranker, NoRerank)
    q = Query("team plan seats", k=4)
    plain = kb.retrieve(q).passages
    assert NoRerank().rerank(q, list(plain)) == plain
    assert retriever(kb, rerank="none").retrieve(q).passages == plain


class Reverse:
    """Puts the fused candidates in reverse order (a reranker with opinions)."""

    depth = 5

    def __init__(self) -> None:
        self.seen: list[Query] = []

    def rerank(self, query: Query, passages: list[Passage]) -> list[Passage]:
        self.seen.append(query)
        return passages[::-1]


def test_a_registered_reranker_reorders_and_renumbers(kb: KnowledgeBase) -> None:
    reverse = Reverse()
    register_reranker("reverse", lambda settings: reverse)
    try:
        r = retriever(kb, rerank="reverse")
        q = Query("team plan seats", k=2, principal="ana")
        got = r.retrieve(q).passages
    finally:
        unregister_reranker("reverse")
    fused = kb.retrieve(Query("team plan seats", k=5)).passages
    assert [p.chunk_id for p in got] == [p.chunk_id for p in fused[::-1][:2]]  # it saw its depth, not just k
    assert [p.rank for p in got] == [1, 2]
    assert reverse.seen == [q]
    with pytest.raises(SearchError, match=r"search\.rerank"):
        reranker_named("reverse", SearchSettings())


def test_a_reranker_reads_only_its_depth_when_k_is_deeper(kb: KnowledgeBase) -> None:
    seen: list[int] = []

    class Counting(Reverse):
        def rerank(self, query: Query, passages: list[Passage]) -> list[Passage]:
            seen.append(len(passages))
            return passages[::-1]

    register_reranker("counting", lambda settings: Counting())
    try:
        got = retriever(kb, rerank="counting").retrieve(Query("team plan seats", k=8)).passages
    finally:
        unregister_reranker("counting")
    fused = kb.retrieve(Query("team plan seats", k=8)).passages
    assert seen == [5]  # its depth, not k: a deep k must not multiply the reranker's cost
    expected = fused[:5][::-1] + fused[5:]  # deeper passages follow in fusion's order
    assert [p.chunk_id for p in got] == [p.chunk_id for p in expected]
    assert [p.rank for p in got] == list(range(1, len(got) + 1))
