"""Retriever tuning: the embedding model fine-tuned on a team's own data, then the KB re-embedded with it.

SciFact: pairs from the **train** split only (its 809 queries and qrels, as an eval-set file of questions and source
documents) plus title pairs synthesized from the corpus (``--max-synthesized``), de-duplicated, with the test
queries kept out (the ``data check`` leakage test) and one hard negative each mined from the KB's hybrid search.
One epoch of MultipleNegativesRanking loss (``ragtune.tune.retriever``), then ``kb reembed`` into a new version;
test nDCG@10 and Recall@100 per mode before and after (the protocol of ``beir_scifact.py``), and version 1 searched
again after the re-embed (it must still score as before: it keeps its own vectors).

Reranker: a cross-encoder trained from the bundled MiniLM weights on the same pairs (with three mined negatives
each; ``ragtune.tune.retriever.train_reranker``), reordering the ``[search] rerank_depth`` best hybrid passages (20 by default; 50 before 2026-12-03);
test nDCG@10 with the base and with the tuned embedder, and the per-query latency it adds (p50/p95 over the test
queries, hybrid with and without the reranker, measured in the same run).

Help center: synthesized pairs only (structure + titles; no labels), eval questions kept out; recall@1/@5 and
MRR@10 of the eval questions' source documents before and after.

Generalisation guard: nDCG@10 of SQuAD dev (even articles) paragraphs for their questions, dense, with the base and
the SciFact-tuned model (not trained on SQuAD); the tuned one may not lose more than 0.01.

    .venv/bin/python benchmarks/retriever_tuning.py [--max-synthesized 320] [--lr 2e-5] [--skip-helpcenter]
    .venv/bin/python benchmarks/retriever_tuning.py --only-reranker --reranker-loss listwise --reranker-lr 3e-4

The reranker's blend with fusion (the cross-encoder's share of the score) is chosen by ``tune-reranker``'s rule on
its held-out pairs, searched with the base embedder's hybrid search; the same model and share then rerank the tuned
embedder's search too.

The SciFact KB is ``benchmarks/.cache/scifact`` (built by ``beir_scifact.py`` on first use), copied afresh to
``.cache/scifact_retriever`` for each run, so the shared one is never re-embedded.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from beir_scifact import run_mode, score
from metrics import ndcg_at_k

GOALS = {"dense": 0.70, "hybrid": 0.74}
RERANK_GAIN = 0.01  # reranked ≥ hybrid + this
EMBEDDER_NEGATIVES = 1  # mined negatives per pair for the embedder (the reranker reads all that were mined)
SQUAD_MAX_DROP = 0.01
MODES = ("dense", "lexical", "hybrid")
HELPCENTER = common.REPO / "examples" / "helpcenter"


def write_eval_file(path: Path, queries: dict[str, str], qrels: dict[str, dict[str, int]]) -> Path:
    """Queries and their relevant documents as an eval-set file (what a team's labelled questions look like)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps({"id": qid, "question": text, "sources": sorted(d for d, g in qrels[qid].items() if g > 0)})
        for qid, text in queries.items()
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def fresh_copy(name: str, source: str) -> Any:
    """A fresh copy of the cached KB ``source`` as ``name`` (built first if missing), opened with default settings."""
    from ragtune import KnowledgeBase

    src = common.CACHE / source
    if not (src / "kb.sqlite").exists():
        kb, _ = common.scifact_kb(source, progress=True)
        kb.close()
    dest = common.CACHE / name
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(src, dest)
    # Retrieval only: no answer-sentence vectors (they belong to the [embed] model and cost minutes here).
    return KnowledgeBase.open(dest, settings=common.settings().replace("answer", sentence_vectors=False))


def scifact_modes(kb: Any, queries: dict[str, str], qrels: Any, at: int | None = None) -> dict[str, dict[str, float]]:
    out = {}
    for mode in MODES:
        if at is None:
            shallow, deep, _ = run_mode(kb, queries, mode)
        else:
            shallow = {q: common.rank_docs(kb.search(t, k=50, mode=mode, at=at)) for q, t in queries.items()}
            deep = {q: common.rank_docs(kb.search(t, k=500, mode=mode, at=at)) for q, t in queries.items()}
        out[mode] = score(shallow, deep, qrels)
        print(f"  {mode}: {out[mode]}", flush=True)
    return out


def tune(kb: Any, pairs: list[Any], name: str, args: argparse.Namespace) -> Any:
    from ragtune.embed.base import resolve_model_path
    from ragtune.tune.retriever import RetrieverConfig, train_retriever

    config = RetrieverConfig(epochs=args.epochs, learning_rate=args.lr, batch_size=args.batch_size)
    return train_retriever(
        [dataclasses.replace(p, negatives=tuple(p.negatives[:EMBEDDER_NEGATIVES])) for p in pairs],
        resolve_model_path(kb.settings.embed.model),
        config,
        name=name,
        kb_dir=kb.path,
        kb_version=kb.head,
        quiet=True,
    )


def train_rerank(kb: Any, pairs: list[Any], name: str, args: argparse.Namespace) -> Any:
    """The reranker as ``tune-reranker`` trains it: its blend with fusion chosen on held-out pairs' hybrid search."""
    from ragtune.embed.base import resolve_model_path
    from ragtune.tune.retriever import search_candidates, train_reranker
    from ragtune.tune.training.reranker import RerankerTrainConfig

    config = RerankerTrainConfig(loss=args.reranker_loss, learning_rate=args.reranker_lr, epochs=args.reranker_epochs)
    return train_reranker(
        pairs,
        resolve_model_path(kb.settings.embed.model),
        config,
        name=name,
        kb_dir=kb.path,
        kb_version=kb.head,
        quiet=True,
        candidates=search_candidates(kb.retriever, kb.settings.search.rerank_depth),
    )


def reranked(kb: Any, name: str, queries: dict[str, str], qrels: Any) -> dict[str, Any]:
    """Test nDCG@10 of hybrid with reranker ``name`` over the ``rerank_depth`` best passages, and the latency of
    hybrid with and without it (same queries, same process, one after the other)."""
    from ragtune.search.rerank import reranker_named

    plain = kb.retriever
    with_rr = plain.with_reranker(reranker_named(name, kb.settings.search, Path(kb.path)))
    with_rr.search("warm up the cross-encoder", k=10, mode="hybrid")
    ranked, ms_plain, ms_rr = {}, [], []
    for qid, text in queries.items():
        t = time.perf_counter()
        plain.search(text, k=10, mode="hybrid")
        ms_plain.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        ranked[qid] = common.rank_docs(with_rr.search(text, k=50, mode="hybrid"))
        ms_rr.append((time.perf_counter() - t) * 1000)
    scores = score(ranked, ranked, qrels)
    out = {
        "ndcg@10": scores["ndcg@10"],
        "depth": kb.settings.search.rerank_depth,
        "latency_ms": {
            "hybrid_p50": round(float(np.percentile(ms_plain, 50)), 1),
            "hybrid_p95": round(float(np.percentile(ms_plain, 95)), 1),
            "reranked_p50": round(float(np.percentile(ms_rr, 50)), 1),
            "reranked_p95": round(float(np.percentile(ms_rr, 95)), 1),
        },
    }
    print(f"  hybrid+rerank: {out}", flush=True)
    return out


def scifact(args: argparse.Namespace) -> dict[str, Any]:
    from ragtune.tune.data.pairs import build_pairs

    train_q, train_rels = common.scifact_queries("train")
    test_q, test_rels = common.scifact_queries("test")
    labels = write_eval_file(common.CACHE / "scifact_retriever_data" / "train.jsonl", train_q, train_rels)
    held_out = write_eval_file(common.CACHE / "scifact_retriever_data" / "test.jsonl", test_q, test_rels)
    kb = fresh_copy("scifact_retriever", "scifact")
    print("SciFact before (base embedder):", flush=True)
    before = scifact_modes(kb, test_q, test_rels)
    t = time.perf_counter()
    built = build_pairs(
        kb,
        labels=[labels],
        eval_path=held_out,
        titles=args.max_synthesized > 0,
        synthesize_pairs=args.max_synthesized > 0,
        max_synthesized=args.max_synthesized or None,
        negatives=args.negatives,
        mine_mode="hybrid",
    )
    pairs_s = time.perf_counter() - t
    print(f"pairs: {built.as_dict()} in {pairs_s:.0f} s", flush=True)
    rerank: dict[str, Any] = {}
    if not args.skip_reranker:
        rr = train_rerank(kb, built.pairs, "scifact-reranker", args)
        print(f"reranker: {rr.steps} steps in {rr.train_seconds:.0f} s; {rr.metrics}", flush=True)
        rerank = {
            "training": {
                "steps": rr.steps,
                "seconds": rr.train_seconds,
                "metrics": rr.metrics,
                "loss": args.reranker_loss,
                "learning_rate": args.reranker_lr,
                "epochs": args.reranker_epochs,
            },
            "base_embedder": reranked(kb, "scifact-reranker", test_q, test_rels),
        }
        rerank["base_embedder"]["hybrid_ndcg@10"] = before["hybrid"]["ndcg@10"]
    if args.only_reranker:
        kb.close()
        return {"pairs": built.as_dict(), "pairs_seconds": round(pairs_s, 1), "reranker": rerank}
    result = tune(kb, built.pairs, "scifact-retriever", args)
    print(f"trained: {result.steps} steps in {result.train_seconds:.0f} s; {result.metrics}", flush=True)
    report = kb.reembed("scifact-retriever", progress=True)
    print(f"re-embedded: {report.chunks_embedded} chunks in {report.seconds:.0f} s", flush=True)
    print("SciFact after (tuned embedder):", flush=True)
    after = scifact_modes(kb, test_q, test_rels)
    v1_dense = scifact_modes_one(kb, test_q, test_rels, "dense", at=1)
    if rerank:
        rerank["tuned_embedder"] = reranked(kb, "scifact-reranker", test_q, test_rels)
        for key, hybrid in (("base_embedder", before), ("tuned_embedder", after)):
            rerank[key]["hybrid_ndcg@10"] = hybrid["hybrid"]["ndcg@10"]
            rerank[key]["goal_ndcg@10"] = hybrid["hybrid"]["ndcg@10"] + RERANK_GAIN
            rerank[key]["met"] = rerank[key]["ndcg@10"] >= rerank[key]["goal_ndcg@10"]
    rows = [
        {
            "mode": mode,
            "ndcg@10_before": before[mode]["ndcg@10"],
            "ndcg@10_after": after[mode]["ndcg@10"],
            "recall@100_before": before[mode]["recall@100"],
            "recall@100_after": after[mode]["recall@100"],
            "goal_ndcg@10": GOALS.get(mode),
            "met": after[mode]["ndcg@10"] >= GOALS[mode] if mode in GOALS else None,
        }
        for mode in MODES
    ]
    out = {
        "kb": {"chunks": report.chunks, "base": kb.embedder.id, "tuned": report.embedder_id},
        "pairs": built.as_dict(),
        "pairs_seconds": round(pairs_s, 1),
        "training": {
            "steps": result.steps,
            "seconds": result.train_seconds,
            "precision": result.precision,
            "config": {"epochs": args.epochs, "learning_rate": args.lr, "batch_size": args.batch_size},
            "metrics": result.metrics,
        },
        "reembed": {"chunks_embedded": report.chunks_embedded, "seconds": round(report.seconds, 1)},
        "rows": rows,
        "reranker": rerank,
        "fusion": kb.settings.search.fusion,
        "version_1_dense_ndcg@10_after_reembed": v1_dense,
        "model_path": str(result.path),
    }
    kb.close()
    return out


def scifact_modes_one(kb: Any, queries: dict[str, str], qrels: Any, mode: str, at: int) -> float:
    shallow = {q: common.rank_docs(kb.search(t, k=50, mode=mode, at=at)) for q, t in queries.items()}
    return float(score(shallow, shallow, qrels)["ndcg@10"])


def squad_guard(model_path: str) -> dict[str, Any]:
    """nDCG@10 of each SQuAD question's paragraph (dense, exact), base vs tuned embedder."""
    from ragtune.embed import load_embedder

    src = common.require(common.data_dir() / "squad-dev-even" / "dev-v1.1-even-articles.json", "SQuAD data")
    data = json.loads(src.read_text(encoding="utf-8"))["data"]
    texts, questions, gold = [], [], []
    for article in data:
        title = article["title"].replace("_", " ")
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                questions.append(qa["question"])
                gold.append(len(texts))
            texts.append(f"{title}\n{para['context']}")
    out: dict[str, Any] = {"paragraphs": len(texts), "questions": len(questions)}
    for label, spec in (("base", "all-MiniLM-L6-v2"), ("tuned", model_path)):
        embedder = load_embedder(spec)
        t = time.perf_counter()
        docs = embedder.embed(texts)
        qs = embedder.embed(questions)
        order = np.argsort(-(qs @ docs.T), axis=1)[:, :10]
        ndcg = float(
            np.mean([ndcg_at_k([str(d) for d in row], {str(g): 1}, 10) for row, g in zip(order, gold, strict=True)])
        )
        out[label] = {"embedder": embedder.id, "ndcg@10": ndcg, "seconds": round(time.perf_counter() - t, 1)}
        print(f"SQuAD {label}: nDCG@10 {ndcg:.4f}", flush=True)
    out["delta"] = out["tuned"]["ndcg@10"] - out["base"]["ndcg@10"]
    out["max_drop"] = SQUAD_MAX_DROP
    out["met"] = out["delta"] >= -SQUAD_MAX_DROP
    return out


def helpcenter(args: argparse.Namespace) -> dict[str, Any]:
    """Synthesized pairs only; the tuned embedder and the reranker as strategies in ``compare`` (quality with CIs,
    recall@5, setup cost) beside plain rag-extractive, then the KB re-embedded and document recall before/after."""
    from ragtune import KnowledgeBase
    from ragtune.evaluate.run.compare import CompareOptions, run_comparison
    from ragtune.tune.data.pairs import build_pairs

    root = common.CACHE / "helpcenter_retriever"
    shutil.rmtree(root, ignore_errors=True)
    questions = [q for q in common.read_jsonl(HELPCENTER / "eval.jsonl") if q.get("sources")]
    settings = common.settings().replace("answer", sentence_vectors=False)
    with KnowledgeBase.open(root, create=True, settings=settings) as kb:
        kb.ingest([HELPCENTER / "docs"])
        before = {mode: doc_recall(kb, questions, mode) for mode in ("dense", "hybrid")}
        built = build_pairs(kb, eval_path=HELPCENTER / "eval.jsonl", negatives=args.negatives, mine_mode="hybrid")
        print(f"help-center pairs: {built.as_dict()}", flush=True)
        result = tune(kb, built.pairs, "helpcenter-retriever", args)
        rr = None if args.skip_reranker else train_rerank(kb, built.pairs, "helpcenter-reranker", args)
        strategies = ["rag-extractive", "rag-extractive+tuned-retriever"]
        strategies += [] if rr is None else ["rag-extractive+rerank"]
        summary = run_comparison(
            kb,
            CompareOptions(
                eval_path=HELPCENTER / "eval.jsonl",
                out_dir=root / "compare",
                strategies=strategies,
                progress=False,
                command="benchmarks/retriever_tuning.py (help center)",
            ),
        )
        compared = {
            name: {
                key: summary["strategies"][name].get(key)
                for key in ("quality", "quality_ci", "retrieval_recall", "latency_p50_ms", "setup_seconds",
                            "setup_method", "status")
            }
            for name in strategies
        }  # fmt: skip
        advice = summary.get("advice") or {}
        caveat = next(
            (f["message"] for f in advice.get("reasons", []) if f.get("rule") == "retriever_vs_generator_tuning"), None
        )
        print(f"help-center compare: {json.dumps(compared)}\nadvise: {caveat}", flush=True)
        report = kb.reembed("helpcenter-retriever")
        after = {mode: doc_recall(kb, questions, mode) for mode in ("dense", "hybrid")}
    rows = [{"mode": m, "before": before[m], "after": after[m]} for m in before]
    print(f"help center: {rows}", flush=True)
    return {
        "questions": len(questions),
        "pairs": built.as_dict(),
        "training": {"steps": result.steps, "seconds": result.train_seconds, "metrics": result.metrics},
        "reranker_training": None
        if rr is None
        else {"steps": rr.steps, "seconds": rr.train_seconds, "metrics": rr.metrics},
        "compare": compared,
        "advise": caveat,
        "reembed_seconds": round(report.seconds, 1),
        "rows": rows,
    }


def doc_recall(kb: Any, questions: list[dict[str, Any]], mode: str) -> dict[str, float]:
    """Recall@1/@5 and MRR@10 of the questions' source documents (documents ranked by their best passage)."""
    hits1 = hits5 = 0
    rr = 0.0
    for q in questions:
        docs = common.rank_docs(kb.search(q["question"], k=10, mode=mode))
        gold = set(q["sources"])
        hits1 += bool(docs[:1] and docs[0] in gold)
        hits5 += bool(gold & set(docs[:5]))
        rr += next((1 / (i + 1) for i, d in enumerate(docs[:10]) if d in gold), 0.0)
    n = len(questions)
    return {"recall_at_1": hits1 / n, "recall_at_5": hits5 / n, "mrr_at_10": rr / n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-synthesized", type=int, default=320, help="title/structure pairs from the corpus (0: none)")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--negatives", type=int, default=3, help="hard negatives mined per pair (the embedder uses 1)")
    ap.add_argument("--skip-reranker", action="store_true")
    ap.add_argument("--reranker-loss", default="bce", choices=["bce", "listwise"])
    ap.add_argument("--reranker-lr", type=float, default=5e-5)
    ap.add_argument("--reranker-epochs", type=float, default=1.0)
    ap.add_argument(
        "--only-reranker",
        action="store_true",
        help="SciFact reranker on the base embedder only (no embedder tuning, guard or help center): "
        "results/reranker_tuning.json",
    )
    ap.add_argument("--skip-helpcenter", action="store_true")
    args = ap.parse_args()
    common.scifact_dir()
    started = time.perf_counter()
    if args.only_reranker:
        only = {"scifact": scifact(args), "total_seconds": 0.0}
        only["total_seconds"] = round(time.perf_counter() - started, 1)
        common.write_result("reranker_tuning", only)
        return
    result: dict[str, Any] = {"scifact": scifact(args)}
    result["squad_guard"] = squad_guard(result["scifact"]["model_path"])
    if not args.skip_helpcenter:
        result["helpcenter"] = helpcenter(args)
    result["total_seconds"] = round(time.perf_counter() - started, 1)
    common.write_result("retriever_tuning", result)


if __name__ == "__main__":
    main()
