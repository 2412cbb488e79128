"""ragtune through its public API, as a user runs it: KnowledgeBase.open → ingest the corpus file → hybrid search.

Default settings (no ragtune.toml; run.py clears RAGTUNE_* variables): ragtune chunks the documents itself.
nDCG@10 ranks documents by their best passage from k=50 passages (benchmarks/beir_scifact.py's protocol);
the timed queries are ``kb.search(q, k=10, mode="hybrid")``, and the document ranking of those 10 passages is
reported too.
"""

# ruff: noqa: E402  (the process start is stamped before the imports it measures)
from __future__ import annotations

import time

MARKS = {"start": time.time()}

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import harness

args = harness.parse_args()

from ragtune import KnowledgeBase
from ragtune.config import Settings

MARKS["imports"] = time.time()
NDCG_PASSAGES = 50


def by_doc(passages: list) -> list[str]:
    seen: dict[str, None] = {}
    for p in passages:
        seen.setdefault(p.doc_id, None)
    return list(seen)


# benchmarks/peers/ragtune_search/peer.py runs this file with SEARCH_ONLY: no sentence vectors at ingest.
SEARCH_ONLY = bool(globals().get("SEARCH_ONLY", False))
settings = Settings().replace("answer", sentence_vectors=False) if SEARCH_ONLY else None
kb = KnowledgeBase.open(Path(args.workdir) / "kb", create=True, settings=settings)
t = time.perf_counter()
embedder = kb.embedder  # loads the model
model_load_s = time.perf_counter() - t

t = time.perf_counter()
report = kb.ingest([args.corpus], id_field="_id", text_field="text", title_field="title")
ingest_s = time.perf_counter() - t


def search(query: str) -> list[str]:
    return by_doc(kb.search(query, k=args.k, mode="hybrid"))


queries, first_query_ms, runs_as_searched, ms = harness.first_then_warm(search, args, MARKS)
runs = {q: by_doc(kb.search(text, k=NDCG_PASSAGES, mode="hybrid"))[: args.k] for q, text in queries}
status = kb.status()
harness.emit(
    marks=MARKS,
    model_load_s=model_load_s,
    ingest_s=ingest_s,
    first_query_ms=first_query_ms,
    runs=runs,
    runs_as_searched=runs_as_searched,
    ms=ms,
    docs=len(report.added),
    chunks=status["chunks"],
    chunks_embedded=report.chunks_embedded,
    embedder=embedder.id,
    packages=["ragtune"],
    setup=("KnowledgeBase.open ([answer] sentence_vectors = false)" if SEARCH_ONLY else "KnowledgeBase.open (defaults)")
    + " + ingest(corpus.jsonl, title_field='title') + search(mode='hybrid'); "
    f"documents chunked by ragtune; nDCG@10 from k={NDCG_PASSAGES} passages ranked by document",
)
kb.close()
