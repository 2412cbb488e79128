"""LangChain: BM25Retriever (langchain-community, rank-bm25) + InMemoryVectorStore (langchain-core) retriever,
fused by EnsembleRetriever (weighted reciprocal rank fusion, weights 0.5/0.5), as in LangChain's
"EnsembleRetriever" how-to. Library defaults otherwise (BM25Retriever's whitespace split, HuggingFaceEmbeddings'
batch of 32). One Document per SciFact document (title + abstract): no chunking.
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

from langchain_classic.retrievers import EnsembleRetriever
from langchain_community.retrievers import BM25Retriever
from langchain_core.documents import Document
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_huggingface import HuggingFaceEmbeddings

MARKS["imports"] = time.time()

t = time.perf_counter()
embeddings = HuggingFaceEmbeddings(
    model_name=args.model, model_kwargs={"device": "cpu"}, encode_kwargs={"normalize_embeddings": True}
)
model_load_s = time.perf_counter() - t

t = time.perf_counter()
corpus = harness.load_corpus(args.corpus)
docs = [Document(page_content=text, metadata={"doc_id": doc_id}) for doc_id, text in corpus]
bm25_retriever = BM25Retriever.from_documents(docs, k=args.k)
vector_store = InMemoryVectorStore.from_documents(docs, embeddings)
vector_retriever = vector_store.as_retriever(search_kwargs={"k": args.k})
retriever = EnsembleRetriever(retrievers=[bm25_retriever, vector_retriever], weights=[0.5, 0.5])
ingest_s = time.perf_counter() - t


def search(query: str) -> list[str]:
    return [d.metadata["doc_id"] for d in retriever.invoke(query)][: args.k]


queries, first_query_ms, runs, ms = harness.first_then_warm(search, args, MARKS)
harness.emit(
    marks=MARKS,
    model_load_s=model_load_s,
    ingest_s=ingest_s,
    first_query_ms=first_query_ms,
    runs=runs,
    ms=ms,
    docs=len(corpus),
    packages=["langchain-core", "langchain-community", "langchain-classic", "langchain-huggingface", "rank-bm25"],
    setup="BM25Retriever (rank-bm25 Okapi, default whitespace tokenizer) + InMemoryVectorStore retriever → "
    f"EnsembleRetriever (RRF, weights 0.5/0.5), k={args.k} per leg, top {args.k} of the fused list",
)
