"""Ingest speed on SciFact: ragtune's first ingest into an empty KB against plain
``SentenceTransformer.encode`` fp32 on the same chunk texts in the same process, on two paths:

* ``native``: this CPU as it is, ragtune's precision chosen by its run-time probe (``[embed] precision = auto``);
* ``avx2-emulated``: the same CPU held to AVX2 for torch's kernels (``ATEN_CPU_CAPABILITY=avx2``,
  ``ONEDNN_MAX_CPU_ISA=AVX2``, ``MKL_ENABLE_INSTRUCTIONS=AVX2``, set before torch loads) with no bf16, i.e. fp32 —
  an emulation of an AVX2-only CPU, not one.

Each path runs in its own process and records chunks/s and word pieces/s of both, the speed-up (peer seconds /
ragtune first-ingest seconds, everything of ragtune's ingest counted: loading, chunking, hashing, SQLite), the
cosine of every ragtune vector to the peer's fp32 vector, and the share of the CPU's matmul peak (a 2,048³
``torch.mm``, fp32 and bf16, measured in the same process). The native path then re-ingests the unchanged
corpus. ``--quality`` instead measures SciFact nDCG@10 (whole corpus, test queries) of dense and hybrid search
with fp32 vectors and with the precision the probe chose (no timing; run it without the bench lock).

    .venv/bin/python benchmarks/ingest_speed.py --docs 600
    .venv/bin/python benchmarks/ingest_speed.py --quality
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

TARGET_SPEEDUP = 50.0  # re-ingest of an unchanged corpus vs first ingest
TARGETS = {"native": 2.0, "avx2-emulated": 1.3}  # first ingest vs SentenceTransformer.encode fp32 (issue 11)
TARGET_COSINE = 0.99
TARGET_NDCG_DELTA = 0.005
AVX2_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}


class Timed:
    """Wraps an embedder method and sums the seconds spent in it."""

    def __init__(self, fn: Any) -> None:
        self.fn, self.seconds, self.calls = fn, 0.0, 0

    def __call__(self, *a: Any, **kw: Any) -> Any:
        t = time.perf_counter()
        try:
            return self.fn(*a, **kw)
        finally:
            self.seconds += time.perf_counter() - t
            self.calls += 1


def matmul_peak(dtype: Any, n: int = 2048, reps: int = 5) -> float:
    """GFLOP/s of an n³ ``torch.mm`` in ``dtype`` (best of ``reps`` after one warm-up)."""
    import torch

    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def model_flops(model: Any, lengths: list[int]) -> float:
    """Useful FLOPs of a BERT-style encoder over texts of ``lengths`` tokens (no padding): the linear layers
    (2·(4h² + 2hi) per token per layer) and attention's two products (4·L·h per token per layer)."""
    cfg = model[0].auto_model.config
    h, i, layers = cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers
    return float(sum(n * layers * (2 * (4 * h * h + 2 * h * i) + 4 * n * h) for n in lengths))


def corpus_subset(docs: int) -> Path:
    corpus = common.scifact_dir() / "corpus.jsonl"
    if not docs:
        return corpus
    common.CACHE.mkdir(parents=True, exist_ok=True)
    subset = common.CACHE / f"scifact_first{docs}.jsonl"
    with corpus.open(encoding="utf-8") as f:
        subset.write_text("".join(line for _, line in zip(range(docs), f, strict=False)), encoding="utf-8")
    return subset


def run_path(path_name: str, docs: int) -> dict[str, Any]:
    """One path, in this process: ragtune's first ingest, then the peer on the same texts, then the comparison."""
    import numpy as np
    import torch

    from ragtune import KnowledgeBase
    from ragtune.kb.doc_context import indexed_text

    corpus = corpus_subset(docs)
    settings = common.settings()
    if path_name == "avx2-emulated":
        settings = settings.replace("embed", precision="fp32")
    if path_name != "native-default":
        # Like for like with the peer: the chunk vectors only. "native-default" is what `ragtune ingest` does with
        # default settings: also the extractive answerer's sentence vectors (ragtune.kb.sentences).
        settings = settings.replace("answer", sentence_vectors=False)
    peak = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    print(f"[{path_name}] matmul peak GFLOP/s: fp32 {peak['fp32']:.0f}, bf16 {peak['bf16']:.0f}", flush=True)

    kb_path = common.CACHE / f"ingest_speed_{path_name}"
    shutil.rmtree(kb_path, ignore_errors=True)
    kb = KnowledgeBase.open(kb_path, create=True, settings=settings)
    t = time.perf_counter()
    emb = kb.embedder
    # Once per machine and embedder, not per ingest: the query graph an ingest leaves ready for `ragtune search`
    # (an export the first time an embedder id is seen, e.g. fp32 on the emulated path). Counted with the model load.
    prepare = getattr(emb, "prepare_query_encoder", None)
    if prepare is not None:
        prepare()
    load_s = time.perf_counter() - t
    embed_timer = Timed(emb.embed)
    emb.embed = embed_timer  # type: ignore[method-assign]
    t = time.perf_counter()
    rep = kb.ingest([corpus], id_field="_id", text_field="text", title_field="title")
    first_s = time.perf_counter() - t
    emb.embed = embed_timer.fn  # type: ignore[method-assign]
    n_docs, n_chunks = len(rep.added), rep.chunks_written
    print(f"[{path_name}] ragtune first ingest: {n_docs} docs, {n_chunks} chunks in {first_s:.1f} s", flush=True)

    db = kb.store._db  # the benchmark reads the chunk texts back as stored
    rows = db.execute("SELECT context, text, id FROM chunks ORDER BY id").fetchall()
    texts = [indexed_text(c, x) for c, x, _ in rows]
    ours = np.stack(
        [
            np.frombuffer(
                db.execute(
                    "SELECT vector FROM embeddings WHERE chunk_id = ? AND embedder = ?", (cid, emb.id)
                ).fetchone()[0],
                dtype=np.float32,
            )
            for _, _, cid in rows
        ]
    )
    lengths = [min(n + 2, emb.max_tokens) for n in emb.count_tokens(texts)]
    n_tokens = sum(lengths)
    from sentence_transformers import SentenceTransformer

    from ragtune.embed.base import resolve_model_path

    model = SentenceTransformer(resolve_model_path(settings.embed.model), device="cpu")
    bs = settings.embed.batch_size
    with torch.inference_mode():
        model.encode(texts[:8], batch_size=bs)  # warm-up, as ragtune's probe warmed its model
        t = time.perf_counter()
        ref = model.encode(texts, batch_size=bs, normalize_embeddings=True, convert_to_numpy=True)
        st_s = time.perf_counter() - t
    cos = (ref * ours).sum(1)
    flops = model_flops(model, lengths)
    print(f"[{path_name}] peer SentenceTransformer.encode fp32, batch {bs}: {st_s:.1f} s", flush=True)
    result: dict[str, Any] = {
        "path": path_name,
        "env": {k: os.environ[k] for k in AVX2_ENV if k in os.environ},
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "mkldnn_bf16_supported": bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()),
        "torch_threads": torch.get_num_threads(),
        "embedder": emb.id,
        "precision_choice": getattr(emb, "precision_choice", {}),
        "docs": n_docs,
        "chunks": n_chunks,
        "tokens": n_tokens,
        "batch_size": bs,
        "model_load_s": load_s,
        "first_ingest_s": first_s,
        "first_chunks_per_s": n_chunks / first_s,
        "first_tokens_per_s": n_tokens / first_s,
        "embed_s": embed_timer.seconds,
        "embed_calls": embed_timer.calls,
        "peer_st_encode_s": st_s,
        "peer_chunks_per_s": len(texts) / st_s,
        "peer_tokens_per_s": n_tokens / st_s,
        "speedup_vs_peer": st_s / first_s,
        "target_speedup_vs_peer": TARGETS.get(path_name),
        "sentence_vectors": settings.answer.sentence_vectors,
        "cosine_min": float(cos.min()),
        "cosine_mean": float(cos.mean()),
        "matmul_peak_gflops": peak,
        "model_gflop": flops / 1e9,
        "ragtune_gflops": flops / first_s / 1e9,
        "peer_gflops": flops / st_s / 1e9,
    }
    precision = emb.id.rsplit(":", 1)[-1]
    result["ragtune_share_of_peak"] = result["ragtune_gflops"] / peak["bf16" if precision == "bf16" else "fp32"]
    result["peer_share_of_peak"] = result["peer_gflops"] / peak["fp32"]
    target = TARGETS.get(path_name)
    ok = target is not None and result["speedup_vs_peer"] >= target and result["cosine_min"] >= TARGET_COSINE
    result["met"] = ok if target is not None else None
    if path_name == "native":
        t = time.perf_counter()
        rep2 = kb.ingest([corpus], id_field="_id", text_field="text", title_field="title")
        again_s = time.perf_counter() - t
        assert rep2.version is None and rep2.chunks_embedded == 0, rep2.as_dict()
        result.update(
            reingest_s=again_s,
            reingest_speedup=first_s / again_s,
            target_reingest_speedup=TARGET_SPEEDUP,
            reingest_met=first_s / again_s >= TARGET_SPEEDUP,
            kb_size_mb=kb.status()["size_mb"],
        )
    kb.close()
    return result


def quality() -> None:
    """SciFact nDCG@10, dense and hybrid, fp32 vectors vs the precision ragtune's probe picks (whole corpus)."""
    import beir_scifact
    from ragtune.embed import load_embedder

    chosen = load_embedder(common.settings().embed.model).id.rsplit(":", 1)[-1]
    queries, qrels = common.scifact_queries("test")
    rows = {}
    for precision in dict.fromkeys(["fp32", chosen]):
        settings = common.settings().replace("embed", precision=precision).replace("answer", sentence_vectors=False)
        kb, _ = common.scifact_kb(f"scifact_{precision}", settings)  # retrieval only: no sentence vectors
        for mode in ("dense", "hybrid"):
            shallow, deep, _ = beir_scifact.run_mode(kb, queries, mode)
            rows[f"{precision} {mode}"] = beir_scifact.score(shallow, deep, qrels)["ndcg@10"]
            print(f"{precision} {mode}: nDCG@10 {rows[f'{precision} {mode}']:.4f}", flush=True)
        kb.close()
    deltas = {m: rows[f"{chosen} {m}"] - rows[f"fp32 {m}"] for m in ("dense", "hybrid")}
    common.write_result(
        "ingest_quality",
        {
            "chosen_precision": chosen,
            "ndcg@10": rows,
            "delta_vs_fp32": deltas,
            "target_abs_delta": TARGET_NDCG_DELTA,
            "met": all(abs(d) <= TARGET_NDCG_DELTA for d in deltas.values()),
        },
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=600, help="only the first N documents of the corpus (0: all)")
    ap.add_argument(
        "--paths",
        default="native,avx2-emulated,native-default",
        help="comma-separated: native, avx2-emulated (chunk vectors only), native-default (with sentence vectors)",
    )
    ap.add_argument("--quality", action="store_true", help="SciFact nDCG@10 fp32 vs the chosen precision instead")
    ap.add_argument("--child", help=argparse.SUPPRESS)  # internal: run one path and print its JSON
    args = ap.parse_args()
    common.scifact_dir()  # skip cleanly without data
    if args.quality:
        quality()
        return
    if args.child:
        print("RESULT " + json.dumps(run_path(args.child, args.docs)), flush=True)
        return
    command = " ".join([".venv/bin/python", "benchmarks/ingest_speed.py", *sys.argv[1:]])
    paths = {}
    for name in args.paths.split(","):
        env = dict(os.environ, **(AVX2_ENV if name == "avx2-emulated" else {}))
        proc = subprocess.run(
            [sys.executable, __file__, "--child", name, "--docs", str(args.docs)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        )
        for line in proc.stdout.splitlines():
            if line.startswith("RESULT "):
                paths[name] = json.loads(line[len("RESULT ") :])
            else:
                print(line, flush=True)
    rows = []
    for name, r in paths.items():
        rows.append(
            [
                f"{name}: ragtune first ingest ({r['embedder'].rsplit(':', 1)[-1]})",
                r["first_ingest_s"],
                r["first_chunks_per_s"],
                r["first_tokens_per_s"],
                r["speedup_vs_peer"],
                r["cosine_min"],
            ]
        )
        rows.append(
            [
                f"{name}: peer SentenceTransformer.encode fp32",
                r["peer_st_encode_s"],
                r["peer_chunks_per_s"],
                r["peer_tokens_per_s"],
                1.0,
                1.0,
            ]
        )
    print(common.table(["run", "seconds", "chunks/s", "tokens/s", "× peer", "min cosine"], rows))
    common.write_result("ingest_speed", {"paths": paths, "targets": TARGETS}, command=command)


if __name__ == "__main__":
    main()
