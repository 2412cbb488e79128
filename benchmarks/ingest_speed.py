"""Ingest speed on SciFact: a first ingest into an empty KB, plain sentence-transformers on the same
chunk texts (same batch size, same run), then a re-ingest of the unchanged corpus.

    .venv/bin/python benchmarks/ingest_speed.py
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

TARGET_SPEEDUP = 50.0


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--docs", type=int, default=0, help="only the first N documents of the corpus (0: all)")
    args = ap.parse_args()
    corpus = common.scifact_dir() / "corpus.jsonl"
    if args.docs:
        subset = common.CACHE / f"scifact_first{args.docs}.jsonl"
        with corpus.open(encoding="utf-8") as f:
            subset.write_text("".join(line for _, line in zip(range(args.docs), f, strict=False)), encoding="utf-8")
        corpus = subset
    from ragtune import KnowledgeBase
    from ragtune.kb.ingest import indexed_text

    path = common.CACHE / "ingest_speed"
    shutil.rmtree(path, ignore_errors=True)
    kb = KnowledgeBase.open(path, create=True, settings=common.settings())
    t = time.perf_counter()
    emb = kb.embedder
    load_s = time.perf_counter() - t
    embed_timer, count_timer = Timed(emb.embed), Timed(emb.count_tokens)
    emb.embed, emb.count_tokens = embed_timer, count_timer  # type: ignore[method-assign]
    t = time.perf_counter()
    rep = kb.ingest([corpus], id_field="_id", text_field="text", title_field="title")
    first_s = time.perf_counter() - t
    emb.embed, emb.count_tokens = embed_timer.fn, count_timer.fn  # type: ignore[method-assign]
    n_docs, n_chunks = len(rep.added), rep.chunks_written
    print(
        f"first ingest: {n_docs} docs, {n_chunks} chunks, {rep.chunks_embedded} embedded in {first_s:.1f} s "
        f"(embedding {embed_timer.seconds:.1f} s, token counting {count_timer.seconds:.1f} s)",
        flush=True,
    )

    rows = kb.store.db.execute("SELECT context, text FROM chunks ORDER BY id").fetchall()
    texts = [indexed_text(c, x) for c, x in rows]
    n_tokens = sum(emb.count_tokens(texts))
    from sentence_transformers import SentenceTransformer

    from ragtune.embed.base import resolve_model_path

    model = SentenceTransformer(resolve_model_path(kb.settings.embed.model), device="cpu")
    bs = kb.settings.embed.batch_size
    t = time.perf_counter()
    model.encode(texts, batch_size=bs, normalize_embeddings=True, convert_to_numpy=True)
    st_s = time.perf_counter() - t
    print(f"peer: SentenceTransformer.encode of the same {len(texts)} texts, batch {bs}: {st_s:.1f} s", flush=True)

    t = time.perf_counter()
    rep2 = kb.ingest([corpus], id_field="_id", text_field="text", title_field="title")
    again_s = time.perf_counter() - t
    assert rep2.version is None and rep2.chunks_embedded == 0, rep2.as_dict()
    t = time.perf_counter()
    kb.search("warm up the index", k=1)
    index_s = time.perf_counter() - t
    speedup = first_s / again_s
    status = kb.status()
    kb.close()

    table = [
        ["ragtune first ingest", first_s, n_docs / first_s, n_chunks / first_s, n_tokens / first_s],
        [
            "  of which embedding",
            embed_timer.seconds,
            "",
            rep.chunks_embedded / embed_timer.seconds,
            n_tokens / embed_timer.seconds,
        ],
        [
            f"peer: SentenceTransformer.encode fp32, batch {bs} (same texts)",
            st_s,
            "",
            len(texts) / st_s,
            n_tokens / st_s,
        ],
        ["ragtune re-ingest (unchanged)", again_s, n_docs / again_s, "", ""],
        ["index load at first search (after ingest)", index_s, "", "", ""],
    ]
    print(common.table(["run", "seconds", "docs/s", "chunks/s", "tokens/s"], table))
    print(
        f"re-ingest speedup {speedup:.0f}x (target ≥ {TARGET_SPEEDUP:.0f}x); embedder {emb.id}; "
        f"model load {load_s:.1f} s"
    )
    common.write_result(
        "ingest_speed",
        {
            "embedder": emb.id,
            "docs": n_docs,
            "chunks": n_chunks,
            "tokens": n_tokens,
            "model_load_s": load_s,
            "first_ingest_s": first_s,
            "first_docs_per_s": n_docs / first_s,
            "first_chunks_per_s": n_chunks / first_s,
            "first_tokens_per_s": n_tokens / first_s,
            "embed_s": embed_timer.seconds,
            "embed_calls": embed_timer.calls,
            "count_tokens_s": count_timer.seconds,
            "peer_st_encode_s": st_s,
            "peer_chunks_per_s": len(texts) / st_s,
            "peer_tokens_per_s": n_tokens / st_s,
            "batch_size": bs,
            "reingest_s": again_s,
            "speedup": speedup,
            "target_speedup": TARGET_SPEEDUP,
            "met": speedup >= TARGET_SPEEDUP,
            "index_load_s": index_s,
            "kb_size_mb": status["size_mb"],
        },
    )


if __name__ == "__main__":
    main()
