"""Contextual chunk headers on the visible sets: what changes, and retrieval on the help center per mode.

``[chunking] context = "document"`` indexes each chunk after its document's *label* (title, plus what the company
on the cover, the PDF running header and the file name add; :mod:`ragtune.kb.doc_context`) instead of its title
(``"headings"``, ragtune before). On a corpus where the label equals the title for every document, the indexed
text — and so every vector, every BM25 entry and every ranking — is unchanged by construction. This script:

1. counts, per corpus (SciFact, SQuAD v1.1 dev even articles as ``benchmarks/squad.py`` ingests them, the help
   center), the documents whose label differs from their title, and the cover fields found (:mod:`ragtune.kb.docmeta`);
2. on the help center (36 pages, its eval set's questions with source pages), ingests one KB per mode
   (``none``, ``headings``, ``document``) and reports page recall@1/@5 and MRR@10 of hybrid search.

    .venv/bin/python benchmarks/doc_context.py
"""

from __future__ import annotations

import collections
import dataclasses
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

HELPCENTER = common.REPO / "examples" / "helpcenter"
MODES = ("none", "headings", "document")


def corpus_labels(name: str, documents: list[Any]) -> dict[str, Any]:
    from ragtune.kb.doc_context import document_label
    from ragtune.kb.docmeta import add_document_metadata

    changed, fields = [], collections.Counter()
    for doc in documents:
        add_document_metadata(doc)
        fields.update(k for k in ("company", "year", "doc_type") if k in doc.metadata)
        label = document_label(doc)
        if label != doc.title:
            changed.append({"title": doc.title, "label": label})
    print(f"{name}: {len(documents)} documents, label differs for {len(changed)}; fields {dict(fields)}", flush=True)
    return {
        "corpus": name,
        "documents": len(documents),
        "label_differs": len(changed),
        "examples": changed[:5],
        "fields": dict(fields),
    }


def loaded(paths: list[Path], **opts: Any) -> list[Any]:
    from ragtune.kb.loaders import LoadOptions, load_all

    return [d for r in load_all(paths, LoadOptions(**opts)) for d in r.documents]


def squad_documents(tmp: Path) -> list[Any]:
    """The SQuAD paragraphs as benchmarks/squad.py writes and ingests them (one JSONL record each)."""
    src = common.require(common.data_dir() / "squad-dev-even" / "dev-v1.1-even-articles.json", "SQuAD dev")
    lines = []
    for a, article in enumerate(json.loads(src.read_text(encoding="utf-8"))["data"]):
        title = article["title"].replace("_", " ")
        for p, para in enumerate(article["paragraphs"]):
            lines.append(json.dumps({"id": f"{a}-{p}", "title": title, "text": para["context"]}))
    path = tmp / "paragraphs.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return loaded([path])


def helpcenter_retrieval(tmp: Path) -> list[dict[str, Any]]:
    from ragtune import KnowledgeBase
    from ragtune.search.query import Query

    questions = [q for q in common.read_jsonl(HELPCENTER / "eval.jsonl") if q.get("sources")]
    rows = []
    embedder = None
    for mode in MODES:
        s = common.settings()
        s = dataclasses.replace(s, chunking=dataclasses.replace(s.chunking, context=mode))
        with KnowledgeBase.open(tmp / f"kb-{mode}", create=True, settings=s, embedder=embedder) as kb:
            embedder = kb.embedder
            kb.ingest([HELPCENTER / "docs"])
            hits1 = hits5 = 0
            rr = 0.0
            for q in questions:
                docs = common.rank_docs(kb.retrieve(Query(q["question"], k=10)).passages)
                gold = set(q["sources"])
                hits1 += bool(docs[:1] and docs[0] in gold)
                hits5 += bool(gold & set(docs[:5]))
                rr += next((1 / (i + 1) for i, d in enumerate(docs[:10]) if d in gold), 0.0)
        n = len(questions)
        row = {"mode": mode, "questions": n, "recall_at_1": hits1 / n, "recall_at_5": hits5 / n, "mrr_at_10": rr / n}
        print(row, flush=True)
        rows.append(row)
    return rows


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        corpora = [corpus_labels("help center", loaded([HELPCENTER / "docs"]))]
        try:
            scifact = common.scifact_dir() / "corpus.jsonl"
            corpora.append(corpus_labels("SciFact", loaded([scifact], id_field="_id")))
            corpora.append(corpus_labels("SQuAD dev (even articles)", squad_documents(tmp)))
        except SystemExit as exc:  # common.require: the shared data is absent here
            print(f"skipping SciFact/SQuAD: {exc}")
        rows = helpcenter_retrieval(tmp)
    common.write_result("doc_context", {"corpora": corpora, "helpcenter": rows})


if __name__ == "__main__":
    main()
