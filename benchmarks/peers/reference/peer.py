"""The plain reference pipeline: sentence-transformers fp32 + exact numpy dot + bm25s + RRF (k=60), depth 100.

Runs in ragtune's own venv (bm25s is a dev dependency). Whole documents (title + abstract), no chunking.
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

import bm25s
import numpy as np
import Stemmer
from sentence_transformers import SentenceTransformer

MARKS["imports"] = time.time()
DEPTH, RRF_K = 100, 60

t = time.perf_counter()
model = SentenceTransformer(args.model, device="cpu")
model_load_s = time.perf_counter() - t

t = time.perf_counter()
corpus = harness.load_corpus(args.corpus)
ids = [d for d, _ in corpus]
texts = [x for _, x in corpus]
matrix = model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
stemmer = Stemmer.Stemmer("english")
bm25 = bm25s.BM25()
bm25.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
ingest_s = time.perf_counter() - t


def search(query: str) -> list[str]:
    qv = model.encode([query], normalize_embeddings=True, convert_to_numpy=True)[0]
    scores = matrix @ qv
    top = np.argpartition(-scores, DEPTH)[:DEPTH]
    dense = top[np.argsort(-scores[top])]
    tok = bm25s.tokenize([query], stopwords="en", stemmer=stemmer, show_progress=False)
    lex, _ = bm25.retrieve(tok, k=DEPTH, show_progress=False, n_threads=1)
    fused: dict[int, float] = {}
    for ranking in (dense, lex[0]):
        for r, i in enumerate(ranking, start=1):
            fused[int(i)] = fused.get(int(i), 0.0) + 1.0 / (RRF_K + r)
    best = sorted(fused, key=lambda i: -fused[i])[: args.k]
    return [ids[i] for i in best]


queries, first_query_ms, runs, ms = harness.first_then_warm(search, args, MARKS)
harness.emit(
    marks=MARKS,
    model_load_s=model_load_s,
    ingest_s=ingest_s,
    first_query_ms=first_query_ms,
    runs=runs,
    ms=ms,
    docs=len(corpus),
    packages=["bm25s", "PyStemmer", "numpy"],
    setup="SentenceTransformer.encode fp32 (batch 32) of whole documents, exact numpy dot; bm25s (Lucene, "
    "English stopwords, Snowball stemmer); RRF k=60 over depth 100 per leg",
)
