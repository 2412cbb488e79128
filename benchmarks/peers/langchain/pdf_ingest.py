"""LangChain's default PDF path, timed on a folder of PDFs (benchmarks/annual_reports_bench.py's ingest peer):
``PyPDFLoader`` (pypdf, one Document per page; it cannot OCR, so a scanned page comes out empty) →
``RecursiveCharacterTextSplitter()`` (its default sizes: 4,000 characters, 200 overlap) → ``HuggingFaceEmbeddings``
→ ``InMemoryVectorStore``. Runs in the LangChain peer's venv; prints one line ``PEER_RESULT {json}``.

Two passes: parse only (every file through ``PyPDFLoader.load()``), then the whole ingest (parse, split, embed,
store), each timed over all files after a warm-up on the first file (imports and first-call costs out of both).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from langchain_community.document_loaders import PyPDFLoader
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_huggingface import HuggingFaceEmbeddings
from langchain_text_splitters import RecursiveCharacterTextSplitter


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="local sentence-transformers model directory")
    ap.add_argument("--pdfs", required=True, type=Path, help="folder of PDF files")
    args = ap.parse_args()
    files = sorted(args.pdfs.glob("*.pdf"))
    if not files:
        raise SystemExit(f"{args.pdfs}: no PDF files")

    t = time.perf_counter()
    embeddings = HuggingFaceEmbeddings(model_name=args.model, model_kwargs={"device": "cpu"})
    model_load_s = time.perf_counter() - t
    embeddings.embed_documents(["warm-up"])
    PyPDFLoader(str(files[0])).load()

    t = time.perf_counter()
    pages = [page for f in files for page in PyPDFLoader(str(f)).load()]
    parse_s = time.perf_counter() - t
    empty = sum(1 for p in pages if len(p.page_content.split()) < 3)

    t = time.perf_counter()
    docs = [page for f in files for page in PyPDFLoader(str(f)).load()]
    chunks = RecursiveCharacterTextSplitter().split_documents(docs)
    InMemoryVectorStore.from_documents(chunks, embeddings)
    ingest_s = time.perf_counter() - t

    result = {
        "files": len(files),
        "pages": len(pages),
        "pages_without_text": empty,
        "chunks": len(chunks),
        "model_load_s": model_load_s,
        "parse_s": parse_s,
        "ingest_s": ingest_s,
    }
    print("PEER_RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
