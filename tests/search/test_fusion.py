"""Fusion that keeps exact evidence (issue 14): score-aware ``convex`` fusion and the exact-identifier stage.

On numbers first (what the normalization does, properties over random legs), then on a small knowledge base
with the real embedding model where reciprocal-rank fusion loses the exact match: the issue's quokka-lantern
abstract, a bare id among look-alike ids, and an error code asked about in a question.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ragtune.config import SearchSettings, Settings
from ragtune.embed import Embedder
from ragtune.kb.document import Document
from ragtune.knowledge_base import KnowledgeBase
from ragtune.search import Query
from ragtune.search.exact import exact_first, identifiers
from ragtune.search.fusion import Ranking, convex, fusion_named, rrf

# -- convex fusion on numbers ------------------------------------------------------------------------------------


def fused_scores(ranking: tuple[np.ndarray, np.ndarray]) -> dict[int, float]:
    return dict(zip(ranking[0].tolist(), ranking[1].tolist(), strict=True))


def legs(lexical: dict[int, float], dense: dict[int, float]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    def ranking(scores: dict[int, float]) -> tuple[np.ndarray, np.ndarray]:
        items = sorted(scores.items(), key=lambda kv: -kv[1])
        return np.array([p for p, _ in items], np.int64), np.array([s for _, s in items], np.float32)

    return {"lexical": ranking(lexical), "dense": ranking(dense)}


# The issue's case: position 1 is BM25's overwhelming first (33.6 against 11.1) and 4th in the dense leg; position
# 2 is second in both legs.
QUOKKA = legs({1: 33.6, 2: 11.1, 3: 9.0, 4: 8.2}, {5: 0.62, 2: 0.60, 3: 0.58, 1: 0.55})


def test_convex_keeps_an_overwhelming_keyword_match_first_where_rrf_does_not() -> None:
    assert rrf([QUOKKA["lexical"][0], QUOKKA["dense"][0]])[0][0] == 2
    positions, scores = fusion_named("convex")(QUOKKA, SearchSettings(weight_dense=0.6))
    assert positions[0] == 1
    assert list(scores) == sorted(scores, reverse=True) and scores.min() >= 0.0 and scores.max() <= 1.0


def test_convex_normalizes_by_the_theoretical_floor_not_the_observed_minimum() -> None:
    # BM25's floor is 0 and a cosine's -1: 5 of 10 is half the best, a cosine of 0.2 against 0.6 is (0.2+1)/(0.6+1).
    got = fused_scores(convex(legs({1: 10.0, 2: 5.0}, {1: 0.6, 2: 0.2}), {"lexical": 0.5, "dense": 0.5}, 100))
    assert got[1] == pytest.approx(1.0)
    assert got[2] == pytest.approx(0.5 * 0.5 + 0.5 * 1.2 / 1.6)
    # min-max over the candidates (``weighted``) would put position 2 at 0 in both legs, whatever its scores
    assert fused_scores(fusion_named("weighted")(legs({1: 10.0, 2: 5.0}, {1: 0.6, 2: 0.2}), SearchSettings()))[2] == 0


def test_a_position_a_leg_did_not_return_counts_what_that_leg_implies() -> None:
    both = legs({1: 4.0, 2: 2.0}, {3: 0.5})
    weights = {"lexical": 0.5, "dense": 0.5}
    # the keyword leg was cut at depth 2: position 3 scored at most its last score, 2.0
    assert fused_scores(convex(both, weights, depth=2))[3] == pytest.approx(0.5 * 2.0 / 4.0 + 0.5)
    # it ran out before depth 100: position 3 matched no query word, BM25 0
    assert fused_scores(convex(both, weights, depth=100))[3] == pytest.approx(0.5)


def test_convex_with_nothing_or_one_leg() -> None:
    empty = (np.zeros(0, np.int64), np.zeros(0, np.float32))
    positions, scores = convex({"lexical": empty, "dense": empty}, {"lexical": 0.5, "dense": 0.5}, 10)
    assert len(positions) == len(scores) == 0
    only = convex({"lexical": empty, "dense": QUOKKA["dense"]}, {"lexical": 0.5, "dense": 0.5}, 10)
    assert only[0].tolist() == QUOKKA["dense"][0].tolist()


leg_scores = st.dictionaries(st.integers(0, 30), st.floats(0.01, 50.0), min_size=1, max_size=12)
cosines = st.dictionaries(st.integers(0, 30), st.floats(-1.0, 1.0), min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(leg_scores, cosines, st.floats(0.0, 1.0), st.integers(1, 15))
def test_convex_properties(lexical: dict[int, float], dense: dict[int, float], alpha: float, depth: int) -> None:
    both = legs(lexical, dense)
    weights = {"lexical": 1.0 - alpha, "dense": alpha}
    positions, scores = convex(both, weights, depth)
    # every candidate once, scored in [0, 1], best first, ties by position
    assert sorted(positions.tolist()) == sorted(set(lexical) | set(dense))
    assert np.all((scores >= -1e-6) & (scores <= 1 + 1e-6))
    pairs = list(zip((-scores).tolist(), positions.tolist(), strict=True))
    assert pairs == sorted(pairs)
    # a better keyword score never costs a candidate its place
    target = min(lexical)
    better = convex(legs({**lexical, target: lexical[target] * 2}, dense), weights, depth)
    assert better[0].tolist().index(target) <= positions.tolist().index(target)
    # with the whole weight on one leg, that leg's own order is kept among its candidates
    dense_only = convex(both, {"lexical": 0.0, "dense": 1.0}, depth)[0].tolist()
    kept = [dense[p] for p in dense_only if p in dense]
    assert all(a >= b - 1e-6 for a, b in itertools.pairwise(kept))  # float32 may tie near-equal ones


# -- identifiers -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What does error DN-913 mean?", [("dn", "913")]),
        ("SKU-1075", [("sku", "1075")]),
        ("(E-4471).", [("e", "4471")]),
        ("invoice INV2024001 or 0x80070005", [("inv2024001",), ("0x80070005",)]),
        ("IL-6, p53, CD40 and Th2 cells; upgrade to v2.3.1", []),  # names with short numbers: not codes
        ("How much for 10 users? error 404, 1.5 mg, 2024", []),  # numbers alone are not identifiers
        ("the Team plan", []),
    ],
)
def test_identifiers(text: str, expected: list[tuple[str, ...]]) -> None:
    assert identifiers(text) == expected


def test_exact_first_moves_holders_ahead_most_identifiers_first() -> None:
    positions, scores = np.array([5, 7, 9, 3]), np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    moved, moved_scores = exact_first(positions, scores, [np.array([3, 9, 42]), np.array([9])], limit=10)
    # 9 holds both identifiers; then 3 and 42 (unseen by the legs: after the fused ones); then the rest in order
    assert moved.tolist() == [9, 3, 42, 5, 7]
    assert moved_scores.tolist() == pytest.approx([0.7, 0.6, 0.6, 0.9, 0.8])
    assert exact_first(positions, scores, [np.array([1, 2, 4])], limit=1)[0].tolist() == [1, 5, 7, 9, 3]
    unchanged = exact_first(positions, scores, [np.zeros(0, np.int64)], limit=10)
    assert unchanged[0].tolist() == positions.tolist()


# -- on a small knowledge base, the real embedding model ---------------------------------------------------------

ABSTRACTS = {
    "nematodes": (
        "Soil nematodes and maize yield",
        "Root-knot nematodes reduce maize yield in sandy soils. We sampled 240 smallholder plots over three seasons "
        "and counted galls on the roots at harvest. Crop rotation with legumes lowered nematode counts by half, and "
        "yield rose accordingly. The quokka-lantern protocol reduced mortality by 37 percent in the Zanzibar cohort. "
        "Intercropping with marigold had no measurable effect on gall counts or on grain weight.",
    ),
    "zanzibar-malaria": (
        "Malaria treatment outcomes in Zanzibar",
        "We report outcomes of a treatment protocol for uncomplicated malaria in a Zanzibar cohort of 1,200 "
        "children. Mortality and readmission were recorded for a year after treatment.",
    ),
    "danish-screening": (
        "A screening protocol in a Danish birth cohort",
        "A new screening protocol for congenital heart disease was evaluated in a Danish birth cohort; mortality "
        "in the first year fell after the protocol was introduced.",
    ),
    "kenya-trial": (
        "Protocol adherence in a Kenyan trial cohort",
        "Adherence to the study protocol was measured in a trial cohort in coastal Kenya, where mortality from "
        "severe anaemia was the primary outcome.",
    ),
    "tanzania-hiv": (
        "HIV care cohort in Tanzania",
        "A cohort of adults starting antiretroviral therapy in Dar es Salaam was followed under a standard care "
        "protocol; mortality in the first six months was 8 percent.",
    ),
    "sepsis": (
        "Early sepsis protocol and hospital mortality",
        "An early sepsis treatment protocol reduced hospital mortality in a multicentre cohort of adults.",
    ),
}
ITEMS = [
    (1074, "stainless steel water bottle, 750 ml", 2),
    (1075, "insulated lunch box with two compartments", 3),
    (1076, "bamboo cutlery set for travel", 2),
    (1077, "collapsible silicone cup, 350 ml", 4),
    (1057, "reusable beeswax food wraps, pack of three", 2),
    (1175, "glass meal-prep containers, set of five", 5),
    (2075, "kids' water bottle with straw lid", 3),
    (1705, "thermal flask for soup, 500 ml", 2),
]
CATALOG = {f"catalog/sku-{n}": (f"SKU-{n}", f"Item SKU-{n}: {what}. Ships in {days} days.") for n, what, days in ITEMS}
HELP = {
    "help/error-codes": (
        "Error codes",
        "Every error code starts with DN-. DN-101 means a sync conflict. DN-204 means the file is too large. "
        "DN-309 means storage is full. DN-401 means your session expired. DN-429 means too many requests. "
        "Look up what an error code means in this table, then follow its fix.",
    ),
    "help/notifications": (
        "Notifications",
        "Choose which events send you an email or a push notification. Digest emails arrive once a day. "
        "If saving your notification settings stops with error DN-913, sign out and back in.",
    ),
}
CORPUS = {**ABSTRACTS, **CATALOG, **HELP}


@pytest.fixture(scope="module")
def exact_kb(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[KnowledgeBase]:
    kb = KnowledgeBase.open(
        tmp_path_factory.mktemp("exact") / "kb", create=True, settings=Settings(), embedder=embedder
    )
    kb.ingest_documents([Document(d, title, text, f"{d}.md") for d, (title, text) in CORPUS.items()])
    yield kb
    kb.close()


def first_document(kb: KnowledgeBase, text: str, **search: object) -> str:
    from ragtune.search import Retriever

    retriever = Retriever(kb.store, kb.embedder, SearchSettings(**search))  # type: ignore[arg-type]
    retriever.index = kb.retriever.index
    return retriever.retrieve(Query(text, k=5)).passages[0].doc_id


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("quokka-lantern protocol Zanzibar cohort", "nematodes"),  # the case
        ("SKU-1075", "catalog/sku-1075"),  # a bare id among look-alikes
        ("Which item is SKU-1075?", "catalog/sku-1075"),
        ("What does error DN-913 mean?", "help/notifications"),  # a code the error-code page does not list
    ],
)
def test_the_exact_match_comes_first_by_default_where_rrf_loses_it(
    exact_kb: KnowledgeBase, query: str, expected: str
) -> None:
    assert exact_kb.retrieve(Query(query, k=5)).passages[0].doc_id == expected
    # the test has power: today's reciprocal-rank fusion put another document first
    assert first_document(exact_kb, query, fusion="rrf", exact_first=False) != expected


def test_convex_alone_keeps_overwhelming_matches_and_the_identifier_stage_the_rest(exact_kb: KnowledgeBase) -> None:
    plain = {"fusion": "convex", "exact_first": False}
    assert first_document(exact_kb, "quokka-lantern protocol Zanzibar cohort", **plain) == "nematodes"
    assert first_document(exact_kb, "SKU-1075", **plain) == "catalog/sku-1075"
    # inside a question the code is one word among common ones the error-code page repeats: fusion alone loses it
    assert first_document(exact_kb, "What does error DN-913 mean?", **plain) != "help/notifications"
    assert first_document(exact_kb, "What does error DN-913 mean?", fusion="rrf") == "help/notifications"


def test_the_identifier_stage_respects_filters_and_other_modes(exact_kb: KnowledgeBase) -> None:
    hits = exact_kb.retrieve(Query("SKU-1075", k=5, filters={"doc_id": "help/*"})).passages
    assert hits and all(p.doc_id.startswith("help/") for p in hits)
    # dense search is the embedder's ranking, untouched
    dense = exact_kb.retrieve(Query("SKU-1075", k=5, mode="dense")).passages
    assert [p.scores["dense_rank"] for p in dense] == sorted(p.scores["dense_rank"] for p in dense)


def test_a_fusion_reads_the_depth_the_legs_ran_at(exact_kb: KnowledgeBase) -> None:
    # k above [search] depth deepens the legs; convex's "the leg was cut here" must know that depth.
    from ragtune.search import Retriever
    from ragtune.search.fusion import register_fusion, unregister_fusion

    seen: list[int] = []

    def recording(rankings: Mapping[str, Ranking], settings: SearchSettings, /) -> Ranking:
        seen.append(settings.depth)
        return fusion_named("convex")(rankings, settings)

    register_fusion("recording", recording)
    try:
        retriever = Retriever(exact_kb.store, exact_kb.embedder, SearchSettings(fusion="recording", depth=3))
        retriever.index = exact_kb.retriever.index
        retriever.retrieve(Query("protocol cohort mortality", k=2))
        retriever.retrieve(Query("protocol cohort mortality", k=8))
    finally:
        unregister_fusion("recording")
    assert seen == [3, 8]
