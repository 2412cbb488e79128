"""LlamaIndex: VectorStoreIndex (default in-memory vector store) + BM25Retriever (bm25s), fused by
QueryFusionRetriever in reciprocal-rank mode with one query (no LLM query generation), as in LlamaIndex's
"BM25 Retriever → Hybrid Retriever with BM25" example. Library defaults otherwise (HuggingFaceEmbedding's batch
of 10). One TextNode per document (title + abstract): no chunking.
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

import Stemmer
from llama_index.core import Settings, VectorStoreIndex
from llama_index.core.retrievers import QueryFusionRetriever
from llama_index.core.schema import TextNode
from llama_index.embeddings.huggingface import HuggingFaceEmbedding
from llama_index.retrievers.bm25 import BM25Retriever

MARKS["imports"] = time.time()

t = time.perf_counter()
embed_model = HuggingFaceEmbedding(model_name=args.model, device="cpu")
Settings.embed_model = embed_model
Settings.llm = None  # no LLM: num_queries=1 below generates no extra queries (LlamaIndex uses its MockLLM)
model_load_s = time.perf_counter() - t

t = time.perf_counter()
corpus = harness.load_corpus(args.corpus)
nodes = [TextNode(text=text, id_=doc_id) for doc_id, text in corpus]
index = VectorStoreIndex(nodes)
vector_retriever = index.as_retriever(similarity_top_k=args.k)
bm25_retriever = BM25Retriever.from_defaults(
    nodes=nodes, similarity_top_k=args.k, stemmer=Stemmer.Stemmer("english"), language="english"
)
retriever = QueryFusionRetriever(
    [vector_retriever, bm25_retriever],
    similarity_top_k=args.k,
    num_queries=1,
    mode="reciprocal_rerank",
    use_async=False,
)
ingest_s = time.perf_counter() - t


def search(query: str) -> list[str]:
    return [n.node.node_id for n in retriever.retrieve(query)][: args.k]


queries, first_query_ms, runs, ms = harness.first_then_warm(search, args, MARKS)
harness.emit(
    marks=MARKS,
    model_load_s=model_load_s,
    ingest_s=ingest_s,
    first_query_ms=first_query_ms,
    runs=runs,
    ms=ms,
    docs=len(corpus),
    packages=["llama-index-core", "llama-index-retrievers-bm25", "llama-index-embeddings-huggingface", "bm25s"],
    setup="VectorStoreIndex (SimpleVectorStore) + BM25Retriever (bm25s, English stemmer) → QueryFusionRetriever "
    f"(mode='reciprocal_rerank', num_queries=1), similarity_top_k={args.k} per leg and fused",
)
