"""BEIR SciFact: nDCG@10 and Recall@100 of ragtune's retrieval modes, beside reference pipelines.

Documents are chunked, so documents are ranked by their best passage. nDCG@10 is taken from the ranking
a user gets with the default fusion depth (k=50 passages, enough for 10 distinct documents); Recall@100
from a deep search (k=500 passages, which also deepens each leg to 500 before fusion).

Peers, in the same run: sentence-transformers ``encode`` of whole documents (title + text, fp32, the
MTEB setting) with exact numpy search; bm25s (when installed); RRF (k=60) of those two.

    .venv/bin/python benchmarks/beir_scifact.py [--split test] [--tune] [--no-peers]

``--tune`` sweeps fusion settings on the *train* split and reports the chosen setting on test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from metrics import evaluate

TARGETS = {"lexical": 0.66, "dense": 0.64, "hybrid": 0.70}
SHALLOW_K = 50
DEEP_K = 500


def run_mode(kb: Any, queries: dict[str, str], mode: str) -> tuple[dict[str, list[str]], dict[str, list[str]], float]:
    """(shallow runs, deep runs, median ms per shallow query) for one search mode."""
    shallow: dict[str, list[str]] = {}
    deep: dict[str, list[str]] = {}
    times = []
    for qid, text in queries.items():
        t = time.perf_counter()
        ps = kb.search(text, k=SHALLOW_K, mode=mode)
        times.append((time.perf_counter() - t) * 1000)
        shallow[qid] = common.rank_docs(ps)
        deep[qid] = common.rank_docs(kb.search(text, k=DEEP_K, mode=mode))
    return shallow, deep, statistics.median(times)


def score(shallow: dict[str, list[str]], deep: dict[str, list[str]], qrels: Any) -> dict[str, float]:
    s = evaluate(shallow, qrels, 10, 100)
    d = evaluate(deep, qrels, 10, 100)
    return {"ndcg@10": s["ndcg@10"], "recall@100": d["recall@100"], "mrr@10": s["mrr@10"], "queries": s["queries"]}


def ragtune_rows(split: str, engine: str, modes: list[str], **search: Any) -> list[dict[str, Any]]:
    queries, qrels = common.scifact_queries(split)
    kb, _ = common.scifact_kb("scifact", common.settings(lexical_engine=engine, **search))
    rows = []
    for mode in modes:
        shallow, deep, ms = run_mode(kb, queries, mode)
        rows.append(
            {
                "system": f"ragtune {mode}" + ("" if engine == "memory" else f" ({engine})"),
                "mode": mode,
                "engine": engine,
                **score(shallow, deep, qrels),
                "p50_ms": ms,
            }
        )
    kb.close()
    return rows


# -- reference peers ------------------------------------------------------------------------------


def corpus() -> tuple[list[str], list[str]]:
    ids, texts = [], []
    for d in common.read_jsonl(common.scifact_dir() / "corpus.jsonl"):
        ids.append(str(d["_id"]))
        texts.append((d.get("title", "") + " " + d["text"]).strip())
    return ids, texts


def st_reference(ids: list[str], texts: list[str], queries: dict[str, str]) -> tuple[dict[str, Any], float, float]:
    """Whole-document sentence-transformers fp32 + exact numpy: (query id → (doc ids, scores)), p50 ms, ingest s."""
    from sentence_transformers import SentenceTransformer

    from ragtune.embed.base import resolve_model_path

    model = SentenceTransformer(resolve_model_path("all-MiniLM-L6-v2"), device="cpu")
    cache = common.CACHE / "st_whole_docs.npy"
    ingest_s = float("nan")
    if cache.exists():
        matrix = np.load(cache)
    else:
        t = time.perf_counter()
        matrix = model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
        ingest_s = time.perf_counter() - t
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, matrix)
    out, times = {}, []
    for qid, q in queries.items():
        t = time.perf_counter()
        v = model.encode([q], normalize_embeddings=True, convert_to_numpy=True)[0]
        s = matrix @ v
        top = np.argsort(-s)[:100]
        times.append((time.perf_counter() - t) * 1000)
        out[qid] = ([ids[i] for i in top], s[top])
    return out, statistics.median(times), ingest_s


def bm25s_reference(ids: list[str], texts: list[str], queries: dict[str, str]) -> tuple[dict[str, Any], float] | None:
    try:
        import bm25s
        import Stemmer
    except ImportError:
        return None
    stemmer = Stemmer.Stemmer("english")
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    out, times = {}, []
    for qid, q in queries.items():
        t = time.perf_counter()
        tok = bm25s.tokenize([q], stopwords="en", stemmer=stemmer, show_progress=False)
        docs, scores = retriever.retrieve(tok, k=100, show_progress=False, n_threads=1)
        times.append((time.perf_counter() - t) * 1000)
        out[qid] = ([ids[i] for i in docs[0]], scores[0])
    return out, statistics.median(times)


def rrf_docs(a: list[str], b: list[str], k: int = 60) -> list[str]:
    fused: dict[str, float] = {}
    for ranking in (a, b):
        for r, d in enumerate(ranking, start=1):
            fused[d] = fused.get(d, 0.0) + 1.0 / (k + r)
    return sorted(fused, key=lambda d: -fused[d])


def peer_rows(split: str, with_st: bool = True) -> list[dict[str, Any]]:
    queries, qrels = common.scifact_queries(split)
    ids, texts = corpus()
    rows: list[dict[str, Any]] = []
    st_runs: dict[str, list[str]] = {}
    if with_st or (common.CACHE / "st_whole_docs.npy").exists():
        st, st_ms, st_ingest = st_reference(ids, texts, queries)
        st_runs = {q: r[0] for q, r in st.items()}
        m = evaluate(st_runs, qrels, 10, 100)
        rows.append(
            {
                "system": "peer: sentence-transformers whole docs + numpy",
                "mode": "dense",
                **m,
                "p50_ms": st_ms,
                "ingest_s": st_ingest,
            }
        )
    got = bm25s_reference(ids, texts, queries)
    if got is not None:
        bm, bm_ms = got
        bm_runs = {q: r[0] for q, r in bm.items()}
        rows.append(
            {
                "system": "peer: bm25s (numpy backend)",
                "mode": "lexical",
                **evaluate(bm_runs, qrels, 10, 100),
                "p50_ms": bm_ms,
            }
        )
        if not st_runs:
            return rows
        fused = {q: rrf_docs(bm_runs[q], st_runs[q]) for q in queries}
        rows.append(
            {
                "system": "peer: RRF(bm25s, sentence-transformers), k=60",
                "mode": "hybrid",
                **evaluate(fused, qrels, 10, 100),
                "p50_ms": bm_ms + st_ms,
            }
        )
    return rows


# -- tuning on train -------------------------------------------------------------------------------


def tune(split_eval: str) -> dict[str, Any]:
    """Sweep fusion settings on train (nDCG@10 of the default shallow search); report the best on test."""
    grid: list[dict[str, Any]] = []
    for depth in (50, 100, 200):
        for rrf_k in (10, 30, 60, 100):
            grid.append({"fusion": "rrf", "rrf_k": rrf_k, "depth": depth})
    for w in (0.3, 0.4, 0.5, 0.6):
        grid.append({"fusion": "weighted", "weight_dense": w, "depth": 100})
    for w in (0.6, 0.7, 0.75, 0.8, 0.85):  # benchmarks/fusion.py sweeps it finely
        grid.append({"fusion": "convex", "weight_dense": w, "depth": 100})
    queries, qrels = common.scifact_queries("train")
    results = []
    from ragtune.embed import load_embedder

    emb = load_embedder(common.settings().embed.model)
    original = emb.embed_query
    memo: dict[str, np.ndarray] = {}
    emb.embed_query = lambda q: memo[q] if q in memo else memo.setdefault(q, original(q))  # type: ignore[method-assign]
    for params in grid:
        kb, _ = common.scifact_kb("scifact", common.settings(**params))
        runs = {q: common.rank_docs(kb.search(t, k=SHALLOW_K, mode="hybrid")) for q, t in queries.items()}
        kb.close()
        m = evaluate(runs, qrels, 10, 100)
        results.append({**params, "train_ndcg@10": m["ndcg@10"]})
        print(f"  train {params}: nDCG@10 {m['ndcg@10']:.4f}", flush=True)
    del emb.embed_query  # back to the class method
    best = max(results, key=lambda r: r["train_ndcg@10"])
    params = {k: v for k, v in best.items() if k != "train_ndcg@10"}
    test_q, test_qrels = common.scifact_queries(split_eval)
    kb, _ = common.scifact_kb("scifact", common.settings(**params))
    runs = {q: common.rank_docs(kb.search(t, k=SHALLOW_K, mode="hybrid")) for q, t in test_q.items()}
    kb.close()
    return {
        "grid": results,
        "best": params,
        "best_train_ndcg@10": best["train_ndcg@10"],
        "best_on_" + split_eval: evaluate(runs, test_qrels, 10, 100),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="test", choices=["test", "train"])
    ap.add_argument("--no-peers", action="store_true", help="skip the reference pipelines")
    ap.add_argument("--no-st-peer", action="store_true", help="skip the whole-document encode peer (minutes)")
    ap.add_argument("--tune", action="store_true", help="sweep fusion settings on the train split")
    args = ap.parse_args()
    common.scifact_dir()

    t0 = time.perf_counter()
    kb, rep = common.scifact_kb("scifact", progress=True)
    status = kb.status()
    embedder_id = kb.embedder.id
    kb.close()
    print(
        f"KB: {status['documents']} docs, {status['chunks']} chunks, embedder {embedder_id} "
        f"(ingest this run: {rep.seconds:.1f} s, {rep.chunks_embedded} chunks embedded)",
        flush=True,
    )

    modes = ["lexical", "dense", "hybrid"]
    rows = ragtune_rows(args.split, "memory", modes)
    rows += ragtune_rows(args.split, "fts5", ["lexical", "hybrid"])
    if not args.no_peers:
        rows += peer_rows(args.split, with_st=not args.no_st_peer)
    for r in rows:
        target = TARGETS.get(r["mode"]) if r["system"].startswith("ragtune") and r.get("engine") == "memory" else None
        r["target_ndcg@10"] = target
        r["met"] = None if target is None else r["ndcg@10"] >= target
    tuned = tune(args.split) if args.tune else None

    headers = ["system", "nDCG@10", "Recall@100", "MRR@10", "p50 ms/query", "target", "met"]
    print(
        common.table(
            headers,
            [
                [
                    r["system"],
                    r["ndcg@10"],
                    r["recall@100"],
                    r["mrr@10"],
                    r["p50_ms"],
                    r["target_ndcg@10"] or "",
                    "" if r["met"] is None else r["met"],
                ]
                for r in rows
            ],
        )
    )
    if tuned:
        print(
            f"tuned on train: {tuned['best']} (train nDCG@10 {tuned['best_train_ndcg@10']:.4f}) → "
            f"{args.split} nDCG@10 {tuned['best_on_' + args.split]['ndcg@10']:.4f}"
        )
    common.write_result(
        "beir_scifact",
        {
            "split": args.split,
            "kb": {"documents": status["documents"], "chunks": status["chunks"], "embedder": embedder_id},
            "protocol": f"doc ranked by best passage; nDCG@10/MRR from k={SHALLOW_K} passages (default depth), "
            f"Recall@100 from k={DEEP_K} passages",
            "rows": rows,
            "tuning": tuned,
            "seconds": round(time.perf_counter() - t0, 1),
        },
    )


if __name__ == "__main__":
    main()
