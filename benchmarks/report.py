"""Regenerate docs/benchmarks.md from benchmarks/results/*.json (run by run_all.py; safe to run alone).

.venv/bin/python benchmarks/report.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))

from readings import readings as peer_readings

import common

DOC = common.REPO / "docs" / "benchmarks.md"


def _f(v: Any, nd: int = 3) -> str:
    if v is None or v == "":
        return ""
    if isinstance(v, bool):
        return "yes" if v else "**no**"
    if isinstance(v, float):
        if v != v:
            return "–"
        return f"{v:.{nd}f}" if abs(v) < 100 else f"{v:,.0f}"
    return str(v)


def _header(r: dict[str, Any]) -> list[str]:
    m = r.get("machine", {})
    return [
        f"Command: `{r['command'].strip()}` — run {r['date']}.",
        f"Machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, {m.get('ram_gib', '?')} GiB RAM, "
        f"bf16 matmul {'yes' if m.get('bf16') else 'no'}; Python {m.get('python', '?')}, torch {m.get('torch', '?')} "
        f"({m.get('torch_threads', '?')} intra-op threads)"
        + (f"; load average at the end {m['load_avg_1m_at_end']}" if "load_avg_1m_at_end" in m else "")
        + (f"; embedder `{r['embedder']}`" if r.get("embedder") else "")
        + ".",
        "",
    ]


def cold_start(r: dict[str, Any]) -> list[str]:
    out = ["## CLI cold start: `ragtune --help`, `search`, `ask` as fresh processes", ""]
    out += _header(r)
    out += [
        f"The demo KB (examples/helpcenter/docs, 171 chunks), each command run {r['runs']} times as a new process "
        "(wall seconds from exec to exit; median, min–max), and which heavy libraries the process imported. "
        "`before` is an older checkout's `src/` timed in the same run with the same interpreter (see the command).",
        "",
        "| code | command | median s | min–max s | target s | heavy libraries loaded |",
        "|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        target = r["targets_s"].get(row["command"]) if row["code"] == "now" else None
        out.append(
            f"| {row['code']} | `ragtune {row['command']}` | **{_f(row['median_s'], 2)}** | "
            f"{_f(row['min_s'], 2)}–{_f(row['max_s'], 2)} | {'' if target is None else f'≤ {target}'} | "
            f"{', '.join(row['loaded']) or 'none'} |"
        )
    met = ", ".join(f"{k} {'met' if v else 'missed'}" for k, v in r["met"].items())
    out += ["", f"Reading: {met}.", ""]
    return out


def beir(r: dict[str, Any]) -> list[str]:
    out = ["## Retrieval quality: BEIR SciFact", ""]
    out += _header(r)
    kb = r["kb"]
    out += [
        f"Split: **{r['split']}**. KB: {kb['documents']:,} documents, {kb['chunks']:,} chunks, embedder "
        f"`{kb['embedder']}`. Protocol: {r['protocol']}.",
        "",
    ]
    out += [
        "| system | nDCG@10 | Recall@100 | MRR@10 | p50 ms/query | target nDCG@10 | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        out.append(
            f"| {row['system']} | {_f(row['ndcg@10'])} | {_f(row['recall@100'])} | {_f(row['mrr@10'])} | "
            f"{_f(row['p50_ms'], 2)} | {_f(row.get('target_ndcg@10'), 2)} | {_f(row.get('met'))} |"
        )
    out.append("")
    t = r.get("tuning")
    if t:
        best = t["best"]
        ev = t.get("best_on_" + r["split"], {})
        out += [
            f"Fusion tuned on the **train** split ({len(t['grid'])} settings, nDCG@10 of hybrid): best "
            f"`{best}` (train {_f(t['best_train_ndcg@10'])}) → {r['split']} nDCG@10 {_f(ev.get('ndcg@10'))} "
            "(tuning scores nDCG@10 only; its runs are 50 passages deep, so no Recall@100).",
            "",
        ]
        out += ["| setting | train nDCG@10 |", "|---|---|"]
        for g in t["grid"]:
            out.append(
                f"| {', '.join(f'{k}={v}' for k, v in g.items() if k != 'train_ndcg@10')} | {_f(g['train_ndcg@10'])} |"
            )
        out.append("")
    rows = {x["system"]: x for x in r["rows"]}
    h, lx, dn = (rows.get(f"ragtune {m}", {}).get("ndcg@10") for m in ("hybrid", "lexical", "dense"))
    if h is not None:
        out += [
            f"Reading: hybrid {_f(h)} vs lexical {_f(lx)} and dense {_f(dn)} nDCG@10; published anchors: "
            "BM25 (Anserini) 0.665–0.679, all-MiniLM-L6-v2 0.645, BM25+dense hybrid 0.691.",
            "",
        ]
    return out


def ingest(r: dict[str, Any]) -> list[str]:
    out = ["## Ingest speed: SciFact", ""]
    out += _header(r)
    if "paths" not in r:  # a result written before the two-path benchmark
        return [*out, "_re-run `benchmarks/ingest_speed.py` for this section_", ""]
    paths = r["paths"]
    first = next(iter(paths.values()))
    out += [
        f"{first['docs']:,} documents → {first['chunks']:,} chunks ({first['tokens']:,} word pieces with [CLS]/[SEP]). "
        "ragtune's *whole* first ingest (chunking, hashing, tokenization, embedding, SQLite writes) against bare "
        f"`SentenceTransformer.encode` fp32, batch {first['batch_size']}, on the same chunk texts, in the same "
        "process. Model load (and the one-time export of the ONNX query graph) not counted. `avx2-emulated`: this "
        "CPU held to AVX2 for torch's kernels "
        "(ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA, MKL_ENABLE_INSTRUCTIONS) and fp32 — an emulation, not an "
        "AVX2-only CPU. `native` and `avx2-emulated` embed the chunk texts only (`[answer] sentence_vectors = false`), "
        "like for like with the peer; `native-default` is `ragtune ingest` with default settings, which also embeds "
        "every chunk's candidate answer sentences for the extractive answerer (roughly doubling the tokens embedded).",
        "",
        "| path | run | precision | seconds | chunks/s | tokens/s | GFLOP/s | share of matmul peak | × peer | "
        "min / mean cosine to fp32 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, p in paths.items():
        prec = p["embedder"].rsplit(":", 1)[-1]
        out.append(
            f"| {name} | ragtune first ingest | {prec} | {_f(p['first_ingest_s'], 1)} | "
            f"{_f(p['first_chunks_per_s'], 1)} | {_f(p['first_tokens_per_s'], 0)} | {_f(p['ragtune_gflops'], 0)} | "
            f"{p['ragtune_share_of_peak']:.0%} of {prec} | **{p['speedup_vs_peer']:.2f}×** "
            + (
                f"(target ≥ {p['target_speedup_vs_peer']}×: {'met' if p['met'] else 'missed'}) | "
                if p.get("target_speedup_vs_peer")
                else "(with the sentence vectors: no target) | "
            )
            + f"{p['cosine_min']:.5f} / {p['cosine_mean']:.5f} |"
        )
        out.append(
            f"| {name} | peer: `SentenceTransformer.encode` | fp32 | {_f(p['peer_st_encode_s'], 1)} | "
            f"{_f(p['peer_chunks_per_s'], 1)} | {_f(p['peer_tokens_per_s'], 0)} | {_f(p['peer_gflops'], 0)} | "
            f"{p['peer_share_of_peak']:.0%} of fp32 | 1 | 1 |"
        )
    out += [
        "",
        "| path | ATen dispatch | matmul peak fp32 GFLOP/s | bf16 GFLOP/s | precision chosen, and why |",
        "|---|---|---|---|---|",
    ]
    for name, p in paths.items():
        c = p.get("precision_choice", {})
        why = c.get("rule", "")
        if "bf16_gain" in c:
            why += f" (probe: bf16 {c['bf16_gain']:.2f}× fp32, min cosine {c['min_cosine']:.5f})"
        out.append(
            f"| {name} | {p['cpu_capability']} | {_f(p['matmul_peak_gflops']['fp32'], 0)} | "
            f"{_f(p['matmul_peak_gflops']['bf16'], 0)} | {c.get('precision', '?')}: {why} |"
        )
    native = paths.get("native")
    if native and "reingest_s" in native:
        out += [
            "",
            f"Re-ingest of the unchanged corpus: {_f(native['reingest_s'], 2)} s, "
            f"**{native['reingest_speedup']:.0f}×** faster than the first ingest "
            f"(target ≥ {native['target_reingest_speedup']:.0f}×: "
            f"{'met' if native['reingest_met'] else 'missed'}).",
        ]
    out += [
        "",
        "GFLOP/s counts the useful work of the encoder (linear layers and attention over each text's own tokens, "
        "no padding) divided by wall seconds; the peak is a 2,048³ `torch.mm` in the same process.",
        "",
    ]
    return out


def ingest_quality(r: dict[str, Any]) -> list[str]:
    out = ["## Ingest precision vs retrieval quality: SciFact", ""]
    out += _header(r)
    out += ["| vectors | dense nDCG@10 | hybrid nDCG@10 |", "|---|---|---|"]
    precisions = dict.fromkeys(k.split()[0] for k in r["ndcg@10"])
    for prec in precisions:
        out.append(f"| {prec} | {r['ndcg@10'][f'{prec} dense']:.4f} | {r['ndcg@10'][f'{prec} hybrid']:.4f} |")
    d = r["delta_vs_fp32"]
    out += [
        "",
        f"Chosen precision `{r['chosen_precision']}` vs fp32: dense {d['dense']:+.4f}, hybrid {d['hybrid']:+.4f} "
        f"(target within ±{r['target_abs_delta']}: {'met' if r['met'] else 'missed'}).",
        "",
    ]
    return out


def latency(r: dict[str, Any]) -> list[str]:
    out = ["## Query latency (hybrid, k=10, query embedding included)", ""]
    out += _header(r)
    s = r["synthetic"]
    out += [
        f"Warm: {r['warmup']} warm-up queries, then real SciFact queries. Synthetic KB: {s['chunks']:,} chunks "
        f"written through `Store.write_revision`/`commit_version` ({s['how']}).",
        "",
    ]
    out += ["| KB | lexical engine | chunks | queries | p50 ms | p95 ms | p99 ms |", "|---|---|---|---|---|---|---|"]
    for row in r["rows"]:
        out.append(
            f"| {row['kb']} | {row['engine']} | {row['chunks']:,} | {row['queries']} | {_f(row['p50_ms'], 2)} | "
            f"{_f(row['p95_ms'], 2)} | {_f(row['p99_ms'], 2)} |"
        )
    stages = list(r["rows"][0]["stages_p50_ms"])
    out += [
        "",
        "Per stage (p50 ms, stages timed one by one):",
        "",
        "| stage | " + " | ".join(f"{x['kb']} [{x['engine']}]" for x in r["rows"]) + " |",
        "|---|" + "---|" * len(r["rows"]),
    ]
    for st in stages:
        out.append(f"| {st} | " + " | ".join(_f(x["stages_p50_ms"][st], 2) for x in r["rows"]) + " |")
    out += [
        "",
        f"Time to first query at {s['chunks']:,} chunks, in this process (open + index + query; model already "
        f"loaded): **{_f(r['time_to_first_query_s'], 2)} s**.",
        "",
    ]
    fresh = [(k, r.get(k)) for k in ("fresh_process_no_files", "fresh_process_files")]
    if all(v for _, v in fresh):
        out += [
            f"A fresh process's first hybrid query at {s['chunks']:,} chunks (`python -c` → results: imports, "
            "embedder, index, query embedding, search; wall, median of runs):",
            "",
            "| index | first query s (wall) | runs s | second query ms | torch loaded | note |",
            "|---|---|---|---|---|---|",
        ]
        for key, v in fresh:
            label = "files beside the store (memory-mapped)" if key.endswith("_files") else "rebuilt from the store"
            out.append(
                f"| {label} | **{_f(v['wall_s'], 2)}** | {', '.join(_f(x, 2) for x in v['walls_s'])} | "
                f"{_f(v['second_query_ms'], 1)} | {'yes' if v['torch'] else 'no'} | {v['note'] or '—'} |"
            )
        target = r.get("target_first_query_s", 1.5)
        files_s = fresh[1][1]["wall_s"]  # type: ignore[index]
        out += ["", f"First query target ≤ {target} s: {'met' if files_s <= target else 'missed'}.", ""]
    out += [
        "Peers from shared/MEASUREMENTS.md (a 2-core Sapphire Rapids with AVX-512/AMX, not re-run here; compare "
        "with care when the CPU above differs):",
        "",
        "| peer | figure |",
        "|---|---|",
    ]
    out += [f"| {a} | {b} |" for a, b in r["measured_peers"]]
    big = next(x for x in r["rows"] if x["kb"].startswith("synthetic") and x["engine"] == "memory")
    out += [
        "",
        f"Reading: p50 {_f(big['p50_ms'], 1)} ms at {s['chunks']:,} chunks (target ≤ {r['target_p50_ms']:.0f} ms: "
        f"{'met' if r['met'] else 'missed'}).",
        "",
    ]
    return out


def acl_latency(r: dict[str, Any]) -> list[str]:
    out = ["## Access control at query time (hybrid, k=10, SciFact)", ""]
    out += _header(r)
    u = r["unrestricted"]
    out += [
        f"{r['queries']} real SciFact queries after {r['warmup']} warm-up ones, each run in a fresh process.",
        "",
        "| trusted caller (no acl filtering), " + u["kb"] + " | p50 ms (median of rounds) | rounds |",
        "|---|---|---|",
    ]
    for name, label in (("before", "before access control (" + u["before"] + ")"), ("after", "with it")):
        runs = u["rounds"].get(name) or []
        if runs:
            p50 = u[f"{name}_p50_ms"]
            out.append(f"| {label} | {_f(p50, 2)} | {', '.join(_f(x['p50_ms'], 2) for x in runs)} |")
    out += [
        "",
        f"Restricted callers, on a copy of the KB with random acls ({r['acls']}); the peer is a KB holding only "
        "the documents the g1 caller may read (the same copy with the others removed):",
        "",
        "| what | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|",
    ]
    out += [
        f"| {x['what']} | {_f(x['p50_ms'], 2)} | {_f(x['p95_ms'], 2)} | {_f(x['p99_ms'], 2)} |" for x in r["restricted"]
    ]
    out += [
        "",
        f"The g1 caller's top 10 equals the peer's for {r['same_top10_as_peer']} queries. A group set's first "
        f"query at a version builds its masks: {_f(r['first_query_new_group_set_ms'], 1)} ms (cached after).",
        "",
    ]
    return out


def ann(r: dict[str, Any]) -> list[str]:
    out = ["## 1M chunks: the ANN vector leg (`[search] ann_threshold`)", ""]
    out += _header(r)
    out += [
        f"{r['chunks']:,} chunks ({r['how']}). k=10, {r['queries']} real SciFact queries after {20} warm-up; "
        f"graph: USearch HNSW, int8 nodes, M={r['graph']['M']}, ef_construction={r['graph']['ef_construction']}; "
        "candidates re-scored exactly in fp32. Hybrid = the Retriever's legs (BM25 + vector, the query embedding "
        "started in the background) and RRF, without the passage fetch from the store.",
        "",
        "| dense leg | filter | hybrid p50 ms | hybrid p95 ms | dense leg p50 ms | dense recall@10 vs exact | "
        "hybrid top-10 overlap with the exact peer |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        out.append(
            f"| {row['dense leg']} | {row['filter']} | **{_f(row['hybrid_p50_ms'], 2)}** | "
            f"{_f(row['hybrid_p95_ms'], 2)} | {_f(row['dense_p50_ms'], 2)} | {_f(row['dense_recall@10'], 4)} | "
            f"{_f(row['hybrid_overlap@10'], 4)} |"
        )
    out += [
        "",
        f"Graph at {r['chunks']:,} chunks: build **{_f(r['graph_build_s'], 1)} s** wall "
        f"({_f(r['graph_build_cpu_s'], 1)} s CPU), +{_f(r['graph_rss_mib'], 0)} MiB resident while built, "
        f"file {_f(r['graph_file_mib'], 0)} MiB, saved in "
        f"{_f(r['graph_save_s'], 2)} s, opened (viewed, memory-mapped) in {_f(r['graph_view_s'] * 1000, 1)} ms. "
        f"Process resident memory at the end {_f(r['process_rss_mib'] / 1024, 2)} GiB, peak "
        f"{_f(r['process_peak_rss_mib'] / 1024, 2)} GiB (the fp32 vectors, their int8 copy, the graph, the BM25 "
        f"postings and the benchmark's own ground truth). BM25 postings built in {_f(r.get('bm25_build_s'), 0)} s.",
        "",
        "Exact int8 scan (dense leg alone, depth 100) by size — where the threshold goes:",
        "",
        "| chunks | exact dense p50 ms |",
        "|---|---|",
        *[f"| {x['chunks']:,} | {_f(x['exact_dense_p50_ms'], 2)} |" for x in r["exact_scan_by_size"]],
        "",
    ]
    cmp = r.get("comparison")
    if cmp:
        out += [
            f"Library choice at {cmp['chunks']:,} vectors (same realistic construction, M={r['graph']['M']}, "
            f"ef_construction={r['graph']['ef_construction']}, 2 build threads, one query thread; recall@10 after "
            "the fp32 re-score of 100 candidates)" + (f", from `{cmp['command']}`" if cmp.get("command") else "") + ":",
            "",
            "| library | build s (CPU s) | resident MiB added | file MiB | load s | recall@10 ef100 | p50 ms ef100 | "
            "recall@10 ef200 | p50 ms ef200 |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for c in cmp["rows"]:
            out.append(
                f"| {c['library']} | {_f(c['build_s'], 1)} ({_f(c['build_cpu_s'], 1)}) | {_f(c['rss_added_mib'], 0)} | "
                f"{_f(c['file_mib'], 0)} | {_f(c['load_s'], 3)} | {_f(c['ef100']['recall@10'], 4)} | "
                f"{_f(c['ef100']['p50_ms'], 2)} | {_f(c['ef200']['recall@10'], 4)} | {_f(c['ef200']['p50_ms'], 2)} |"
            )
        out.append("")
    if r.get("tried"):
        out += ["Tried before the settings above:", "", *[f"- {t}" for t in r["tried"]], ""]
    main = r["rows"][0]
    out += [
        f"Reading: at {r['chunks']:,} chunks recall@10 {_f(main['dense_recall@10'], 4)} "
        f"(target ≥ {r['target_recall']}) and hybrid p50 {_f(main['hybrid_p50_ms'], 1)} ms "
        f"(target ≤ {r['target_hybrid_p50_ms']:.0f} ms): "
        f"{'met' if r['met'] else 'missed'}.",
        "",
    ]
    return out


def freshness(r: dict[str, Any]) -> list[str]:
    out = ["## Freshness: edit → searchable", ""]
    out += _header(r)
    out += [
        "In a copy of the SciFact KB, warm. Each trial appends a sentence with a made-up token to one document, "
        "ingests that one-document JSONL file, and searches (hybrid) for the token until the document returns.",
        "",
    ]
    out += ["| trial | doc | ingest s | search ms | total s | found |", "|---|---|---|---|---|---|"]
    for i, t in enumerate(r["trials"]):
        out.append(
            f"| {i} | {t['doc_id']} | {_f(t['ingest_s'])} | {_f(t['first_search_ms'], 1)} | "
            f"{_f(t['total_s'])} | {_f(t['found'])} |"
        )
    out += [
        "",
        f"Reading: p50 {_f(r['p50_s'])} s, max {_f(r['max_s'])} s from ingest start to searchable "
        f"(target ≤ {r['target_s']} s: {'met' if r['met'] else 'missed'}).",
        "",
    ]
    return out


def squad(r: dict[str, Any]) -> list[str]:
    out = ["## SQuAD v1.1 dev (even articles): retrieval and extractive answers", ""]
    out += _header(r)
    out += [
        f"{r['paragraphs']:,} paragraphs ({r['chunks']:,} chunks), {r['questions']:,} questions, `kb.ask(q, "
        f"k={r['k']})`, default hybrid retrieval, extractive answerer.",
        "",
    ]
    out += ["| metric | value |", "|---|---|"]
    k = r["k"]
    for name, key, nd in [
        ("recall@1 (gold paragraph first)", "recall@1", 3),
        (f"recall@{k} (gold paragraph retrieved)", f"recall@{k}", 3),
        ("answered (not 'no answer')", "answered", 3),
        ("answer contains a gold answer (SQuAD-normalised)", "answer_contains_gold", 3),
        ("— among answered questions", "answer_contains_gold_when_answered", 3),
        ("ask p50 ms", "ask_p50_ms", 1),
        ("ask p95 ms", "ask_p95_ms", 1),
        ("— retrieve p50 ms", "retrieve_p50_ms", 1),
        ("— generate p50 ms", "generate_p50_ms", 1),
        ("all questions, seconds", "total_s", 0),
    ]:
        out.append(f"| {name} | {_f(r.get(key), nd)} |")
    out += [
        "",
        f"Reading: the gold paragraph is in the top {k} for {r[f'recall@{k}']:.1%} of questions; "
        f"{r['answer_contains_gold']:.1%} of extractive answers contain a gold answer string.",
        "",
    ]
    return out


def extractive_speed(r: dict[str, Any]) -> list[str]:
    out = ["## Extractive answers: sentence vectors stored at ingest vs embedded at answer time", ""]
    out += _header(r)
    out += [
        f"examples/helpcenter: {r['chunks']} chunks, {r['sentences']:,} candidate sentences, {r['questions']} eval "
        f"questions, `rag-extractive` (k={r['k']}, hybrid). Both answerers in one process, question by question: "
        "**stored** reads the passages' sentence vectors from the store and embeds only the question "
        f"(`embed_query`, {r['embed_query_ms']:.1f} ms); **on the fly** (the answerer before this change, the peer) "
        "embeds every candidate and the question in one `embed` call — with its text cache cleared per question (a "
        "fresh `ragtune ask` process), and again with the cache warm. Answer = `timings_ms.generate`; ask = the whole "
        "`strategy.ask` (retrieval included, warm process).",
        "",
        "| answering | answer p50 ms | answer p95 ms | ask p50 ms | ask p95 ms |",
        "|---|---|---|---|---|",
    ]
    names = {"stored": "**stored** (after)", "on_the_fly": "on the fly, cold cache (before)",
             "on_the_fly_warm_cache": "on the fly, warm cache"}  # fmt: skip
    for key, label in names.items():
        s = r["speed"][key]
        out.append(
            f"| {label} | {_f(s['answer']['p50'], 1)} | {_f(s['answer']['p95'], 1)} | {_f(s['ask']['p50'], 1)} | "
            f"{_f(s['ask']['p95'], 1)} |"
        )
    metrics = ("f1", "semantic", "correct_decline", "false_decline", "citation_precision", "citation_recall")
    out += ["", "| answering | " + " | ".join(metrics) + " | answered |", "|---" * (len(metrics) + 2) + "|"]
    rows = [("stored (after)", r["quality"]["stored"]), ("on the fly (before)", r["quality"]["on_the_fly"])]
    late = r.get("late_chunking")
    if late:
        rows.append(("late chunking (not chosen)", late["quality"]))
    for label, q in rows:
        out.append(f"| {label} | " + " | ".join(_f(q.get(m)) for m in (*metrics, "answered")) + " |")
    out += [
        "",
        f"Identical answers, stored vs on the fly: {r['identical_answers']}/{r['questions']}. Target answer p50 ≤ "
        f"{r['target_p50_ms']:.0f} ms: {'met' if r['met'] else 'missed'}.",
        "",
        f"Extra ingest time: {r['sentence_vectors_s']:.2f} s of the help center's {r['ingest_s']:.2f} s ingest "
        "embeds the candidate sentences.",
    ]
    sf = r.get("scifact_ingest")
    if sf:
        out[-1] += (
            f" SciFact, first {sf['docs']} abstracts ({sf['chunks']} chunks, {sf['sentences']:,} sentences): ingest "
            f"{sf['ingest_s']:.1f} s without them, +{sf['sentence_vectors_s']:.1f} s to embed them "
            f"(+{sf['sentence_vectors_s'] / sf['ingest_s']:.0%}); `[answer] sentence_vectors = false` skips it."
        )
    if late:
        out[-1] += (
            f" Late chunking (each sentence mean-pooled from its chunk's own token embeddings) needs no extra "
            f"forward pass ({late['pool_s']:.2f} s of pooling here; the chunk forward passes, "
            f"{late['forward_s']:.1f} s, are ingest's own), but answered worse, so each sentence is embedded alone; "
            f"{late['same_as_on_the_fly']}/{r['questions']} of its answers matched."
        )
    before, after = _result("squad_on_the_fly"), _result("squad")
    if before and after:
        out += [
            "",
            "SQuAD v1.1 dev (even articles), `benchmarks/squad.py` (after) and `benchmarks/squad.py --on-the-fly` "
            f"(before), same machine, {after['date']} / {before['date']}:",
            "",
            "| SQuAD | answered | answer contains gold | ask p50 ms | ask p95 ms | generate p50 ms |",
            "|---|---|---|---|---|---|",
        ]
        for label, q in (("stored (after)", after), ("on the fly (before)", before)):
            out.append(
                f"| {label} | {_f(q['answered'])} | {_f(q['answer_contains_gold'])} | {_f(q['ask_p50_ms'], 1)} | "
                f"{_f(q['ask_p95_ms'], 1)} | {_f(q['generate_p50_ms'], 1)} |"
            )
        late_squad = _result("squad_late_chunking")
        if late_squad:  # run for its quality (`squad.py --late-chunking`), not timed against the others
            out.append(
                f"| late chunking (not chosen; not timed) | {_f(late_squad['answered'])} | "
                f"{_f(late_squad['answer_contains_gold'])} | | | |"
            )
    out.append("")
    return out


def _result(name: str) -> dict[str, Any] | None:
    path = common.RESULTS / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def train_speed(r: dict[str, Any]) -> list[str]:
    out = ["## Training throughput: tiny model on CPU (LoRA)", ""]
    out += _header(r)
    c = r["config"]
    out += [
        f"Data `{r['data']}`; model {r['model']['parameters']:,} parameters; batch {c['batch_size']}, max length "
        f"{c['max_length']}, LoRA rank {c['lora_rank']}, {c['threads']} torch thread(s). Tokens are non-padding "
        f"input tokens; seconds are `trainer.train()` only. CPU has native bf16: {_f(r['cpu_native_bf16'])}.",
        "",
        "| precision | steps | tokens | seconds | tokens/s | final step loss |",
        "|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        out.append(
            f"| {row['precision']} | {row['steps']} | {row['tokens']:,} | {_f(row['train_seconds'], 2)} | "
            f"{_f(row['tokens_per_s'], 0)} | {_f(row['final_loss'])} |"
        )
    cli = r["cli"]
    out += [
        "",
        f"bf16 / fp32 throughput: **{r['bf16_vs_fp32']:.2f}×**. From `style.jsonl` to a registered model "
        f"(`ragtune train`, fresh process, 1 epoch = {cli['steps']} steps, MLflow store created and the adapter "
        f"logged): **{_f(cli['wall_seconds'], 1)} s** wall, of which {_f(cli['train_seconds'], 1)} s training.",
        "",
    ]
    return out


def generation_speed(r: dict[str, Any]) -> list[str]:
    out = ["## Generation speed: the bundled model on CPU", ""]
    out += _header(r)
    out += [
        f"Model {r['model']}; {r['questions']} help-center questions per prompt set; greedy, at most "
        f"{r['max_new_tokens']} new tokens; batch size {r['batch_size']}. Closed book: the base system prompt and the "
        "question. RAG: the `rag` pipeline's prompt with the model's defaults (k, compact layout, source budget). "
        "Peer: plain transformers `model.generate`, one prompt at a time, same model object. Share of peak: forward "
        "FLOPs (2 × parameters × every token processed, plus attention) per second over the best large-matmul "
        "rate measured in the same run and precision. Cached model load: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in r["load_seconds"].items())
        + f". `auto` precision on this CPU: {r['auto_precision']}.",
        "",
        "| precision | prompts | prompt tokens (mean) | peer answers/s | ragtune one at a time | ragtune batched | "
        "batched vs peer | batched tokens/s | share of matmul peak (peer → batched) | batched text ≠ one at a time |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for precision, sets in r["rows"].items():
        for name, row in sets.items():
            out.append(
                f"| {precision} | {name} | {row['prompt_tokens_mean']:.0f} | {row['peer_answers_per_s']:.2f} | "
                f"{row['single_answers_per_s']:.2f} | {row['batched_answers_per_s']:.2f} | "
                f"**{row['speedup_vs_peer']:.2f}×** | {row['batched_tokens_per_s']:.1f} | "
                f"{row['peer_gflops'] / row['matmul_peak_gflops']:.1%} → {row['share_of_peak']:.1%} "
                f"(peak {row['matmul_peak_gflops']:,.0f} GFLOP/s) | {row['differ_from_single']} of {row['prompts']} |"
            )
    out += [
        "",
        "Targets (issue 9): batched ≥ 2.5× the peer for closed-book prompts and ≥ 1.5× for RAG prompts. One answer "
        "at a time is bound by per-token overhead (a 135M model's 30 layers of small matrix-vector products), which "
        "batching amortises; long RAG prompts are compute-bound prefill, where batching gains less and bf16 (AMX) "
        "more.",
        "",
    ]
    return out


def lora_settings(r: dict[str, Any]) -> list[str]:
    out = ["## LoRA settings for the bundled model: training throughput on CPU", ""]
    out += _header(r)
    out += [
        f"`{r['model']}` on `{r['data']}`: batch 8, max length 256, LoRA rank 16; seconds are `trainer.train()` only.",
        "",
        "| precision | LoRA targets | steps | seconds | s/step | tokens/s | final step loss |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        out.append(
            f"| {row['precision']} | {row['targets']} | {row['steps']} | {row['train_seconds']} | "
            f"{row['seconds_per_step']} | {row['tokens_per_s']} | {_f(row['final_step_loss'])} |"
        )
    out.append("")
    return out


def rag_sweep(r: dict[str, Any]) -> list[str]:
    out = ["## RAG settings for the bundled model", ""]
    out += _header(r)
    first = next(iter(r["rounds"].values()))
    out += [
        f"`ragtune sweep --rag` with `{r['model']}` on the dev share ({first['dev_questions']} questions) of "
        f"examples/helpcenter/eval.jsonl; the other {first['held_out_questions']} are held out for `make compare`. "
        f"{r['note']}. Quality: mean semantic similarity (unanswerable questions: 1 when declined) with its 95% "
        "bootstrap interval. The defaults (`src/ragtune/llm/defaults.py`) are the best trial of the last round "
        "(D: sentence-level context, 128 tokens), 0.551 against 0.533 for round C's best — within noise on 34 "
        "questions (intervals ±0.11); every round's winner was picked by the same rule.",
        "",
    ]
    for name, rd in r["rounds"].items():
        keys = list(dict.fromkeys(k for t in rd["trials"] for k in t["params"]))
        out += [f"Round {name}: `{rd['command']}` (other settings: {rd['base_settings']})", ""]
        out.append("| " + " | ".join([*keys, "quality", "F1", "groundedness", "citation recall", "seconds"]) + " |")
        out.append("|" + "---|" * (len(keys) + 5))
        for t in rd["trials"]:
            m = t["metrics"]

            def cell(key: str, m: dict[str, Any] = m) -> str:
                v = m.get(key) or {}
                return "" if v.get("mean") is None else f"{v['mean']:.3f} [{v['ci_low']:.2f}, {v['ci_high']:.2f}]"

            best = " **best**" if t["params"] == rd["best"] else ""
            out.append(
                "| " + " | ".join(str(t["params"].get(k, "")) for k in keys) + f" | {cell('quality')}{best} | "
                f"{cell('f1')} | {cell('groundedness')} | {cell('citation_recall')} | {t['seconds']:.0f} |"
            )
        out.append("")
    return out


def knowledge_injection(r: dict[str, Any]) -> list[str]:
    out = ["## Knowledge injection: fine-tuning vs retrieval on facts the model cannot know", ""]
    out += _header(r)
    t = r["train"]
    out += [
        f"{r['questions']} multiple-choice questions (every help-center eval question whose answer states a number; "
        "4 options: the reference and 3 number-swapped versions; scored by mean log-probability per option token; "
        f"chance 0.25). Model {r['model']}; LoRA {t['lora']}, {t['epochs']:g} epochs, lr {t['lr']}, {t['precision']}. "
        f"Training examples: {', '.join(f'{k} {v}' for k, v in r['examples'].items())}; question paraphrases written "
        f"by the bundled model ({r['paraphrase_fallbacks']} filled from templates). Change: "
        f"{r['change_questions']} questions whose fact changed (Team price), same four options before and after; "
        "the fine-tuned models are not retrained. Method: `benchmarks/knowledge_injection.py` docstring.",
        "",
        "| condition | accuracy [95% CI] | changed facts: right before | after: new fact | after: still old | "
        "prompt tokens | seconds/question |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in r["results"].items():
        low, high = row["ci"]
        out.append(
            f"| {name} | {row['accuracy']:.3f} [{low:.3f}, {high:.3f}] | {row['change_before']:.2f} | "
            f"{row['change_after_new']:.2f} | {row['change_after_old']:.2f} | {row['prompt_tokens']:.0f} | "
            f"{row['seconds_per_question']:.2f} |"
        )
    pub = r["published"]
    out += [
        "",
        "Published (Ovadia et al. 2023, Mistral-7B, current events, accuracy): "
        + ", ".join(f"{k} {v:.3f}" for k, v in pub.items())
        + ". RAFT (Zhang et al. 2024) reports that domain fine-tuning plus RAG can fall below fine-tuning alone; "
        "RAFT training is their remedy. Training seconds: "
        + ", ".join(f"{k} {v:.0f}" for k, v in r["train_seconds"].items())
        + ".",
        "",
    ]
    return out


def compare_helpcenter(r: dict[str, Any]) -> list[str]:
    quick = r.get("profile") == "quick"
    title = "quick profile" if quick else "full"
    out = [f"## The comparison on examples/helpcenter with SmolLM2 on CPU ({title})", ""]
    out += _header(r)
    ev = r["eval"]
    demo = "examples/compare_demo.py" + (" --quick" if quick else "")
    out += [
        f"`{demo}` (`make compare{'-quick' if quick else ''}`) end to end in a fresh folder: "
        f"**{_f(r['total_seconds'] / 60, 1)} min** (target: ≤ {12 if quick else 40} min on 2 cores). Eval set: "
        f"{ev['n']} held-out questions ({ev['unanswerable']} unanswerable; the dev third that chose the RAG settings "
        f"is left out); quality = `{r['quality_metric']}`. Model: the bundled SmolLM2-135M-Instruct; ft and hybrid "
        "are LoRA adapters trained in the run (on synthesized Q/A pairs and on RAFT examples).",
        "",
        "| step | wall s |",
        "|---|---|",
        *[f"| `{s['command']}` | {_f(s['seconds'], 1)} |" for s in r["steps"]],
        "",
        "Stages inside `ragtune compare` (wall s): "
        + ", ".join(f"{k} {_f(v, 1)}" for k, v in r["stages"].items())
        + ".",
        "",
        "| strategy | quality [95% CI] | F1 | groundedness | citation recall | recall@5 | style similarity | "
        "correct declines | p50 / p95 ms | $/query | setup s | stale after change | s to reflect |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in r["strategies"]:
        if row.get("status") != "ok":
            out.append(f"| {row['name']} | not run: {row.get('reason')} |" + " |" * 11)
            continue
        lo, hi = row.get("quality_ci") or [None, None]
        out.append(
            f"| {row['name']} | {_f(row['quality'])} [{_f(lo)}, {_f(hi)}] | {_f(row['f1'])} | "
            f"{_f(row.get('groundedness'))} | {_f(row.get('citation_recall'))} | {_f(row.get('recall@5'))} | "
            f"{_f(row['style_similarity'])} | {_f(row['correct_decline'])} | "
            f"{_f(row['latency_p50_ms'], 0)} / {_f(row['latency_p95_ms'], 0)} | {row['cost_per_query']:.2e} | "
            f"{_f(row['setup_seconds'], 1)} | {_f(row['stale_rate'], 2)} | {_f(row['freshness_seconds'], 2)} |"
        )
    pairs = [c for c in r.get("comparisons", []) if "base" in (c["a"], c["b"]) or {c["a"], c["b"]} == {"rag", "hybrid"}]
    if pairs:
        out += ["", "Paired differences in quality (same questions; 95% bootstrap interval):", ""]
        for c in pairs:
            verdict = "significant" if c["significant"] else "not significant"
            out.append(f"- {c['a']} − {c['b']}: {c['diff']:+.3f} [{c['ci_low']:+.3f}, {c['ci_high']:+.3f}] ({verdict})")
    ns = r.get("numbers_stated") or {}
    if ns.get("rates"):
        rates = ", ".join(
            f"{name} {_f(v['rate'], 2)} [{_f(v['ci'][0], 2)}, {_f(v['ci'][1], 2)}]" for name, v in ns["rates"].items()
        )
        diffs = "; ".join(
            f"{d['b']} − base {-d['diff']:+.2f} [{-d['ci_high']:+.2f}, {-d['ci_low']:+.2f}]"
            + (" (significant)" if d["significant"] else "")
            for d in ns.get("vs_base", [])
        )
        out += [
            "",
            f"Numbers stated (a strict check of the facts: of the {ns['questions']} answerable questions whose "
            f"reference states a number, the share whose answer states every one of them; 95% CI): {rates}. "
            f"Paired against closed-book base: {diffs}.",
        ]
    lc = r.get("learning_curve") or {}
    if lc.get("points"):
        pts = ", ".join(f"{p['examples']} → {_f(p['quality'])}" for p in lc["points"])
        match = lc.get("examples_to_match")
        out += [
            "",
            f"Learning curve (closed-book fine-tuning, examples → quality): {pts}; examples to match "
            f"{lc['reference']['strategy']} ({_f(lc['reference']['quality'])}): "
            + (f"~{match:,} (extrapolated)" if match else "not reached by the fitted curve")
            + ".",
        ]
    for caveat in r.get("caveats") or []:
        label = "Note (a probe bug since fixed, see the findings)" if caveat.startswith("freshness of") else "Diagnosis"
        out += ["", f"{label}: {caveat}."]
    out += ["", f"Recommendation with no constraints stated: **{r.get('recommendation')}**.", ""]
    return out


PEER_NAMES = {
    "llamaindex": "LlamaIndex",
    "langchain": "LangChain",
    "txtai": "txtai",
    "reference": "reference (ST + numpy + bm25s + RRF)",
    "ragtune": "**ragtune**",
}
PEER_PACKAGES = {
    "llamaindex": ["llama-index-core", "llama-index-retrievers-bm25", "llama-index-embeddings-huggingface"],
    "langchain": ["langchain-core", "langchain-community", "langchain-classic", "langchain-huggingface"],
    "txtai": ["txtai", "faiss-cpu"],
    "reference": ["sentence-transformers", "bm25s"],
    "ragtune": ["ragtune"],
}


def _x(v: float | None, met: bool | None, goal: str) -> str:
    return "–" if v is None else f"**{v:.2f}×** (goal {goal}: {'met' if met else 'not met'})"


def peers(r: dict[str, Any]) -> list[str]:
    out = ["## Peers side by side: SciFact, hybrid retrieval, same embedding model", ""]
    out += _header(r)
    rows = r["rows"]
    dates = sorted({x["date"] for x in rows})
    out += [
        f"Each peer in a fresh process of its own (LlamaIndex, LangChain and txtai each in its own virtual "
        f"environment, created by the script), one after another, on {rows[0]['docs']:,} SciFact documents "
        + ("" if r.get("corpus", "full") == "full" else f"({r['corpus']}: nDCG is higher than on the full corpus) ")
        + f"(title + abstract, whole documents; ragtune chunks them itself) and {r['queries']} test queries; embedding "
        f"model: the bundled all-MiniLM-L6-v2 directory for everyone, torch "
        f"{rows[0]['versions'].get('torch', '?')}. Ingest: documents → index ready (model load apart). To first "
        "answer: process spawn → the first query's results (interpreter start, imports, model load, ingest, first "
        'query; "imports s": spawn → library imported). Query: warm, '
        f"k={r['k']}, query embedding included, after {r['warmup']} warm-up queries. nDCG@10 by "
        "`benchmarks/metrics.py` for all. Setups: `benchmarks/peers/README.md`."
        + ("" if len(dates) == 1 else f" Rows come from {len(dates)} runs: see the date column."),
        "",
        "| system | versions | imports s | model load s | ingest s | first query ms | to first answer s | p50 ms | "
        "p95 ms | nDCG@10 | peak RSS MiB |" + (" run |" if len(dates) > 1 else ""),
        "|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if len(dates) > 1 else ""),
    ]
    for x in rows:
        v = x["versions"]
        vers = ", ".join(f"{p} {v[p]}" for p in PEER_PACKAGES.get(x["peer"], []) if p in v)
        out.append(
            f"| {PEER_NAMES.get(x['peer'], x['peer'])} | {vers} | {_f(x['imports_s'], 1)} | "
            f"{_f(x['model_load_s'], 1)} | {_f(x['ingest_s'], 1)} | {_f(x['first_query_ms'], 0)} | "
            f"{_f(x['ingest_to_first_answer_s'], 1)} | {_f(x['p50_ms'], 2)} | "
            f"{_f(x['p95_ms'], 2)} | "
            f"{_f(x['ndcg@10'])} | {_f(x['peak_rss_mib'], 0)} |" + (f" {x['date']} |" if len(dates) > 1 else "")
        )
    rt = next((x for x in rows if x["peer"] == "ragtune"), None)
    if rt and "chunks" in rt:
        out += [
            "",
            f"ragtune indexed {rt['chunks']:,} chunks (embedder `{rt.get('embedder')}`); its nDCG@10 ranks documents "
            f"by their best passage among 50; the 10 passages of the timed search, by document, give "
            f"{_f(rt.get('ndcg@10_k_passages'))}.",
        ]
    for note in r.get("notes", []):
        out += ["", f"Note: {note}"]
    out += ["", "Goals (issue 11):", ""]
    for ours in ("ragtune", "ragtune_search"):
        if not any(x["peer"] == ours for x in rows):
            continue
        g = peer_readings(rows, ours)
        bp, ref = g["vs_best_peer"], g["vs_reference"]
        out += [f"`{ours}`:", ""]
        if bp:
            out += [
                f"- vs the fastest peer to first answer ({bp['first_answer_peer']}): "
                + _x(bp["first_answer_x"], bp["first_answer_met"], f"≥ {bp['first_answer_goal_x']:.0f}×"),
                f"- vs the fastest peer per query ({bp['query_peer']}, p50): "
                + _x(bp["query_p50_x"], bp["query_met"], f"≥ {bp['query_goal_x']:.0f}×"),
                f"- nDCG@10, ours − the best peer ({bp['ndcg_peer']}): {bp['ndcg_diff']:+.4f} (goal ≥ 0: "
                f"{'met' if bp['ndcg_met'] else 'not met'})"
                + ("" if bp["same_run"] else " — rows from different runs"),
            ]
        if ref:
            out += [
                "- vs the reference pipeline, warm p50: "
                + _x(ref["p50_x"], ref["p50_met"], f"≥ {ref['p50_goal_x']:.0f}×"),
                f"- nDCG@10, ours − reference: {ref['ndcg_diff']:+.4f} (goal within ±{ref['ndcg_goal_abs']}: "
                f"{'met' if ref['ndcg_met'] else 'not met'})"
                + ("" if ref["same_run"] else " — rows from different runs"),
            ]
        out.append("")
    out.append("")
    return out


def load(r: dict[str, Any]) -> list[str]:
    out = ["## Serving under load: 8 clients on /v1/search and chat completions (rag-extractive)", ""]
    out += _header(r)
    out += [
        f"A real `ragtune serve` process on 127.0.0.1 over the demo KB ({r['kb']['chunks']} chunks), with a key file "
        f"(every request carries a reader key: authentication is measured); the benchmark process is the client, "
        f"each of the clients on its own keep-alive connection, back to back. Latency at the client. "
        f"Peers in the same run: the same search load on a server started without keys, and "
        f"`KnowledgeBase.search` from the same number of threads in process.",
        "",
        "| what | clients | s | requests | errors | req/s | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        out.append(
            f"| {row['what']} | {row['clients']} | {_f(row['seconds'], 0)} | {row['requests']} | {row['errors']} | "
            f"{_f(row['throughput_rps'], 1)} | {_f(row['p50_ms'], 1)} | {_f(row['p95_ms'], 1)} | "
            f"**{_f(row['p99_ms'], 1)}** | {_f(row['max_ms'], 1)} |"
        )
    out += [
        "",
        f"Server memory (VmRSS): {r['server_rss_mb_before']} MB after warm-up, {r['server_rss_mb_after']} MB after "
        f"the load. Goal: 0 errors and search p99 < {r['target_search_p99_ms']:g} ms: "
        f"{'met' if r['met'] else '**not met**'}.",
        "",
    ]
    return out


def ocr_speed(r: dict[str, Any]) -> list[str]:
    out = ["## OCR of scanned pages: DPI, accuracy and speed", ""]
    out += _header(r)
    sizes = sorted({int(k) for row in r["rows"] for k in row["cer_by_pt"]})
    out += [
        f"{r['pages']} generated A4 pages (benchmarks/scans.py: prose with names, dates and amounts in 7-12 pt, "
        "two fonts, a ruled table on every other page, skewed, blurred, specked, drawn at 300 DPI and embedded "
        f"without a text layer), Tesseract {r['tesseract']} with one OpenMP thread, one page per call (render "
        "included). CER: character error rate against the text drawn. Peer: the same text as a typed page read by "
        "pypdf, as ragtune reads PDFs with a text layer.",
        "",
        "| reader | pages/s | s/page p50 | s/page max | CER mean | CER max | "
        + " | ".join(f"CER {p} pt" for p in sizes)
        + " |",
        "|" + "---|" * (6 + len(sizes)),
    ]
    for row in r["rows"]:
        cells = [_f(row["cer_by_pt"].get(str(p))) for p in sizes]
        out.append(
            f"| {row['reader']} | {_f(row['pages_per_s'])} | {_f(row['s_p50'])} | {_f(row['s_max'])} | "
            f"{_f(row['cer_mean'])} | {_f(row['cer_max'])} | " + " | ".join(cells) + " |"
        )
    out += [
        "",
        f"Default: `ocr_dpi = {r['default_dpi']}`, the lowest error in this run. 300 DPI was both slower and less "
        "accurate (Tesseract's LSTM reads best at moderate x-heights); 150 DPI is ~1.2x faster with a slightly "
        "higher error. OCR is ~200x slower than reading a text layer, which is why only pages without one are OCR'd.",
        "",
    ]
    return out


def pdf_tables(r: dict[str, Any]) -> list[str]:
    out = ["## PDF tables: pypdf's text against pdfplumber's tables", ""]
    out += _header(r)
    out += [
        f"Per corpus, {r['docs']} synthetic annual reports generated with fpdf2 (*prose pages* pages of prose, then a "
        "ruled segment table of "
        f"{r['rows_per_doc']} rows — header, numbers, a two-line notes cell every fifth row — that spans two pages). "
        "The three readers run on the same files in the same process. *Rows intact*: the share of the table's rows "
        "whose cells all stand, in order, on one line of the extracted text. `pypdf` is ragtune's PDF path before "
        "tables; `pdfplumber` is `find_tables()` plus `extract_text()` on every page; `ragtune` is `load_pdf` as "
        "shipped: pypdf on every page and pdfplumber only on pages whose content stream draws lines or rectangles, "
        "tables written as `| a | b |` rows.",
        "",
        "| prose pages | reader | pages | seconds | pages/s | rows intact |",
        "|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        out.append(
            f"| {row['prose_pages']} | {row['reader']} | {row['pages']} | {_f(row['seconds'])} | "
            f"{_f(row['pages_per_s'], 1)} | {_f(row['rows_intact'])} |"
        )
    speed = {(row["prose_pages"], row["reader"]): row["pages_per_s"] for row in r["rows"]}
    ratios = [speed[(p, "pypdf")] / speed[(p, "pdfplumber")] for p, reader in speed if reader == "pypdf"]
    out += [
        "",
        f"pdfplumber reads {min(ratios):.0f}–{max(ratios):.0f}× fewer pages per second than pypdf, so ragtune gives it "
        "only the pages that draw ruling lines (pdfplumber's default table strategy finds no table on others): a PDF "
        "that is mostly prose keeps most of pypdf's speed, and every generated table row comes out intact. Tables "
        "drawn without any lines (aligned by whitespace only) are not detected and keep pypdf's text.",
    ]
    return [*out, ""]


def doc_context(r: dict[str, Any]) -> list[str]:
    out = ["## Contextual chunk headers on the visible sets (no regression)", ""]
    out += _header(r)
    out += [
        '`[chunking] context = "document"` (the default since issue 13) indexes every chunk after its document\'s '
        "*label*: the title plus what the company on the cover, the PDF running header and the file name add. Where "
        "the label equals the title, the indexed text, the vectors and every ranking are those of `headings` (ragtune "
        "before) by construction. Documents whose label differs, and the cover fields found:",
        "",
        "| corpus | documents | label differs | fields found |",
        "|---|---|---|---|",
    ]
    for c in r["corpora"]:
        fields = ", ".join(f"{k} {v}" for k, v in c["fields"].items()) or "—"
        out.append(f"| {c['corpus']} | {c['documents']:,} | {c['label_differs']} | {fields} |")
    out += [
        "",
        "SciFact and SQuAD (JSONL records: a collection's file name names no document) index exactly what they did, "
        "so their nDCG@10 and answer figures above stand. On the help center two pages gain their file name's words "
        "(`sso saml setup`, `google drive migration`); hybrid retrieval per mode on its eval questions:",
        "",
        "| context | questions | page recall@1 | page recall@5 | MRR@10 |",
        "|---|---|---|---|---|",
    ]
    for row in r["helpcenter"]:
        out.append(
            f"| {row['mode']} | {row['questions']} | {_f(row['recall_at_1'])} | {_f(row['recall_at_5'])} | "
            f"{_f(row['mrr_at_10'])} |"
        )
    return [*out, ""]


_AR_METRICS = (  # (metric, its labelled twin or "", column header)
    ("filing@1", "", "filing@1"),
    ("filing@5", "", "filing@5"),
    ("evidence@5", "", "evidence page@5"),
    ("evidence@20", "", "evidence page@20"),
    ("page_in_top5", "", "page reached@5"),
    ("gold_in_top5_text", "labelled_in_top5_text", "figure in top 5: any / labelled"),
    ("answer_contains_gold", "answer_labelled", "answer has figure: any / labelled"),
    ("answer_declined", "", "declined"),
    ("figures_per_right_answer_p50", "", "figures in an answer holding it (p50)"),
)


def _ar_cells(scores: dict[str, Any]) -> list[str]:
    cells = []
    for metric, twin, _ in _AR_METRICS:
        value = scores.get(metric)
        cell = f"{value:g}" if metric == "figures_per_right_answer_p50" and value is not None else _f(value)
        cells.append(cell + (f" / {_f(scores.get(twin))}" if twin else ""))
    return cells


_AR_SCANNED = slice(2, 7)  # the scanned-page table: evidence page@5 … answer has figure


def annual_reports(r: dict[str, Any]) -> list[str]:
    out = ["## Annual reports in one knowledge base: what each step of issue 13 does", ""]
    out += _header(r)
    c = r["corpus"]
    out += [
        f"{c['reports']} synthetic annual reports ({c['pages']} pages) of {c['companies']} fictional companies, "
        "generated by `benchmarks/annual_reports.py` (seed "
        f"{c['seed']}; `--generate-only` writes them and the questions under `benchmarks/.cache/`): three companies "
        "per industry with the same statement rows and segment names, half of them with reports for two fiscal "
        "years (each statement also prints the prior year); a cover naming the company (Form 10-K, glossy or "
        f"name first); a running header on all but {c['reports_without_running_header']}; prose that says *we*; "
        f"four ruled tables per report, typeset column by column in {c['reports_with_tables_by_columns']} of them "
        "(as many report generators do: pypdf's text then lists the labels and each column's figures apart); file "
        "names from `northwind_2023_annual_report.pdf` to `report_<n>.pdf`; "
        f"{c['scanned_pages']} table pages scanned without a text layer ({c.get('scanned_pages_at_150_dpi', '?')} "
        f"at 150 DPI, the rest at 200). {c['questions']} questions each ask for one table cell (*What were "
        "Northwind's capital expenditures in fiscal 2023?*), naming the company by legal name, name or short name; "
        f"{c['scanned_questions']} have their evidence on a scanned page. One fresh knowledge base per row, the "
        "steps cumulative, the same files; hybrid retrieval with k = 20, answers from `kb.ask` (extractive).",
        "",
        "*Evidence page*: a top passage of a gold filing cites a page holding the figure (a passage cites the page "
        "it starts on); *page reached*: a top-5 passage's text reaches such a page; *figure in top 5*: the figure "
        "stands in a top-5 passage of a gold filing; *answer has figure*: in the extractive answer.",
        "",
        "| step | " + " | ".join(h for _, _, h in _AR_METRICS) + " | ingest s | pages/s |",
        "|---|" + "---|" * (len(_AR_METRICS) + 2),
    ]
    rows = r["configs"]
    for row in rows:
        cells = _ar_cells(row["all"])
        out.append(f"| {row['label']} | " + " | ".join(cells) + f" | {_f(row['ingest_s'], 1)} | {row['pages_per_s']} |")
    n_scanned = rows[0]["scanned"]["n"] if rows else 0
    out += [
        "",
        f"The {n_scanned} questions whose evidence is on a scanned page:",
        "",
        "| step | " + " | ".join(h for _, _, h in _AR_METRICS[_AR_SCANNED]) + " |",
        "|---|" + "---|" * len(_AR_METRICS[_AR_SCANNED]),
    ]
    for row in rows:
        out.append(f"| {row['label']} | " + " | ".join(_ar_cells(row["scanned"])[_AR_SCANNED]) + " |")
    out += ["", *_annual_reports_scans(r), *_annual_reports_speed(r), *_annual_reports_llm()]
    return [*out, *_annual_reports_reading(r), ""]


def _annual_reports_scans(r: dict[str, Any]) -> list[str]:
    """What OCR read on the scanned pages: as ``load_pdf`` renders them, and from the embedded image itself."""
    scans = r.get("scans") or []
    if not scans:
        return []
    out = [
        "OCR of the scanned pages by ragtune's own OCR function: from the page as `load_pdf` renders it for OCR "
        f"(`ocr_dpi` = {r.get('ocr_dpi', '?')}) and from the scan's embedded "
        "image at its own resolution:",
        "",
        "| scanned at | pages | figures read: `load_pdf` / native | the questions' figures read: `load_pdf` / native |",
        "|---|---|---|---|",
    ]
    for dpi in sorted({s["scan_dpi"] for s in scans}):
        rows = [s for s in scans if s["scan_dpi"] == dpi]
        total = {k: sum(s[k] for s in rows) for k in rows[0] if k.startswith(("figures", "gold"))}
        out.append(
            f"| {dpi} DPI | {len(rows)} | {total['figures_read_rendered']} / {total['figures_read_native']} | "
            f"{total['gold_read_rendered']} / {total['gold_read_native']} of {total['gold']} |"
        )
    return [*out, ""]


def _annual_reports_speed(r: dict[str, Any]) -> list[str]:
    """Parse and ingest pages/s, ragtune beside LangChain's default PDF path."""
    out = [
        "PDF pages per second in the same run: parsing alone, and the whole ingest (parse, chunk, embed, store; model "
        "loaded beforehand). ragtune's ingest also embeds each chunk's answer sentences (`[answer] sentence_vectors`).",
        "",
        "| reader | pages | parse s | parse pages/s | ingest s | ingest pages/s | chunks |",
        "|---|---|---|---|---|---|---|",
    ]
    by_options = {(p["tables"], p["ocr"]): p for p in r["parse"]}
    ingests = {(row["parse"]["tables"], row["parse"]["ocr"]): row for row in r["configs"]}
    names = {(False, False): "pypdf text", (True, False): "+ tables", (True, True): "+ tables + OCR"}
    for key, name in names.items():
        p, row = by_options.get(key), ingests.get(key)
        if p is None:
            continue
        ingest = [_f(row["ingest_s"], 1), str(row["pages_per_s"]), str(row["chunks"])] if row else ["", "", ""]
        out.append(f"| ragtune `load_pdf`, {name} | {p['pages']} | {_f(p['seconds'], 2)} | {p['pages_per_s']} | "
                   + " | ".join(ingest) + " |")  # fmt: skip
    lc = r["langchain"]
    if lc.get("status") == "ok":
        out += [
            f"| LangChain `PyPDFLoader` → `RecursiveCharacterTextSplitter()` → `HuggingFaceEmbeddings` → "
            f"`InMemoryVectorStore` | {lc['pages']} | {_f(lc['parse_s'], 2)} | {lc['parse_pages_per_s']} | "
            f"{_f(lc['ingest_s'], 1)} | {lc['ingest_pages_per_s']} | {lc['chunks']} |",
            "",
            f"LangChain's path is pypdf's text: it cannot OCR ({lc['pages_without_text']} scanned pages come out "
            "empty) and keeps the column-typeset tables' rows apart; its default chunks of 4,000 characters hold about "
            "a page each, and all-MiniLM-L6-v2 embeds only their first 256 tokens.",
        ]
    else:
        out += ["", f"LangChain peer: {lc.get('status')} — {lc.get('reason', '')}"]
    return [*out, ""]


def _annual_reports_llm() -> list[str]:
    r = _result("annual_reports_llm")
    if r is None:
        return ["Step 5 (an LLM-written context per chunk, `--llm-context`) has not been run yet.", ""]
    out = [
        f'Step 5, an LLM-written context per chunk (`chunking.context_model = "smollm2"`), on {len(r["reports"])} '
        f"reports ({r['pages']} pages) and their questions, beside steps 3 and 4 on the same files: "
        f"`{r['command']}` ({r['date']}; step 5's ingest seconds include loading the model).",
        "",
        "| step | questions | " + " | ".join(h for _, _, h in _AR_METRICS) + " | ingest s |",
        "|---|---|" + "---|" * (len(_AR_METRICS) + 1),
    ]
    for row in r["rows"]:
        cells = _ar_cells(row["all"])
        out.append(f"| {row['label']} | {row['all']['n']} | " + " | ".join(cells) + f" | {_f(row['ingest_s'], 1)} |")
    return [*out, ""]


def _annual_reports_reading(r: dict[str, Any]) -> list[str]:
    steps = {row["step"]: row for row in r["configs"]}
    if set(steps) != {0, 1, 2, 3, 4}:
        return ["(A partial run: the reading needs all five steps.)"]
    a = {i: row["all"] for i, row in steps.items()}
    s = {i: row["scanned"] for i, row in steps.items()}
    gains = [(a[i]["evidence@5"] - a[i - 1]["evidence@5"], steps[i]["label"]) for i in range(1, 5)]
    best = max(gains)
    meta, filters, c = steps[4]["metadata"], steps[4]["auto_filters"], r["corpus"]
    by_rows = c["reports"] - c["reports_with_tables_by_columns"]
    return [
        "Reading.",
        "",
        f"- **Overall.** From the baseline to step 4 the evidence page is in the top 5 for {_f(a[0]['evidence@5'])} → "
        f"{_f(a[4]['evidence@5'])} of the questions and the figure stands in its row in a top-5 passage for "
        f"{_f(a[0]['labelled_in_top5_text'])} → {_f(a[4]['labelled_in_top5_text'])}. The largest step is "
        f"*{best[1]}* (evidence page@5 +{best[0]:.3f}): the label puts the company, report and year into every "
        f"chunk, which is what tells two look-alike cash-flow tables apart. The cover fields were read from all "
        f"{meta['documents']} reports ({meta['company_right']} companies, {meta['year_right']} years right); the "
        f"question filters were set on {filters['company']} of {a[4]['n']} questions by company and "
        f"{filters['year']} by year, {filters['excluding_the_gold_filing']} excluding the gold filing, and "
        f"filing@1 goes {_f(a[3]['filing@1'])} → {_f(a[4]['filing@1'])}.",
        f"- **Tables** lift the evidence page into the top 20 ({_f(a[0]['evidence@20'])} → "
        f"{_f(a[1]['evidence@20'])}), not into the top 5 ({_f(a[0]['evidence@5'])} → {_f(a[1]['evidence@5'])}), "
        f"and the figure-in-its-row share stays {_f(a[0]['labelled_in_top5_text'])} → "
        f"{_f(a[1]['labelled_in_top5_text'])}. pypdf keeps the rows of the {by_rows} "
        "reports typeset row by row on one line each; on the column-typeset ones it lists labels and figures apart "
        f"(the baseline holds the figure *anywhere* in the top 5 for {_f(a[0]['gold_in_top5_text'])}, in its row "
        f"for {_f(a[0]['labelled_in_top5_text'])}). As `| a | b |` rows a statement takes more tokens and is cut in "
        f"two chunks ({steps[0]['chunks']} → {steps[1]['chunks']} chunks), so the half holding the asked row "
        "competes with the half holding the statement's title.",
        f"- **Answers.** The baseline's extractive answers hold the figure for {_f(a[0]['answer_contains_gold'])} "
        "because the answerer takes a whole pypdf table, which has no sentence ends, as one sentence: an answer "
        f"holding the figure holds {a[0]['figures_per_right_answer_p50']:g} figures (median). With table rows it "
        f"answers with one row ({a[1]['figures_per_right_answer_p50']:g} figures), and holds the figure for "
        f"{_f(a[1]['answer_contains_gold'])} (declined: {_f(a[0]['answer_declined'])} → "
        f"{_f(a[1]['answer_declined'])}); in the answers read by hand it picked the same-named row of another "
        "company or year (segment names and statement rows repeat across filings) or a statement's title, or "
        "declined with the row in its top passages. Context and filters bring it to "
        f"{_f(a[4]['answer_contains_gold'])}, still far "
        f"below the {_f(a[4]['labelled_in_top5_text'])} of questions whose top 5 hold the row: the answerer is now "
        "the weak link.",
        f"- **Scanned pages.** OCR finds the scanned evidence page (page reached@5 {_f(s[1]['page_in_top5'])} → "
        f"{_f(s[2]['page_in_top5'])}) and puts its figure in the top 5 for {_f(s[2]['gold_in_top5_text'])} of the "
        f"{s[2]['n']} questions. The first run of this benchmark found that a page scanned at 150 DPI and "
        "re-rendered at 200 DPI for OCR lost most of its figures (22 of the 123 Tesseract reads from the embedded "
        "image; figure in top 5 0.222); `load_pdf` now renders a scan at its own resolution when that is below "
        "`ocr_dpi`, the `load_pdf` column above. The answers still rarely hold the figure (see *Answers*).",
        f"- **Caveats.** filing@5 is near 1 from the baseline on ({_f(a[0]['filing@5'])}): with {c['reports']} "
        "reports of about 11 pages a passage naming the company (cover, first prose page, running header) reaches "
        "the top 5 whatever else ranks, while the real filings behind the 39% had hundreds of pages each; filing@1 "
        "shows the look-alike confusion instead. *Page reached* exceeds *evidence page* because a chunk that starts "
        "at the foot of the page before a table holds the table's first rows but cites the earlier page. Ingest "
        "seconds vary by up to half between runs on this shared 2-core machine (step 2: 49–82 s in three runs).",
        *_annual_reports_llm_reading(),
        "- **Speed.** Parsing with pypdf alone, ragtune's `load_pdf` and LangChain's `PyPDFLoader` read pages at "
        "the same order of speed; pdfplumber on the ruled pages and Tesseract on the scans are what cost. Whole "
        "ingest: ragtune embeds more, smaller chunks plus every chunk's answer sentences, LangChain embeds one "
        "256-token window per page-sized chunk.",
    ]


def _annual_reports_llm_reading() -> list[str]:
    r = _result("annual_reports_llm")
    rows = {row["label"].split()[0]: row for row in (r or {}).get("rows", [])}
    if "4" not in rows or "5" not in rows:
        return []
    four, five = rows["4"], rows["5"]
    return [
        f"- **LLM chunk context** (step 5, {len(r['reports'])} reports, {five['all']['n']} questions): evidence "
        f"page@5 {_f(four['all']['evidence@5'])} → {_f(five['all']['evidence@5'])}, figure in its row in the top 5 "
        f"{_f(four['all']['labelled_in_top5_text'])} → {_f(five['all']['labelled_in_top5_text'])}, answer "
        f"{_f(four['all']['answer_contains_gold'])} → {_f(five['all']['answer_contains_gold'])}, for "
        f"{five['ingest_s'] / four['ingest_s']:.0f}× the ingest time ({_f(five['ingest_s'], 0)} s for "
        f"{five['chunks']} chunks with SmolLM2-135M on this shared CPU): no gain over the document label here."
    ]


def retriever_tuning(r: dict[str, Any]) -> list[str]:
    out = ["## Retriever tuning: the embedding model fine-tuned on the KB's own data (issue 14)", ""]
    out += _header(r)
    sf = r["scifact"]
    t, p = sf["training"], sf["pairs"]
    sources = ", ".join(f"{k} {v}" for k, v in sorted(p["sources"].items()))
    cfg = t["config"]
    out += [
        "`ragtune tune-retriever` + `ragtune kb reembed` on SciFact: pairs from the **train** split only (its queries "
        f"and qrels) plus title pairs from the corpus — {p['pairs']:,} pairs ({sources}); {p['leaking']} dropped as "
        f"test questions (the `data check` leakage test), {p['duplicates']} duplicates; {p['with_negatives']:,} with a "
        f"hard negative mined from the KB's hybrid search. MultipleNegativesRanking loss, {cfg['epochs']:g} epoch(s), "
        f"batch {cfg['batch_size']}, learning rate {cfg['learning_rate']:g}, {t['precision']}: **{t['steps']} steps in "
        f"{t['seconds']:.0f} s** on this machine's cores; re-embedding {sf['reembed']['chunks_embedded']:,} chunks "
        f"took {sf['reembed']['seconds']:.0f} s. Test split (300 queries), before → after:",
        "",
        "| mode | nDCG@10 before | nDCG@10 after | goal | met | Recall@100 before | Recall@100 after |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in sf["rows"]:
        out.append(
            f"| {row['mode']} | {_f(row['ndcg@10_before'])} | **{_f(row['ndcg@10_after'])}** | "
            f"{_f(row['goal_ndcg@10'], 2)} | {_f(row['met'])} | {_f(row['recall@100_before'])} | "
            f"{_f(row['recall@100_after'])} |"
        )
    m = t["metrics"]
    out += [
        "",
        f"Held-out training queries (a tenth, never trained on): recall@5 {_f(m.get('base_val_recall_at_5'))} → "
        f"{_f(m.get('val_recall_at_5'))}, MRR {_f(m.get('base_val_mrr'))} → {_f(m.get('val_mrr'))}. Version 1 "
        "searched again after the re-embed (it keeps its own vectors): dense nDCG@10 "
        f"{_f(sf['version_1_dense_ndcg@10_after_reembed'])}.",
    ]
    rr = sf.get("reranker") or {}
    if rr:
        rt = rr["training"]
        out += [
            "",
            f"Reranker (`ragtune tune-reranker`): a cross-encoder trained from the bundled MiniLM weights on the same "
            f"pairs with three mined negatives each, {rt['steps']} steps in {rt['seconds']:.0f} s; it reorders the "
            f"{rr['base_embedder']['depth']} best hybrid passages ({sf.get('fusion', 'rrf')} fusion). Test nDCG@10 "
            "and per-query latency (hybrid with and without the reranker, same run):",
            "",
            "| embedder | hybrid nDCG@10 | + rerank | goal (hybrid + 0.01) | met | hybrid p50 / p95 ms | "
            "+ rerank p50 / p95 ms |",
            "|---|---|---|---|---|---|---|",
        ]
        for key in ("base_embedder", "tuned_embedder"):
            e = rr.get(key)
            if not e:
                continue
            lat = e["latency_ms"]
            out.append(
                f"| {key.split('_')[0]} | {_f(e['hybrid_ndcg@10'])} | **{_f(e['ndcg@10'])}** | "
                f"{_f(e['goal_ndcg@10'])} | {_f(e['met'])} | {lat['hybrid_p50']} / {lat['hybrid_p95']} | "
                f"{lat['reranked_p50']} / {lat['reranked_p95']} |"
            )
        m2 = rt["metrics"]
        out += [
            "",
            "Held-out training queries: MRR of the positive among its mined candidates "
            f"{_f(m2.get('base_val_candidate_mrr'))} (base embedder's cosine) → {_f(m2.get('val_candidate_mrr'))} "
            "(reranker).",
        ]
    g = r["squad_guard"]
    out += [
        "",
        f"Generalisation guard, SQuAD dev paragraphs (not trained on; {g['questions']:,} questions, "
        f"{g['paragraphs']:,} paragraphs, dense): nDCG@10 {_f(g['base']['ndcg@10'], 4)} (base) → "
        f"{_f(g['tuned']['ndcg@10'], 4)} (tuned), {g['delta']:+.4f}; allowed drop {g['max_drop']}: "
        f"{'met' if g['met'] else '**not met**'}.",
    ]
    hc = r.get("helpcenter")
    if hc:
        hp = hc["pairs"]
        out += [
            "",
            f"Help center, synthesized pairs only (no labels): {hp['pairs']} pairs "
            f"({', '.join(f'{k} {v}' for k, v in sorted(hp['sources'].items()))}), {hp['leaking']} dropped as eval "
            f"questions; {hc['training']['steps']} steps in {hc['training']['seconds']:.0f} s. Source-page recall on "
            f"the {hc['questions']} eval questions, before → after:",
            "",
            "| mode | recall@1 | recall@5 | MRR@10 |",
            "|---|---|---|---|",
        ]
        for row in hc["rows"]:
            b, a = row["before"], row["after"]
            out.append(
                f"| {row['mode']} | {_f(b['recall_at_1'])} → {_f(a['recall_at_1'])} | "
                f"{_f(b['recall_at_5'])} → {_f(a['recall_at_5'])} | {_f(b['mrr_at_10'])} → {_f(a['mrr_at_10'])} |"
            )
        if hc.get("compare"):
            out += [
                "",
                f"The same KB in `ragtune compare` ({hc['questions']} eval questions, extractive answers, semantic "
                "quality with 95% bootstrap CIs; setup as compare measures it):",
                "",
                "| strategy | quality | 95% CI | recall@5 | p50 ms | setup s |",
                "|---|---|---|---|---|---|",
            ]
            for name, c in hc["compare"].items():
                ci = c.get("quality_ci") or [None, None]
                out.append(
                    f"| {name} | {_f(c.get('quality'))} | [{_f(ci[0])}, {_f(ci[1])}] | "
                    f"{_f(c.get('retrieval_recall'))} | {_f(c.get('latency_p50_ms'), 1)} | "
                    f"{_f(c.get('setup_seconds'), 0)} |"
                )
            if hc.get("advise"):
                out += ["", f"`advise` (rule `retriever_vs_generator_tuning`): {hc['advise']}"]
    if r.get("notes"):
        out += ["", r["notes"]]
    return [*out, ""]


def fusion(r: dict[str, Any]) -> list[str]:
    out = ["## Fusion that keeps exact evidence: rrf, weighted, convex, and exact identifiers first", ""]
    out += _header(r)
    sets = r["rare_sets"]
    out += [
        "Rare-term sets (built by the script, seed "
        f"{r['seed']}): {sets['scifact']['queries']} SciFact abstracts, on a copy of the SciFact KB, each given one "
        "sentence with an invented error code (`E-44xx`, look-alike codes in other abstracts), product name, "
        "protocol name (the issue's quokka-lantern case) or bare id (`LOT-204xx` among look-alikes), queried by "
        f"name; {sets['helpcenter']['queries']} help-center queries for new `DN-9xx` codes (bare and in a "
        "question) and setting names added to 12 pages of a copy of `examples/helpcenter/docs`. *Exact first*: the "
        "edited document ranks first. `weight_dense` for `weighted` and `convex` is chosen by SciFact **train** "
        f"nDCG@10 only. Protocol: {r['protocol']}.",
        "",
        "| system | SciFact test nDCG@10 | Recall@100 | rare terms: exact first | MRR@10 | help-center rare: exact "
        "first | help center recall@1 | recall@5 | MRR@10 | p50 ms/query | fusion µs |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        sf, rs, rh, hc = row["scifact_test"], row["rare_scifact"], row["rare_helpcenter"], row["helpcenter"]
        out.append(
            f"| {row['system']} | {_f(sf['ndcg@10'])} | {_f(sf['recall@100'])} | {_f(rs['exact_first'])} | "
            f"{_f(rs['mrr@10'])} | {_f(rh['exact_first'])} | {_f(hc['recall@1'])} | {_f(hc['recall@5'])} | "
            f"{_f(hc['mrr@10'])} | {_f(row['query_p50_ms'], 2)} | {_f(row['fusion_p50_us'], 0)} |"
        )
    kinds = list(r["rows"][0]["rare_scifact"]["by_kind"]) + list(r["rows"][0]["rare_helpcenter"]["by_kind"])
    out += ["", "Exact first by kind of rare term:", "", "| system | " + " | ".join(kinds) + " |"]
    out.append("|---|" + "---|" * len(kinds))
    for row in r["rows"]:
        by = {**row["rare_scifact"]["by_kind"], **row["rare_helpcenter"]["by_kind"]}
        out.append(f"| {row['system']} | " + " | ".join(_f(by[k]) for k in kinds) + " |")
    weighted = [g for g in r["train_grid"] if g["weight_dense"] is not None]
    families = list(dict.fromkeys(g["family"] for g in weighted))
    grid = {(g["family"], g["weight_dense"]): g["train_ndcg@10"] for g in weighted}
    curve = {(c["family"], c["weight_dense"]): c for c in r["curve"]}
    out += [
        "",
        "The sweep: SciFact **train** nDCG@10 (what chose the weight) and, never used to choose, the rare-term "
        "exact-first rates (SciFact set / help-center set) and the help center's MRR@10:",
        "",
        "| weight_dense | " + " | ".join(f"{f}: train nDCG@10 | rare (SciFact / help) | help MRR@10" for f in families)
        + " |",
        "|---|" + "---|---|---|" * len(families),
    ]  # fmt: skip
    for a in sorted({a for _, a in grid}):
        cells = []
        for f in families:
            c = curve.get((f, a), {})
            rare = f"{_f(c.get('rare_scifact'), 2)} / {_f(c.get('rare_helpcenter'), 2)}"
            cells += [_f(grid.get((f, a))), rare, _f(c.get("helpcenter_mrr@10"))]
        out.append(f"| {a} | " + " | ".join(cells) + " |")
    fixed = "; ".join(f"{g['family']} {_f(g['train_ndcg@10'])}" for g in r["train_grid"] if g["weight_dense"] is None)
    if fixed:
        out += ["", f"Train nDCG@10 of the fusions without a weight: {fixed}."]
    if r.get("ablation"):
        out += [
            "",
            "Each design choice against its alternative at the chosen weight (SciFact **train** nDCG@10 decides; the "
            "rest shows what the alternative costs or fixes):",
            "",
            "| variant | train nDCG@10 | rare: exact first (SciFact) | (help center) | help recall@1 | help MRR@10 |",
            "|---|---|---|---|---|---|",
        ]
        for a in r["ablation"]:
            out.append(
                f"| {a['variant']} | {_f(a['train_ndcg@10'])} | {_f(a['rare_scifact'])} | {_f(a['rare_helpcenter'])} "
                f"| {_f(a['helpcenter_recall@1'])} | {_f(a['helpcenter_mrr@10'])} |"
            )
    rows = {row["system"].split(",")[0]: row for row in r["rows"]}
    new, old = rows.get("convex + exact_first"), rows.get("rrf")
    if new and old:
        out += [
            "",
            f"Reading: the default (`convex`, weight_dense {new.get('weight_dense')}, `exact_first`) puts the edited "
            f"document first for {_f(new['rare_scifact']['exact_first'], 2)} of the SciFact rare-term queries and "
            f"{_f(new['rare_helpcenter']['exact_first'], 2)} of the help center's (rrf: "
            f"{_f(old['rare_scifact']['exact_first'], 2)} and {_f(old['rare_helpcenter']['exact_first'], 2)}), with "
            f"SciFact test nDCG@10 {_f(new['scifact_test']['ndcg@10'])} against rrf's "
            f"{_f(old['scifact_test']['ndcg@10'])} (Recall@100 {_f(new['scifact_test']['recall@100'])} against "
            f"{_f(old['scifact_test']['recall@100'])}) and the help center's page recall@5 / MRR@10 "
            f"{_f(new['helpcenter']['recall@5'])} / {_f(new['helpcenter']['mrr@10'])} against "
            f"{_f(old['helpcenter']['recall@5'])} / {_f(old['helpcenter']['mrr@10'])}. Score-aware fusion alone "
            "keeps an overwhelming keyword match first (invented names, bare codes and ids); a code inside a question "
            '("What does error DN-913 mean?") is not overwhelming, since the error-code page repeats the question\'s '
            "other words, and needs the identifier stage. The weight is near the edge: above ~0.8 the dense leg starts "
            "to outvote unique keyword matches again (the sweep's rare-term column), so a higher `weight_dense` trades "
            "exact evidence for paraphrase recall.",
        ]
    return [*out, ""]


SECTIONS = [
    ("cold_start", cold_start),
    ("beir_scifact", beir),
    ("ingest_speed", ingest),
    ("ingest_quality", ingest_quality),
    ("latency", latency),
    ("acl_latency", acl_latency),
    ("ann", ann),
    ("peers", peers),
    ("freshness", freshness),
    ("squad", squad),
    ("extractive_speed", extractive_speed),
    ("train_speed", train_speed),
    ("compare_helpcenter", compare_helpcenter),
    ("compare_helpcenter_quick", compare_helpcenter),
    ("generation_speed", generation_speed),
    ("rag_sweep", rag_sweep),
    ("lora_settings", lora_settings),
    ("knowledge_injection", knowledge_injection),
    ("load", load),
    ("ocr_speed", ocr_speed),
    ("pdf_tables", pdf_tables),
    ("doc_context", doc_context),
    ("annual_reports", annual_reports),
    ("retriever_tuning", retriever_tuning),
    ("fusion", fusion),
]


def main() -> None:
    parts = [
        "# Benchmarks",
        "",
        "Generated by `benchmarks/report.py` from `benchmarks/results/*.json`; `make bench` "
        "(`benchmarks/run_all.py`) re-runs everything and refreshes this page. Data: `../shared/data` "
        "(BEIR SciFact, SQuAD v1.1 dev even articles). Machines are shared: peers are measured in the same run.",
        "",
    ]
    for name, fn in SECTIONS:
        path = common.RESULTS / f"{name}.json"
        if not path.exists():
            parts += [f"## {name}", "", "_not run yet_", ""]
            continue
        parts += fn(json.loads(path.read_text(encoding="utf-8")))
    findings = Path(__file__).resolve().parent / "FINDINGS.md"
    if findings.exists():  # hand-written: targets, what was tried, what is left
        parts += [findings.read_text(encoding="utf-8")]
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text("\n".join(parts).rstrip() + "\n", encoding="utf-8")
    print(f"wrote {DOC.relative_to(common.REPO)}")


if __name__ == "__main__":
    main()
