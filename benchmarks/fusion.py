"""Fusion that keeps exact evidence: ``rrf`` vs ``weighted`` vs ``convex`` on SciFact, rare terms and the help center.

A help-center user types an error code, a product or setting name, a newly added term exactly as written; the
one passage holding it should come first. Reciprocal-rank fusion reads ranks only, so a document that is the
unique, overwhelming keyword match can lose to one ranked second in both legs. This script measures, per fusion:

1. the **rare-term set**, built deterministically: a seeded sample of SciFact abstracts, each given one sentence
   with an invented term — an error code (``E-4471``, look-alike codes in other abstracts), a product name, a
   protocol name (the issue's quokka-lantern case) or a bare id (``LOT-20417`` among look-alike ids) — ingested
   as a new version on a *copy* of the SciFact KB; a query names the term. Same for the help center: pages of a
   copy of ``examples/helpcenter/docs`` given new ``DN-9xx`` error codes and setting names. The edited document
   must rank first (exact-first rate; MRR@10 too);
2. SciFact **test** nDCG@10 and Recall@100 of hybrid search (the protocol of ``beir_scifact.py``: documents by
   their best passage, nDCG from k=50 passages, Recall@100 from k=500);
3. the help center's page recall@1/@5 and MRR@10 on its eval questions (as ``doc_context.py`` measures them);
4. the cost: p50 of a whole hybrid query (k=10) and of the fusion call alone.

``weight_dense`` (the dense leg's share) is chosen for ``weighted`` and ``convex`` by SciFact **train** nDCG@10
only; the test split, the rare-term set and the help center are never used to choose anything. The legs of every
query are captured once through the retriever's own legs and fused offline by the registered fusion functions;
a check re-runs some queries through ``KnowledgeBase.search`` and requires the same documents.

    .venv/bin/python benchmarks/fusion.py
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from metrics import evaluate
from rare_terms import SEED, RareQuery, helpcenter_rare, scifact_rare

HELPCENTER = common.REPO / "examples" / "helpcenter"
SHALLOW_K, DEEP_K = 50, 500  # passages, as in beir_scifact.py
ALPHAS = tuple(round(0.05 * i, 2) for i in range(2, 20))  # weight_dense swept on train: 0.10 … 0.95
Ranking = tuple[np.ndarray, np.ndarray]


# -- the legs of a query, captured once; fusion replayed offline -------------------------------------------------


class Legs:
    """One KB at one version: the legs' rankings of a query, and the documents a fused ranking returns (the
    retriever's own passage order: each chunk position's live passages, then documents by first passage)."""

    def __init__(self, kb: Any, version: int | None = None) -> None:
        self.kb = kb
        self.retriever = kb.retriever
        self.version = kb.head if version is None else version
        self.live = self.retriever.index.live(self.version)
        self.chunk_ok, passage_ok = self.retriever.index.allowed(self.live, None)
        rows = kb.store.passages(self.live.passage_ids.tolist())
        docs: dict[int, list[str]] = {}
        order, _ = self.live.by_position()
        for idx in order.tolist():
            if passage_ok[idx]:
                pos = int(self.live.passage_pos[idx])
                docs.setdefault(pos, []).append(rows[int(self.live.passage_ids[idx])]["doc_id"])
        self.docs_at = docs

    def rank(self, text: str, depth: int) -> dict[str, Ranking]:
        legs = self.retriever.legs
        started = {name: legs[name].begin(text) for name in ("dense", "lexical")}
        return {name: legs[name].rank(started[name], self.live, self.chunk_ok, depth) for name in ("lexical", "dense")}

    def documents(self, positions: np.ndarray, k: int) -> list[str]:
        """The documents of the first ``k`` passages of a fused ranking, in order of their best passage."""
        passages: list[str] = []
        for pos in positions.tolist():
            passages += self.docs_at.get(pos, [])
            if len(passages) >= k:
                break
        return list(dict.fromkeys(passages[:k]))


def codes(legs: Legs, text: str) -> list[np.ndarray]:
    """What ``[search] exact_first`` moves ahead: per identifier (a code) the query names, the chunks holding it."""
    from ragtune.search.exact import identifiers

    return [legs.retriever.index.bm25.holding(t, legs.chunk_ok) for t in identifiers(text)]


LOOSE_IDENTIFIER = re.compile(r"(?<![\w.-])(?=[\w.-]*\d)(?=[\w.-]*[^\W\d_])[^\W_]+(?:[-_.][^\W_]+)*")


def letters_and_digits(legs: Legs, text: str) -> list[np.ndarray]:
    """The alternative: any token mixing letters and digits (IL-6, p53, Th2 too), not only codes."""
    from ragtune.text import analyze

    found = (tuple(analyze(m.group())) for m in LOOSE_IDENTIFIER.finditer(text))
    return [legs.retriever.index.bm25.holding(t, legs.chunk_ok) for t in dict.fromkeys(t for t in found if t)]


def rarest_words(legs: Legs, text: str) -> list[np.ndarray]:
    """The alternative: the chunks holding every query word that only one live chunk holds."""
    from ragtune.text import analyze

    bm25 = legs.retriever.index.bm25
    held = [bm25.holding([t], legs.chunk_ok) for t in dict.fromkeys(analyze(text))]
    return [h for h in held if len(h) == 1]


RULES: dict[str, Callable[[Legs, str], list[np.ndarray]]] = {
    "codes": codes,
    "letters_and_digits": letters_and_digits,
    "rarest_words": rarest_words,
}


@dataclass(frozen=True)
class System:
    """A fusion by name with its settings, and whether the exact-identifier stage runs after it. ``rule`` and
    ``unseen_floor`` are the alternatives the ablation measures (``codes`` and the leg's bound ship)."""

    fusion: str
    weight_dense: float | None = None
    exact_first: bool = False
    rule: str = "codes"
    unseen_floor: bool = False

    @property
    def family(self) -> str:
        return self.fusion + (" + exact_first" if self.exact_first else "")

    @property
    def label(self) -> str:
        return self.family + ("" if self.weight_dense is None else f", weight_dense {self.weight_dense}")

    def search_settings(self, **more: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"fusion": self.fusion, "exact_first": self.exact_first, **more}
        if self.weight_dense is not None:
            out["weight_dense"] = self.weight_dense
        return out


def replay(legs: Legs, system: System, text: str, rankings: dict[str, Ranking], k: int, depth: int = 100) -> list[str]:
    """The documents ``KnowledgeBase.search(text, k)`` returns under ``system``, from the captured legs."""
    from ragtune.config import SearchSettings
    from ragtune.search.exact import exact_first
    from ragtune.search.fusion import fusion_named

    # A depth no leg reaches: every leg "ran out", so a position it did not return counts as its floor.
    settings = SearchSettings(**system.search_settings(depth=10**9 if system.unseen_floor else depth))
    positions, scores = fusion_named(system.fusion)(rankings, settings)
    if system.exact_first:
        positions, scores = exact_first(positions, scores, RULES[system.rule](legs, text), depth)
    return legs.documents(positions, k)


@dataclass
class Captured:
    """Queries (id → text) and their legs at one depth."""

    texts: dict[str, str]
    rankings: dict[str, dict[str, Ranking]]
    depth: int

    @classmethod
    def of(cls, legs: Legs, texts: dict[str, str], depth: int) -> Captured:
        return cls(texts, {q: legs.rank(t, depth) for q, t in texts.items()}, depth)

    def runs(self, legs: Legs, system: System, k: int) -> dict[str, list[str]]:
        return {q: replay(legs, system, self.texts[q], r, k, self.depth) for q, r in self.rankings.items()}


# -- the rare-term sets (built in rare_terms.py) -------------------------------------------------------------


def rare_rate(legs: Legs, queries: list[RareQuery], captured: Captured, system: System) -> dict[str, Any]:
    """Share of queries whose edited document ranks first (and MRR@10 of it), overall and per kind."""
    first: dict[str, list[bool]] = {}
    rr: list[float] = []
    for q in queries:
        docs = replay(legs, system, q.query, captured.rankings[q.query], 10, captured.depth)
        rank = docs.index(q.doc_id) + 1 if q.doc_id in docs[:10] else 0
        first.setdefault(q.kind, []).append(rank == 1)
        rr.append(1.0 / rank if rank else 0.0)
    every = [x for v in first.values() for x in v]
    return {
        "queries": len(every),
        "exact_first": sum(every) / len(every),
        "mrr@10": sum(rr) / len(rr),
        "by_kind": {k: sum(v) / len(v) for k, v in first.items()},
    }


def rare_captured(legs: Legs, queries: list[RareQuery]) -> Captured:
    return Captured.of(legs, {q.query: q.query for q in queries}, 100)


# -- the help center's eval questions ----------------------------------------------------------------------------


def helpcenter_eval(legs: Legs, captured: Captured, gold: dict[str, set[str]], system: System) -> dict[str, Any]:
    """Page recall@1/@5 and MRR@10 of the eval questions' source pages (as benchmarks/doc_context.py)."""
    hits1 = hits5 = 0
    rr = 0.0
    for qid, docs in captured.runs(legs, system, 10).items():
        hits1 += bool(docs[:1] and docs[0] in gold[qid])
        hits5 += bool(gold[qid] & set(docs[:5]))
        rr += next((1 / (i + 1) for i, d in enumerate(docs[:10]) if d in gold[qid]), 0.0)
    n = len(captured.rankings)
    return {"questions": n, "recall@1": hits1 / n, "recall@5": hits5 / n, "mrr@10": rr / n}


# -- main ------------------------------------------------------------------------------------------------------


def choose_on_train(legs: Legs, train: Captured, qrels: Any) -> tuple[list[System], list[dict[str, Any]]]:
    """The systems compared: rrf as today, and each weighted family at its best weight_dense on train."""
    grid: list[dict[str, Any]] = []
    systems = [System("rrf"), System("rrf", exact_first=True)]
    for fusion, exact in (("weighted", False), ("convex", False), ("convex", True)):
        best: tuple[float, System] | None = None
        for alpha in ALPHAS:
            system = System(fusion, alpha, exact)
            ndcg = evaluate(train.runs(legs, system, SHALLOW_K), qrels, 10, 100)["ndcg@10"]
            grid.append({"family": system.family, "weight_dense": alpha, "train_ndcg@10": ndcg})
            print(f"  train {system.label}: nDCG@10 {ndcg:.4f}", flush=True)
            if best is None or ndcg > best[0]:
                best = (ndcg, system)
        assert best is not None
        systems.append(best[1])
    for system in systems[:2]:
        ndcg = evaluate(train.runs(legs, system, SHALLOW_K), qrels, 10, 100)["ndcg@10"]
        grid.append({"family": system.family, "weight_dense": None, "train_ndcg@10": ndcg})
    return systems, grid


def timed(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def latency(kb: Any, legs: Legs, system: System, shallow: Captured) -> dict[str, float]:
    """Median ms of a whole hybrid query (k=10) and µs of the fusion (+ exact stage) alone, 100 test queries; and a
    check that the offline replay is what ``KnowledgeBase.search`` returns."""
    from ragtune import KnowledgeBase

    sample = list(shallow.texts.items())[:100]
    s = common.settings(**system.search_settings())
    with KnowledgeBase.open(common.CACHE / "scifact", settings=s, embedder=kb.embedder) as searcher:
        for qid, text in sample[:25]:
            got = common.rank_docs(searcher.search(text, k=SHALLOW_K))
            assert got == replay(legs, system, text, shallow.rankings[qid], SHALLOW_K), f"{system.label}: {qid}"
        query_ms = [timed(lambda t=t: searcher.search(t, k=10), 3) * 1e3 for _, t in sample]
    fuse_us = [timed(lambda q=q, t=t: replay(legs, system, t, shallow.rankings[q], 0), 5) * 1e6 for q, t in sample]
    return {"query_p50_ms": statistics.median(query_ms), "fusion_p50_us": statistics.median(fuse_us)}


@dataclass
class Sets:
    """The sets besides SciFact test, captured once: the rare-term sets and the help center's eval questions."""

    rare_legs: Legs
    rare_q: list[RareQuery]
    rare: Captured
    hc_legs: Legs
    hc_eval: Captured
    gold: dict[str, set[str]]
    hc_rare_legs: Legs
    hc_rare_q: list[RareQuery]
    hc_rare: Captured

    def quality(self, system: System) -> dict[str, Any]:
        return {
            "rare_scifact": rare_rate(self.rare_legs, self.rare_q, self.rare, system),
            "rare_helpcenter": rare_rate(self.hc_rare_legs, self.hc_rare_q, self.hc_rare, system),
            "helpcenter": helpcenter_eval(self.hc_legs, self.hc_eval, self.gold, system),
        }


def helpcenter_sets(tmp: Path, rare_legs: Legs, rare_q: list[RareQuery]) -> tuple[Sets, Any]:
    """A copy of the help center ingested (its eval questions' legs), then edited and ingested again (the rare-
    term queries' legs). Returns the sets and the KB (to close)."""
    from ragtune import KnowledgeBase

    docs = tmp / "docs"
    shutil.copytree(HELPCENTER / "docs", docs)
    hc = KnowledgeBase.open(tmp / "kb", create=True, settings=common.settings())
    hc.ingest([docs])
    questions = [q for q in common.read_jsonl(HELPCENTER / "eval.jsonl") if q.get("sources")]
    hc_legs = Legs(hc)
    hc_eval = Captured.of(hc_legs, {q["id"]: q["question"] for q in questions}, 100)
    hc_rare_q = helpcenter_rare(docs, random.Random(SEED))
    hc.ingest([docs])
    hc_rare_legs = Legs(hc)
    sets = Sets(
        rare_legs,
        rare_q,
        rare_captured(rare_legs, rare_q),
        hc_legs,
        hc_eval,
        {q["id"]: set(q["sources"]) for q in questions},
        hc_rare_legs,
        hc_rare_q,
        rare_captured(hc_rare_legs, hc_rare_q),
    )
    return sets, hc


def ablation(legs: Legs, train: Captured, qrels: Any, sets: Sets, alpha: float) -> list[dict[str, Any]]:
    """Each design choice of ``convex`` + ``exact_first`` against its alternative at the chosen weight; SciFact
    train nDCG@10 decides, the other columns show what the alternative would cost or fix."""
    variants = {
        "convex + exact_first (as shipped)": System("convex", alpha, True),
        "convex alone": System("convex", alpha),
        "convex, a leg's unseen position counted as its floor": System("convex", alpha, unseen_floor=True),
        "convex + any token mixing letters and digits first": System("convex", alpha, True, "letters_and_digits"),
        "convex + chunks holding a word only one chunk holds first": System("convex", alpha, True, "rarest_words"),
    }
    out = []
    for name, system in variants.items():
        ndcg = evaluate(train.runs(legs, system, SHALLOW_K), qrels, 10, 100)["ndcg@10"]
        q = sets.quality(system)
        out.append(
            {
                "variant": name,
                "train_ndcg@10": ndcg,
                "rare_scifact": q["rare_scifact"]["exact_first"],
                "rare_helpcenter": q["rare_helpcenter"]["exact_first"],
                "helpcenter_recall@1": q["helpcenter"]["recall@1"],
                "helpcenter_mrr@10": q["helpcenter"]["mrr@10"],
            }
        )
        print(out[-1], flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-kind", type=int, default=25, help="edited SciFact abstracts per kind of rare term")
    args = ap.parse_args()
    t0 = time.perf_counter()
    kb, _ = common.scifact_kb("scifact")
    legs = Legs(kb)
    train_q, train_qrels = common.scifact_queries("train")
    test_q, test_qrels = common.scifact_queries("test")
    print(f"SciFact: {len(train_q)} train, {len(test_q)} test queries", flush=True)
    train = Captured.of(legs, train_q, 100)
    systems, grid = choose_on_train(legs, train, train_qrels)
    print("compared: " + ", ".join(s.label for s in systems), flush=True)

    shallow, deep = Captured.of(legs, test_q, 100), Captured.of(legs, test_q, DEEP_K)
    rows: dict[System, dict[str, Any]] = {}
    for system in systems:
        s = evaluate(shallow.runs(legs, system, SHALLOW_K), test_qrels, 10, 100)
        d = evaluate(deep.runs(legs, system, DEEP_K), test_qrels, 10, 100)
        rows[system] = {
            "system": system.label,
            **system.search_settings(),
            "scifact_test": {"ndcg@10": s["ndcg@10"], "mrr@10": s["mrr@10"], "recall@100": d["recall@100"]},
            **latency(kb, legs, system, shallow),
        }
        print(rows[system], flush=True)

    rare_kb, rare_q = scifact_rare(args.per_kind)
    curve = []  # how the rare-term rates move with weight_dense: reported, never chosen by
    with tempfile.TemporaryDirectory() as tmp_name:
        sets, hc = helpcenter_sets(Path(tmp_name), Legs(rare_kb), rare_q)
        for system in systems:
            rows[system].update(sets.quality(system))
            print(system.label, {k: rows[system][k] for k in ("rare_scifact", "rare_helpcenter", "helpcenter")})
        for fusion, exact in (("weighted", False), ("convex", False), ("convex", True)):
            for alpha in ALPHAS:
                q = sets.quality(System(fusion, alpha, exact))
                curve.append(
                    {
                        "family": System(fusion, alpha, exact).family,
                        "weight_dense": alpha,
                        "rare_scifact": q["rare_scifact"]["exact_first"],
                        "rare_helpcenter": q["rare_helpcenter"]["exact_first"],
                        "helpcenter_mrr@10": q["helpcenter"]["mrr@10"],
                    }
                )
        chosen = next(s for s in systems if s.fusion == "convex" and s.exact_first)
        ablations = ablation(legs, train, train_qrels, sets, chosen.weight_dense or 0.0)
        hc.close()
    rare_kb.close()
    kb.close()
    common.write_result(
        "fusion",
        {
            "protocol": "weight_dense chosen by SciFact train nDCG@10 (k=50 passages); test nDCG@10 from k=50, "
            "Recall@100 from k=500 passages; rare-term sets: the edited document ranked first among k=10",
            "seed": SEED,
            "rare_sets": {
                "scifact": {"queries": len(rare_q), "examples": [q.__dict__ for q in rare_q[:8]]},
                "helpcenter": {"queries": len(sets.hc_rare_q), "examples": [q.__dict__ for q in sets.hc_rare_q[:3]]},
            },
            "rows": list(rows.values()),
            "train_grid": grid,
            "curve": curve,
            "ablation": ablations,
            "seconds": round(time.perf_counter() - t0, 1),
        },
    )


if __name__ == "__main__":
    main()
