"""SQuAD v1.1 (dev, even articles): retrieval of the gold paragraph and extractive answers, via ``kb.ask``.

One document per paragraph (id ``<article-idx>-<para-idx>``, title = the article title with underscores
as spaces), written to a JSONL file in the cache and ingested. Every question is asked with k=5:
recall@1/@5 = the gold paragraph among the passages retrieved; "answer contains gold" = the extractive
answer text contains one of the gold answers after SQuAD normalisation.

``--on-the-fly`` answers as the extractive answerer did before sentence vectors were stored at ingest (every
candidate sentence embedded at answer time) and writes ``squad_on_the_fly``: the before/after peer.
``--late-chunking`` answers from sentence vectors pooled out of each chunk's own token embeddings instead
(``extractive_speed.late_chunked_vectors``) and writes ``squad_late_chunking``: the alternative not chosen.

    .venv/bin/python benchmarks/squad.py [--limit N] [--on-the-fly | --late-chunking]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from metrics import squad_normalize


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=0, help="ask only the first N questions (0: all)")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--on-the-fly", action="store_true", help="embed candidate sentences at answer time (before)")
    ap.add_argument("--late-chunking", action="store_true", help="late-chunked sentence vectors (not chosen)")
    args = ap.parse_args()
    src = common.require(common.data_dir() / "squad-dev-even" / "dev-v1.1-even-articles.json", "SQuAD data")
    from ragtune import KnowledgeBase

    data = json.loads(src.read_text(encoding="utf-8"))["data"]
    corpus = common.CACHE / "squad" / "paragraphs.jsonl"
    corpus.parent.mkdir(parents=True, exist_ok=True)
    questions = []
    lines = []
    for a, article in enumerate(data):
        title = article["title"].replace("_", " ")
        for p, para in enumerate(article["paragraphs"]):
            doc_id = f"{a}-{p}"
            lines.append(json.dumps({"id": doc_id, "title": title, "text": para["context"]}))
            for qa in para["qas"]:
                questions.append((qa["question"], doc_id, [x["text"] for x in qa["answers"]]))
    text = "\n".join(lines) + "\n"
    if not corpus.exists() or corpus.read_text(encoding="utf-8") != text:
        corpus.write_text(text, encoding="utf-8")
    if args.limit:
        questions = questions[: args.limit]

    kb = KnowledgeBase.open(common.CACHE / "squad" / "kb", create=True, settings=common.settings())
    t = time.perf_counter()
    rep = kb.ingest([corpus], id_field="id", text_field="text", title_field="title")
    ingest_s = time.perf_counter() - t
    status = kb.status()
    print(
        f"KB: {status['documents']} paragraphs, {status['chunks']} chunks (ingest {ingest_s:.1f} s, "
        f"{rep.chunks_embedded} embedded)",
        flush=True,
    )
    ask = kb.ask
    if args.on_the_fly:
        from ragtune.llm.extractive_generator import ExtractiveGenerator

        pipe = kb.strategies()["rag-extractive"].pipeline
        peer = pipe.__class__(ExtractiveGenerator(kb.embedder.embed), kb.retriever, k=pipe.k, name="on-the-fly")
        peer.generator.uses_sentence_vectors = False  # type: ignore[attr-defined]

        def ask(q: str, k: int) -> Any:
            return peer.ask(q, k=k)

    if args.late_chunking:
        from extractive_speed import late_chunked_vectors

        vectors, _, _ = late_chunked_vectors(kb)
        pipe = kb.strategies()["rag-extractive"].pipeline
        pipe._sentence_vectors = lambda passages: [vectors.get(p.chunk_id) for p in passages]

    ask(questions[0][0], k=args.k)  # warm up

    hit1 = hit5 = contains = answered = 0
    times, retrieve_ms, generate_ms = [], [], []
    t0 = time.perf_counter()
    for i, (q, gold, answers) in enumerate(questions):
        t = time.perf_counter()
        ans = ask(q, k=args.k)
        times.append((time.perf_counter() - t) * 1000)
        retrieve_ms.append(ans.timings_ms.get("retrieve", 0.0))
        generate_ms.append(ans.timings_ms.get("generate", 0.0))
        ids = [p.doc_id for p in ans.passages]
        hit1 += bool(ids) and ids[0] == gold
        hit5 += gold in ids[: args.k]
        answered += ans.answered
        norm = squad_normalize(ans.text) if ans.answered else ""
        contains += any(squad_normalize(a) and squad_normalize(a) in norm for a in answers)
        if (i + 1) % 1000 == 0:
            print(f"  {i + 1}/{len(questions)} asked, {time.perf_counter() - t0:.0f} s", flush=True)
    total_s = time.perf_counter() - t0
    embedder_id = kb.embedder.id
    kb.close()
    n = len(questions)
    result = {
        "embedder": embedder_id,
        "k": args.k,
        "paragraphs": status["documents"],
        "chunks": status["chunks"],
        "questions": n,
        "ingest_s": ingest_s,
        "recall@1": hit1 / n,
        f"recall@{args.k}": hit5 / n,
        "answered": answered / n,
        "answer_contains_gold": contains / n,
        "answer_contains_gold_when_answered": contains / max(answered, 1),
        "ask_p50_ms": common.percentile(times, 50),
        "ask_p95_ms": common.percentile(times, 95),
        "retrieve_p50_ms": common.percentile(retrieve_ms, 50),
        "generate_p50_ms": common.percentile(generate_ms, 50),
        "total_s": total_s,
    }
    print(common.table(["metric", "value"], [[k, v] for k, v in result.items() if k != "embedder"]))
    name = "squad_on_the_fly" if args.on_the_fly else "squad_late_chunking" if args.late_chunking else "squad"
    common.write_result(name, result)


if __name__ == "__main__":
    main()
