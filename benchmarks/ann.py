"""The ANN vector leg at 1M chunks: recall@10 against the exact scan, hybrid p50, build time, memory, load time.

Three parts, one process, one run:

1. **Library choice** at ``--compare-chunks`` (100k): hnswlib, faiss-cpu (HNSW flat and HNSW SQ8) and usearch
   (int8), same vectors, same graph settings (M=32, ef_construction=80), 2 build threads, queries on one
   thread; recall@10 after the exact fp32 re-score of 100 candidates at ef 100 and 200.
2. **Where the threshold goes**: the exact int8 scan's p50 (dense leg alone) over the first 100k–1M rows.
3. **1M chunks**, the hybrid query as the Retriever runs it (``KeywordLeg.rank`` + ``VectorLeg.rank`` with the
   query embedding started in the background, then RRF), with the ANN leg and with the exact scan (the peer),
   on the same vectors and postings in the same run; also a filter admitting 30% of the chunks.

Data (realistic, not random): **vectors** are real SciFact chunk embeddings (all-MiniLM-L6-v2, the cached
benchmark KB ``benchmarks/.cache/scifact``, 11k chunks) mixed and perturbed: row = normalize(a + w·b + n) with
a, b two random SciFact chunk vectors, w ~ U(0, 0.5) and n Gaussian noise of norm ~0.25; so the 1M rows
cluster like real text embeddings (random unit vectors are unrealistically hard for HNSW). **Texts** for BM25:
random runs of 2–4 real SciFact sentences (as latency.py's synthetic KB). **Queries**: real SciFact queries
(their real embeddings). The 1M index is built in memory (``BM25Index``/``DenseIndex``/``ChunkIndex``
directly, one live version holding every chunk), not through the store: writing 1M chunks through SQLite takes
~10 minutes and several GB; the passage fetch from the store (~0.1 ms at 100k, latency.py) is therefore not in
the figures.

    .venv/bin/python benchmarks/ann.py [--chunks 1000000] [--queries 300] [--compare-chunks 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

TARGET_RECALL = 0.98
TARGET_HYBRID_P50_MS = 20.0
M, EF_ADD = 32, 80  # the graph settings of ragtune.search.ann, used for every library
WARMUP = 20
# Earlier runs of this script (same machine, same data, 1M chunks), before the search depth was raised:
TRIED = [
    "int8 nodes, 220 candidates searched at ef 440: dense recall@10 0.948, dense leg p50 1.0 ms, hybrid p50 18.1 ms "
    "(a filter admitting 30%, i.e. 734 candidates at ef 1468: recall 0.985, dense leg 2.7 ms)",
    "fp16 nodes, same depth: recall@10 0.948 (no gain), graph build 127 s vs 71 s, +1,095 MiB vs +675 MiB",
]


def rss_mib() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def base_vectors(embedder: Any) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """SciFact chunk vectors (the cached benchmark KB) and the query texts and their embeddings."""
    test_q, _ = common.scifact_queries("test")
    train_q, _ = common.scifact_queries("train")
    queries = list(test_q.values()) + list(train_q.values())
    cache = common.CACHE / "ann_base.npz"
    if cache.exists():
        z = np.load(cache)
        return z["base"], z["queries"], queries
    kb, _ = common.scifact_kb("scifact")
    kb.retriever.index.sync()
    base = np.asarray(kb.retriever.index.dense.matrix, dtype=np.float32)
    kb.close()
    qv = np.stack([embedder.embed_query(q) for q in queries]).astype(np.float32)
    np.savez(cache, base=base, queries=qv)
    return base, qv, queries


def realistic(base: np.ndarray, n: int, seed: int = 0, noise: float = 0.25) -> np.ndarray:
    """``n`` unit vectors: two random base rows mixed (weight U(0, 0.5) on the second) plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    d = base.shape[1]
    out = np.empty((n, d), dtype=np.float32)
    for s in range(0, n, 100_000):
        m = min(100_000, n - s)
        v = base[rng.integers(len(base), size=m)].copy()
        v += rng.uniform(0, 0.5, (m, 1)).astype(np.float32) * base[rng.integers(len(base), size=m)]
        v += rng.standard_normal((m, d)).astype(np.float32) * np.float32(noise / np.sqrt(d))
        out[s : s + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def exact_top(x: np.ndarray, q: np.ndarray, k: int, allowed: np.ndarray | None = None) -> np.ndarray:
    """Brute-force fp32 top-k rows per query (the ground truth)."""
    best = np.zeros((len(q), k), dtype=np.int64)
    for i in range(0, len(q), 50):
        s = q[i : i + 50] @ x.T
        if allowed is not None:
            s[:, ~allowed] = -np.inf
        part = np.argpartition(-s, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(s, part, axis=1), axis=1)
        best[i : i + 50] = np.take_along_axis(part, order, axis=1)
    return best


def recall(found: list[np.ndarray], truth: np.ndarray, k: int = 10) -> float:
    return float(
        np.mean([len(set(f[:k].tolist()) & set(t[:k].tolist())) / k for f, t in zip(found, truth, strict=True)])
    )


# --- 1. the library comparison ------------------------------------------------------------------------------


def compare_libraries(x: np.ndarray, q: np.ndarray, truth: np.ndarray, tmp: Path) -> list[dict[str, Any]]:
    rows = []
    from ragtune.search.ann import DTYPE

    for lib in ("hnswlib", "faiss HNSW flat", "faiss HNSW SQ8", f"usearch {DTYPE}"):
        r0, c0, t0 = rss_mib(), time.process_time(), time.perf_counter()
        path = tmp / "graph.bin"
        if lib == "hnswlib":
            import hnswlib

            h = hnswlib.Index("ip", x.shape[1])
            h.init_index(len(x), M=M, ef_construction=EF_ADD)
            h.set_num_threads(2)
            h.add_items(x)
            h.set_num_threads(1)
            build = time.perf_counter() - t0, time.process_time() - c0
            mem = rss_mib() - r0
            h.save_index(str(path))

            def search(v: np.ndarray, ef: int, h: Any = h) -> np.ndarray:
                h.set_ef(ef)
                return h.knn_query(v, 100)[0][0].astype(np.int64)

            t = time.perf_counter()
            h2 = hnswlib.Index("ip", x.shape[1])
            h2.load_index(str(path))
            load = time.perf_counter() - t
            del h2
        elif lib.startswith("faiss"):
            import faiss

            faiss.omp_set_num_threads(2)
            if lib.endswith("flat"):
                f = faiss.IndexHNSWFlat(x.shape[1], M, faiss.METRIC_INNER_PRODUCT)
            else:
                f = faiss.IndexHNSWSQ(x.shape[1], faiss.ScalarQuantizer.QT_8bit, M, faiss.METRIC_INNER_PRODUCT)
                f.train(x[:50_000])
            f.hnsw.efConstruction = EF_ADD
            f.add(x)
            faiss.omp_set_num_threads(1)
            build = time.perf_counter() - t0, time.process_time() - c0
            mem = rss_mib() - r0
            faiss.write_index(f, str(path))

            def search(v: np.ndarray, ef: int, f: Any = f, faiss: Any = faiss) -> np.ndarray:
                return f.search(v[None], 100, params=faiss.SearchParametersHNSW(efSearch=ef))[1][0]

            t = time.perf_counter()
            f2 = faiss.read_index(str(path))
            load = time.perf_counter() - t
            del f2
        else:
            from ragtune.search.ann import AnnIndex

            a = AnnIndex(x.shape[1], threads=2)
            a.add(x)
            build = time.perf_counter() - t0, time.process_time() - c0
            mem = rss_mib() - r0
            np.save(path.with_suffix(".npy"), a.to_array())
            path = path.with_suffix(".npy")

            def search(v: np.ndarray, ef: int, a: Any = a) -> np.ndarray:
                return a.candidates(v, 100, ef)

            t = time.perf_counter()
            AnnIndex.view(x.shape[1], np.load(path, mmap_mode="r"), len(x))
            load = time.perf_counter() - t
        row: dict[str, Any] = {
            "library": lib,
            "build_s": build[0],
            "build_cpu_s": build[1],
            "rss_added_mib": mem,
            "file_mib": path.stat().st_size / 2**20,
            "load_s": load,
        }
        for ef in (100, 200):
            lat, found = [], []
            for v in q:
                t = time.perf_counter()
                cand = search(v, ef)
                cand = cand[cand >= 0]
                top = cand[np.argsort(-(x[cand] @ v))[:10]]
                lat.append((time.perf_counter() - t) * 1000)
                found.append(top)
            row[f"ef{ef}"] = {"recall@10": recall(found, truth), "p50_ms": common.percentile(lat, 50)}
        print(f"  {lib}: {json.dumps(row)}", flush=True)
        rows.append(row)
        path.unlink(missing_ok=True)
    return rows


# --- 3. the 1M hybrid index ---------------------------------------------------------------------------------


def texts(n: int, seed: int = 0) -> list[str]:
    sents = []
    for d in common.read_jsonl(common.scifact_dir() / "corpus.jsonl"):
        sents += [s for s in re.split(r"(?<=[.!?])\s+", d["text"]) if len(s) > 20]
    rng = random.Random(seed)
    return [" ".join(rng.choice(sents) for _ in range(rng.randint(2, 4))) for _ in range(n)]


def bm25_index(n: int) -> tuple[Any, float | None]:
    """BM25 postings of ``n`` synthetic texts (cached in benchmarks/.cache/ann_<n>/). Returns (index, build s)."""
    from ragtune.search.lexical import BM25Index

    folder = common.CACHE / f"ann_{n}"
    bm = BM25Index()
    if (folder / "terms.txt").exists():
        terms = (folder / "terms.txt").read_text(encoding="utf-8").split("\n")
        arr = {k: np.load(folder / f"{k}.npy", mmap_mode="r") for k in ("term_offsets", "positions", "tfs", "lengths")}
        bm.load(terms, arr["term_offsets"], arr["positions"], arr["tfs"], arr["lengths"])
        return bm, None
    print(f"  analysing {n:,} synthetic texts for BM25 ...", flush=True)
    t = time.perf_counter()
    docs = texts(n)
    for s in range(0, n, 50_000):
        bm.add(docs[s : s + 50_000])
    build = time.perf_counter() - t
    terms, arrays = bm.arrays()
    folder.mkdir(parents=True, exist_ok=True)
    for k, a in arrays.items():
        np.save(folder / f"{k}.npy", a)
    (folder / "terms.txt").write_text("\n".join(terms), encoding="utf-8")
    return bm, build


def hybrid_index(bm: Any, dense: Any, embedder: Any) -> tuple[Any, Any, dict[str, Any]]:
    """A ChunkIndex holding ``bm`` and ``dense``, one live set with every chunk, and the two legs."""
    from ragtune.search.index import ChunkIndex, LiveSet
    from ragtune.search.legs import KeywordLeg, VectorLeg

    n = dense.size
    index = ChunkIndex(None, embedder)  # type: ignore[arg-type]  # no store: the index is built in memory
    index.bm25, index.dense, index.chunk_ids = bm, dense, np.arange(1, n + 1, dtype=np.int64)
    pos = np.arange(n, dtype=np.int64)
    live = LiveSet(1, pos + 1, pos, pos // 4, np.ones(n, dtype=bool), n, float(np.mean(bm.lengths[:n])))
    legs = {"lexical": KeywordLeg(index, None, "memory"), "dense": VectorLeg(index, embedder)}  # type: ignore[arg-type]
    return index, live, legs


def hybrid(legs: dict[str, Any], live: Any, allowed: np.ndarray, text: str, settings: Any, fuse: Any) -> Any:
    """What Retriever.retrieve does between the masks and the passage fetch."""
    started = {name: legs[name].begin(text) for name in ("dense", "lexical")}
    rankings = {name: legs[name].rank(started[name], live, allowed, settings.depth) for name in ("lexical", "dense")}
    return fuse(rankings, settings), rankings


def timed_hybrid(
    legs: dict[str, Any], live: Any, allowed: np.ndarray, queries: list[str]
) -> tuple[list[float], list[Any]]:
    from ragtune.search.fusion import fusion_named

    settings = common.settings().search
    fuse = fusion_named(settings.fusion)
    for q in queries[:WARMUP]:
        hybrid(legs, live, allowed, q, settings, fuse)
    lat, out = [], []
    for q in queries:
        t = time.perf_counter()
        (pos, _), rankings = hybrid(legs, live, allowed, q, settings, fuse)
        lat.append((time.perf_counter() - t) * 1000)
        out.append((pos[:10], rankings["dense"][0][:10]))
    return lat, out


def dense_p50(dense: Any, qv: np.ndarray, allowed: np.ndarray, depth: int = 100) -> float:
    for v in qv[:10]:
        dense.search(v, allowed, depth)
    lat = []
    for v in qv:
        t = time.perf_counter()
        dense.search(v, allowed, depth)
        lat.append((time.perf_counter() - t) * 1000)
    return common.percentile(lat, 50)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunks", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--compare-chunks", type=int, default=100_000, help="0: keep the previous comparison")
    ap.add_argument("--prepare", action="store_true", help="only build the cached inputs (untimed; run niced)")
    args = ap.parse_args()
    from ragtune.config import ANN_THRESHOLD
    from ragtune.embed import load_embedder
    from ragtune.search.dense import DenseIndex

    common.scifact_dir()
    embedder = load_embedder(common.settings().embed.model)
    base, all_qv, all_q = base_vectors(embedder)
    qv, queries = all_qv[: args.queries], all_q[: args.queries]
    prev_path = common.RESULTS / "ann.json"
    prev = json.loads(prev_path.read_text()) if prev_path.exists() else {}
    result: dict[str, Any] = {
        "embedder": embedder.id,
        "k": 10,
        "queries": len(queries),
        "graph": {"M": M, "ef_construction": EF_ADD},
    }
    if args.prepare:
        bm25_index(args.chunks)
        return

    # 1. the library comparison
    if args.compare_chunks:
        print(f"library comparison at {args.compare_chunks:,} vectors ...", flush=True)
        x = realistic(base, args.compare_chunks, seed=1)
        result["comparison"] = {
            "command": ".venv/bin/python benchmarks/ann.py " + " ".join(sys.argv[1:]),
            "chunks": args.compare_chunks,
            "rows": compare_libraries(x, qv, exact_top(x, qv, 10), common.CACHE),
        }
        del x
    else:
        result["comparison"] = prev.get("comparison")

    # 3. (vectors first: part 2 scans prefixes of them)
    n = args.chunks
    print(f"{n:,} realistic vectors ...", flush=True)
    x = realistic(base, n, seed=0)
    truth = exact_top(x, qv, 10)
    exact = DenseIndex(x.shape[1])
    exact.load(x, None, None)  # the int8 scan copy (what a loaded index holds)
    scan, scales = exact.arrays()["vectors_i8"], exact.arrays()["vector_scales"]

    # 2. the exact scan's cost by size
    ones = np.ones(n, dtype=bool)
    sizes = [s for s in (100_000, 200_000, 500_000, 1_000_000) if s <= n]
    scan_rows = []
    for s in sizes:
        part = DenseIndex(x.shape[1])
        part.load(x[:s], scan[:s], scales[:s])
        scan_rows.append({"chunks": s, "exact_dense_p50_ms": dense_p50(part, qv[:100], ones[:s])})
        print(f"  exact dense scan at {s:,}: p50 {scan_rows[-1]['exact_dense_p50_ms']:.2f} ms", flush=True)
    result["exact_scan_by_size"] = scan_rows

    # the graph: built, saved, viewed
    rss0 = rss_mib()
    ann = DenseIndex(x.shape[1], ann_threshold=ANN_THRESHOLD)
    t, c = time.perf_counter(), time.process_time()
    ann.load(x, scan, scales)  # no stored graph: builds it from the rows (every core)
    build_s, build_cpu = time.perf_counter() - t, time.process_time() - c
    assert ann.ann is not None
    graph_rss = rss_mib() - rss0
    path = common.CACHE / f"ann_{n}" / "graph.npy"
    path.parent.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    np.save(path, ann.ann.to_array())
    save_s = time.perf_counter() - t
    t = time.perf_counter()
    del ann  # what is measured from here is the graph viewed from its file, as a fresh process holds it
    viewed = DenseIndex(x.shape[1], ann_threshold=ANN_THRESHOLD)
    viewed.load(x, scan, scales, np.load(path, mmap_mode="r"))
    view_s = time.perf_counter() - t
    assert viewed.ann is not None and viewed.ann._viewed
    print(
        f"  graph: build {build_s:.1f} s ({build_cpu:.1f} s CPU), +{graph_rss:.0f} MiB, view {view_s * 1000:.1f} ms",
        flush=True,
    )

    bm, bm_build = bm25_index(n)
    rows = []
    filt = np.random.default_rng(3).random(n) < 0.3
    filt_truth = exact_top(x, qv, 10, filt)
    for label, dense in (("ANN (usearch HNSW, viewed from its file)", viewed), ("exact int8 scan (peer)", exact)):
        _, live, legs = hybrid_index(bm, dense, embedder)
        for flabel, allowed, tr in (("none", ones, truth), ("30% of chunks", filt, filt_truth)):
            lat, out = timed_hybrid(legs, live, allowed, queries)
            row = {
                "dense leg": label,
                "filter": flabel,
                "hybrid_p50_ms": common.percentile(lat, 50),
                "hybrid_p95_ms": common.percentile(lat, 95),
                "dense_p50_ms": dense_p50(dense, qv, allowed),
                "dense_recall@10": recall([d for _, d in out], tr),
                "_fused": [f for f, _ in out],
            }
            rows.append(row)
            print(
                f"  {label} [{flabel}]: hybrid p50 {row['hybrid_p50_ms']:.2f} ms, recall {row['dense_recall@10']:.4f}",
                flush=True,
            )
    for row in rows:  # the fused top-10 against the exact peer's, same filter
        peer = next(r for r in rows if r["filter"] == row["filter"] and r["dense leg"].startswith("exact"))
        row["hybrid_overlap@10"] = recall(row["_fused"], np.array([f[:10] for f in peer["_fused"]]))
    for row in rows:
        del row["_fused"]
    result.update(
        {
            "chunks": n,
            "how": "vectors: real SciFact chunk embeddings mixed and perturbed (normalize(a + U(0,0.5)·b + noise "
            "of norm 0.25)); texts: random runs of 2-4 SciFact sentences; queries: real SciFact queries; index "
            "built in memory (no store), one live version",
            "rows": rows,
            "graph_build_s": build_s,
            "graph_build_cpu_s": build_cpu,
            "graph_rss_mib": graph_rss,
            "graph_file_mib": path.stat().st_size / 2**20,
            "graph_save_s": save_s,
            "graph_view_s": view_s,
            "bm25_build_s": bm_build if bm_build is not None else prev.get("bm25_build_s"),
            "process_rss_mib": rss_mib(),
            "process_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "ann_stats": viewed.stats,
            "tried": TRIED,
            "target_recall": TARGET_RECALL,
            "target_hybrid_p50_ms": TARGET_HYBRID_P50_MS,
        }
    )
    main_row = rows[0]
    result["met"] = main_row["dense_recall@10"] >= TARGET_RECALL and main_row["hybrid_p50_ms"] <= TARGET_HYBRID_P50_MS
    path.unlink(missing_ok=True)
    common.write_result("ann", result)


if __name__ == "__main__":
    main()
