"""Ingest: documents → chunks → vectors → the store, then one new version.

Vectors are computed outside any transaction, in batches that span documents (the model is far more
efficient on 64 texts than on 3), then each document is written in its own transaction.
Unchanged documents cost one hash comparison: re-ingesting an unchanged corpus writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ragtune.embed.base import Embedder
from ragtune.errors import LoaderError
from ragtune.kb.chunking import chunk_document
from ragtune.kb.document import Chunk, Document
from ragtune.kb.sentences import fill_sentence_vectors
from ragtune.kb.store import Store, VersionInfo, chunk_hash

CHUNKER_VERSION = 1
EMBED_BATCH = 256  # chunks gathered across documents before one embedding call


@dataclass
class IngestReport:
    """What one ingest did. ``version`` is None when nothing changed."""

    version: VersionInfo | None = None
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: list[LoaderError] = field(default_factory=list)
    chunks_written: int = 0
    chunks_embedded: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": None if self.version is None else self.version.version,
            "added": self.added,
            "updated": self.updated,
            "unchanged": len(self.unchanged),
            "removed": self.removed,
            "errors": [{"path": e.path, "reason": e.reason} for e in self.errors],
            "chunks_written": self.chunks_written,
            "chunks_embedded": self.chunks_embedded,
            "seconds": round(self.seconds, 3),
        }


def chunk_context(doc: Document, heading_path: Sequence[str]) -> str:
    """What is indexed before a chunk's text: the title and the headings above it."""
    parts = [doc.title] if doc.title else []
    parts += [h for h in heading_path if h and h != doc.title]
    return " › ".join(parts)


def indexed_text(context: str, text: str) -> str:
    """The text that is embedded and keyword-indexed for a chunk."""
    return f"{context}\n{text}" if context else text


@dataclass
class _Pending:
    doc: Document
    content_hash: str
    chunks: list[Chunk]
    contexts: list[str]
    hashes: list[str]


class Ingestor:
    """Runs one ingest against a store with an embedder and chunking settings."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        *,
        max_tokens: int = 200,
        overlap_tokens: int = 32,
        progress: bool = False,
        sentence_vectors: bool = True,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.max_tokens = min(max_tokens, embedder.max_tokens - 2)
        self.overlap_tokens = overlap_tokens
        self.progress = progress
        self.sentence_vectors = sentence_vectors  # kb.sentences: the extractive answerer's, filled before commit
        self.signature = f"chunker{CHUNKER_VERSION}/{self.max_tokens}/{overlap_tokens}/{embedder.id}"

    def content_hash(self, doc: Document) -> str:
        h = hashlib.sha256()
        for part in (self.signature, doc.title, doc.text, json.dumps(doc.page_starts)):
            h.update(part.encode("utf-8", "surrogatepass"))
            h.update(b"\x1e")
        return h.hexdigest()[:32]

    def chunk(self, doc: Document) -> list[Chunk]:
        def count_one(text: str) -> int:
            return self.embedder.count_tokens([text])[0]

        return chunk_document(
            doc,
            count_tokens=count_one,
            count_tokens_batch=self.embedder.count_tokens,
            max_tokens=self.max_tokens,
            overlap_tokens=self.overlap_tokens,
        )

    def run(
        self,
        items: Iterable[Document | LoaderError],
        *,
        remove_missing_under: Sequence[Path] = (),
        message: str = "",
    ) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport()
        live = self.store.live_hashes()
        changes: dict[str, int | None] = {}
        seen: set[str] = set()
        pending: list[_Pending] = []
        pending_chunks = 0
        bar = tqdm(desc="ingest", unit="doc", disable=not self.progress, leave=False)
        for item in items:
            bar.update(1)
            if isinstance(item, LoaderError):
                report.errors.append(item)
                continue
            doc = item
            if doc.id in seen:
                report.errors.append(LoaderError(doc.source or doc.id, f"duplicate document id {doc.id!r}"))
                continue
            seen.add(doc.id)
            digest = self.content_hash(doc)
            if live.get(doc.id) == digest:
                report.unchanged.append(doc.id)
                continue
            existing = self.store.find_revision(doc.id, digest)
            if existing is not None:  # an old content restored, or staged by an interrupted run
                changes[doc.id] = existing
                continue
            chunks = self.chunk(doc)
            if not chunks:
                report.errors.append(LoaderError(doc.source or doc.id, "no text to index"))
                continue
            contexts = [chunk_context(doc, c.heading_path) for c in chunks]
            hashes = [chunk_hash(ctx, c.text) for ctx, c in zip(contexts, chunks, strict=True)]
            pending.append(_Pending(doc, digest, chunks, contexts, hashes))
            pending_chunks += len(chunks)
            if pending_chunks >= EMBED_BATCH:
                self._flush(pending, changes, report)
                bar.set_postfix(chunks=report.chunks_written, embedded=report.chunks_embedded)
                pending, pending_chunks = [], 0
        self._flush(pending, changes, report)
        bar.close()
        if remove_missing_under:
            for doc_id, source in self.store.live_sources().items():
                if doc_id not in seen and _under(source, remove_missing_under):
                    changes[doc_id] = None
        for doc_id, rev in changes.items():
            if rev is None:
                report.removed.append(doc_id)
            elif doc_id in live:
                report.updated.append(doc_id)
            else:
                report.added.append(doc_id)
        if self.sentence_vectors:
            fill_sentence_vectors(self.store, self.embedder)  # before the version makes the new chunks live
        report.version = self.store.commit_version(changes, "ingest", message or _summary(report))
        report.seconds = time.perf_counter() - started
        return report

    def _flush(self, pending: list[_Pending], changes: dict[str, int | None], report: IngestReport) -> None:
        if not pending:
            return
        all_hashes = list(dict.fromkeys(h for p in pending for h in p.hashes))
        known = self.store.known_chunks(all_hashes, self.embedder.id)
        texts: dict[str, str] = {}
        for p in pending:
            for h, ctx, c in zip(p.hashes, p.contexts, p.chunks, strict=True):
                if not known.get(h) and h not in texts:
                    texts[h] = indexed_text(ctx, c.text)
        vectors = {}
        if texts:
            order = list(texts)
            matrix = self.embedder.embed([texts[h] for h in order])
            vectors = dict(zip(order, matrix, strict=True))
            report.chunks_embedded += len(order)
        for p in pending:
            rev = self.store.write_revision(
                p.doc, p.content_hash, p.chunks, p.contexts, p.hashes, vectors, self.embedder.id
            )
            changes[p.doc.id] = rev
            report.chunks_written += len(p.chunks)


def _under(source: str, roots: Sequence[Path]) -> bool:
    path = source.split("#", 1)[0]
    try:
        resolved = Path(path).resolve()
    except OSError:
        return False
    return any(resolved == r.resolve() or r.resolve() in resolved.parents for r in roots)


def _summary(report: IngestReport) -> str:
    parts = [f"{len(report.added)} added", f"{len(report.updated)} updated"]
    if report.removed:
        parts.append(f"{len(report.removed)} removed")
    return "ingest: " + ", ".join(parts)
