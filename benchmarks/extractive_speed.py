"""Extractive answers on the help center: sentence vectors stored at ingest vs embedded at answer time.

Builds the help-center KB (examples/helpcenter/docs) fresh, timing the ingest and the part of it that embeds the
candidate sentences (``kb.sentences.fill_sentence_vectors``). Then every question of examples/helpcenter/eval.jsonl
is answered by ``rag-extractive`` two ways, interleaved question by question in the same process:

- **stored** (this code): the passages' sentence vectors read from the store, the question through ``embed_query``;
- **on the fly** (the peer: the answerer as it was before): every candidate and the question embedded in one
  ``embed`` call, the answerer's text cache cleared before each question, which is what a fresh ``ragtune ask``
  process sees; a second pass with the cache kept warm is recorded too.

Answer-stage ms is ``timings_ms["generate"]``; ask ms is the whole ``strategy.ask`` wall time (retrieval included,
warm). Quality: the comparison's answer metrics (``evaluate.run.scoring.score_answers``: token F1, semantic
similarity, declines, citations) for both, and how many answers are identical. ``--late-chunking`` adds a third
variant measured for the choice of how to compute the stored vectors: each sentence's vector mean-pooled out of
its chunk's own token embeddings (one forward pass per chunk, as ingest already runs) instead of embedding the
sentence alone.

    .venv/bin/python benchmarks/extractive_speed.py [--late-chunking]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

TARGET_P50_MS = 30.0
METRICS = ("f1", "semantic", "correct_decline", "false_decline", "citation_precision", "citation_recall")


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": common.percentile(values, 50), "p95": common.percentile(values, 95), "mean": statistics.mean(values)}


def quality(answers: list[Any], items: list[Any], embed: Any) -> dict[str, Any]:
    from ragtune.evaluate.run.scoring import AnswerCase, score_answers

    cases = [
        AnswerCase(
            question=it.question,
            answer=a.text,
            references=[it.answer] if it.answer and not it.unanswerable else [],
            reference_sources=list(it.sources),
            unanswerable=it.unanswerable,
            cited_doc_ids=[c.doc_id for c in a.citations],
            cited_passages={c.n: c.text for c in a.citations},
            retrieved_doc_ids=[p.doc_id for p in a.passages],
            answered=a.answered,
        )
        for a, it in zip(answers, items, strict=True)
    ]
    rows = score_answers(cases, embed=embed)
    out: dict[str, Any] = {}
    for key in (*METRICS, "groundedness"):
        vals = [float(r[key]) for r in rows if r.get(key) is not None]
        out[key] = statistics.mean(vals) if vals else None
    out["answered"] = statistics.mean(float(a.answered) for a in answers)
    return out


def late_chunked_vectors(kb: Any) -> tuple[dict[str, tuple[list[str], np.ndarray]], float, float]:
    """chunk hash → (candidate texts, vectors mean-pooled from the chunk's own token embeddings); the seconds of the
    forward passes (which ingest already runs for the chunk vectors) and of the pooling."""
    import torch

    from ragtune.kb.doc_context import indexed_text
    from ragtune.kb.store import chunk_hash
    from ragtune.text import answer_candidates

    model = kb.embedder._model
    tokenizer = model.tokenizer
    chunks = kb.store.chunks_since(0, kb.embedder.id, 10**9)
    out: dict[str, tuple[list[str], np.ndarray]] = {}
    forward_s = pool_s = 0.0
    for _, ctx, text, _ in chunks:
        full = indexed_text(ctx, text)
        offset = len(full) - len(text)
        t = time.perf_counter()
        enc = tokenizer([full], truncation=True, max_length=kb.embedder.max_tokens, return_offsets_mapping=True,
                        return_tensors="pt")  # fmt: skip
        spans = enc.pop("offset_mapping")[0].numpy()
        with torch.inference_mode():
            tokens = model[0].auto_model(**enc).last_hidden_state[0].float().numpy()
        forward_s += time.perf_counter() - t
        t = time.perf_counter()
        cands = answer_candidates(text)
        vecs = np.zeros((len(cands), tokens.shape[1]), dtype=np.float32)
        for i, c in enumerate(cands):
            a, b = c.start + offset, c.end + offset
            inside = (spans[:, 1] > a) & (spans[:, 0] < b) & (spans[:, 1] > spans[:, 0])
            v = tokens[inside].mean(axis=0) if inside.any() else tokens.mean(axis=0)
            vecs[i] = v / max(float(np.linalg.norm(v)), 1e-12)
        out[chunk_hash(ctx, text)] = ([c.embed_text for c in cands], vecs)
        pool_s += time.perf_counter() - t
    return out, forward_s, pool_s


def scifact_ingest_cost(n_docs: int) -> dict[str, Any] | None:
    """Ingest the first ``n_docs`` SciFact abstracts without sentence vectors, then fill them: the extra ingest time
    on longer, plain-prose documents (None when the data is absent)."""
    from ragtune import KnowledgeBase
    from ragtune.kb.sentences import fill_sentence_vectors

    try:
        corpus = common.scifact_dir() / "corpus.jsonl"
    except SystemExit:
        return None
    subset = common.CACHE / f"scifact_first{n_docs}.jsonl"
    with corpus.open(encoding="utf-8") as f:
        subset.write_text("".join(line for _, line in zip(range(n_docs), f, strict=False)), encoding="utf-8")
    path = common.CACHE / "extractive_speed_scifact"
    shutil.rmtree(path, ignore_errors=True)
    settings = common.settings().replace("answer", sentence_vectors=False)
    kb = KnowledgeBase.open(path, create=True, settings=settings)
    kb.embedder.embed(["warm up"])
    t = time.perf_counter()
    kb.ingest([subset], id_field="_id", text_field="text", title_field="title")
    ingest_s = time.perf_counter() - t
    t = time.perf_counter()
    filled = fill_sentence_vectors(kb.store, kb.embedder)
    fill_s = time.perf_counter() - t
    hashes = [h for hs in kb.store.live_chunks().values() for h in hs]
    sentences = sum(len(t) for t, _ in kb.store.sentence_vectors(hashes, kb.embedder.id).values())
    kb.close()
    return {
        "docs": n_docs, "chunks": filled, "sentences": sentences, "ingest_s": ingest_s, "sentence_vectors_s": fill_s
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--late-chunking", action="store_true", help="also measure late-chunked sentence vectors")
    ap.add_argument("--scifact", type=int, default=600, help="SciFact abstracts for the ingest cost (0: skip)")
    args = ap.parse_args()
    from ragtune import KnowledgeBase
    from ragtune.evaluate.evalset import read_eval_set
    from ragtune.kb import ingest as ingest_module
    from ragtune.llm.extractive_generator import ExtractiveGenerator

    docs = common.REPO / "examples" / "helpcenter" / "docs"
    items = read_eval_set(common.REPO / "examples" / "helpcenter" / "eval.jsonl")
    path = common.CACHE / "extractive_speed"
    shutil.rmtree(path, ignore_errors=True)
    kb = KnowledgeBase.open(path, create=True, settings=common.settings())
    kb.embedder.embed(["warm up"])
    fill = ingest_module.fill_sentence_vectors
    fill_s = [0.0]

    def timed_fill(*a: Any, **kw: Any) -> int:
        t = time.perf_counter()
        try:
            return fill(*a, **kw)
        finally:
            fill_s[0] += time.perf_counter() - t

    ingest_module.fill_sentence_vectors = timed_fill  # type: ignore[assignment]
    t = time.perf_counter()
    kb.ingest([docs])
    ingest_s = time.perf_counter() - t
    ingest_module.fill_sentence_vectors = fill
    status = kb.status()
    hashes = [h for hs in kb.store.live_chunks().values() for h in hs]
    n_sentences = sum(len(t) for t, _ in kb.store.sentence_vectors(hashes, kb.embedder.id).values())
    print(f"KB: {status['chunks']} chunks, {n_sentences} candidate sentences; ingest {ingest_s:.2f} s "
          f"of which sentence vectors {fill_s[0]:.2f} s", flush=True)  # fmt: skip

    strategy = kb.strategies()["rag-extractive"]
    stored_pipe = strategy.pipeline
    peer_pipe = stored_pipe.__class__(
        ExtractiveGenerator(kb.embedder.embed), kb.retriever, k=stored_pipe.k, name="on-the-fly"
    )
    peer_gen: Any = peer_pipe.generator
    peer_gen.uses_sentence_vectors = False  # the answerer as it was: every candidate embedded at answer time
    questions = [it.question for it in items]
    for q in questions[:5]:  # warm up both
        stored_pipe.ask(q)
        peer_pipe.ask(q)
    timings: dict[str, dict[str, list[float]]] = {
        v: {"answer": [], "ask": []} for v in ("stored", "on_the_fly", "on_the_fly_warm_cache")
    }
    answers: dict[str, list[Any]] = {"stored": [], "on_the_fly": []}
    for q in questions:
        peer_gen.answerer._cache.clear()
        for variant, pipe in (("on_the_fly", peer_pipe), ("stored", stored_pipe)):
            t = time.perf_counter()
            a = pipe.ask(q)
            timings[variant]["ask"].append((time.perf_counter() - t) * 1000)
            timings[variant]["answer"].append(a.timings_ms["generate"])
            answers[variant].append(a)
    for q in questions:  # the peer once more, every sentence it needs already in its text cache
        t = time.perf_counter()
        a = peer_pipe.ask(q)
        timings["on_the_fly_warm_cache"]["ask"].append((time.perf_counter() - t) * 1000)
        timings["on_the_fly_warm_cache"]["answer"].append(a.timings_ms["generate"])
    speed = {v: {k: summary(vals) for k, vals in d.items()} for v, d in timings.items()}
    t = time.perf_counter()
    for q in questions:
        kb.embedder.embed_query(q)
    embed_query_ms = (time.perf_counter() - t) * 1000 / len(questions)

    embed = kb.embedder.embed
    scores = {v: quality(a, items, embed) for v, a in answers.items()}
    same = sum(a.text == b.text for a, b in zip(answers["stored"], answers["on_the_fly"], strict=True))
    late: dict[str, Any] | None = None
    if args.late_chunking:
        vectors, forward_s, pool_s = late_chunked_vectors(kb)
        stored_pipe._sentence_vectors = lambda passages: [vectors.get(p.chunk_id) for p in passages]
        late_answers = [stored_pipe.ask(q) for q in questions]
        del stored_pipe._sentence_vectors
        late = {
            "forward_s": forward_s,
            "pool_s": pool_s,
            "quality": quality(late_answers, items, embed),
            "same_as_on_the_fly": sum(
                a.text == b.text for a, b in zip(late_answers, answers["on_the_fly"], strict=True)
            ),
        }
    embedder_id = kb.embedder.id
    kb.close()
    scifact = scifact_ingest_cost(args.scifact) if args.scifact else None
    if scifact:
        print(f"SciFact {scifact['docs']} abstracts: ingest {scifact['ingest_s']:.1f} s without sentence vectors, "
              f"+{scifact['sentence_vectors_s']:.1f} s for {scifact['sentences']} sentences", flush=True)  # fmt: skip

    result = {
        "embedder": embedder_id,
        "questions": len(questions),
        "chunks": status["chunks"],
        "sentences": n_sentences,
        "k": stored_pipe.k,
        "ingest_s": ingest_s,
        "sentence_vectors_s": fill_s[0],
        "embed_query_ms": embed_query_ms,
        "speed": speed,
        "quality": scores,
        "identical_answers": same,
        "late_chunking": late,
        "scifact_ingest": scifact,
        "target_p50_ms": TARGET_P50_MS,
        "met": speed["stored"]["answer"]["p50"] <= TARGET_P50_MS,
    }
    rows = [[v, s["answer"]["p50"], s["answer"]["p95"], s["ask"]["p50"], s["ask"]["p95"]] for v, s in speed.items()]
    print(common.table(["answering", "answer p50 ms", "answer p95 ms", "ask p50 ms", "ask p95 ms"], rows))
    qrows = [[v, *(q[m] for m in (*METRICS, "answered"))] for v, q in scores.items()]
    if late:
        qrows.append(["late chunking", *(late["quality"][m] for m in (*METRICS, "answered"))])
    print(common.table(["answering", *METRICS, "answered"], qrows))
    print(f"identical answers: {same}/{len(questions)}")
    common.write_result("extractive_speed", result)


if __name__ == "__main__":
    main()
