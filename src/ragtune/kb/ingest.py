"""Ingest: documents → chunks → vectors → the store, then one new version.

A pipeline of four stages, each a method of :class:`Ingestor`:

1. **prepare** (``_prepare``): a document → its content hash → unchanged / restored / chunks with contexts
   and chunk hashes;
2. **group** (``_submit``): documents gathered until ``EMBED_BATCH`` chunks, the texts whose vectors are not
   cached yet (one store lookup), handed to the embedding worker;
3. **embed** (one background thread): the model, outside any transaction. The embedder sorts a group's texts
   by token count across documents, so its batches carry little padding;
4. **write** (``_write``, this thread — the store's connection lives here): each document in its own
   transaction, in input order, then one version for the whole ingest.

Stages 1, 2 and 4 run while the worker embeds the previous group (at most ``IN_FLIGHT`` groups are held),
so chunking, tokenization, hashing and SQLite writes hide behind the model. Unchanged documents cost one hash
comparison: re-ingesting an unchanged corpus writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tqdm import tqdm

from ragtune.embed.base import Embedder
from ragtune.errors import ConfigError, LoaderError
from ragtune.kb.acl import ACL_KEY, normalize_acl
from ragtune.kb.chunking import chunk_document
from ragtune.kb.doc_context import CONTEXT_MODES, chunk_context, document_label, indexed_text
from ragtune.kb.docmeta import add_document_metadata
from ragtune.kb.document import Chunk, Document
from ragtune.kb.sentences import fill_sentence_vectors
from ragtune.kb.store import Store, VersionInfo, chunk_hash

CHUNKER_VERSION = 3  # 2: a chunk continuing a table indexes its header row; 3: the document's label (doc_context)
EMBED_BATCH = 512  # chunks gathered across documents into one group: one embedding call, sorted by length
IN_FLIGHT = 2  # groups submitted and not yet written: one being embedded, one waiting (bounds memory)


@dataclass
class IngestReport:
    """What one ingest did. ``version`` is None when nothing changed."""

    version: VersionInfo | None = None
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: list[LoaderError] = field(default_factory=list)
    warnings: list[LoaderError] = field(default_factory=list)
    """Files loaded with something missing (e.g. a scanned page OCR could not read): ``metadata["warnings"]``."""
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
            "warnings": [{"path": w.path, "reason": w.reason} for w in self.warnings],
            "chunks_written": self.chunks_written,
            "chunks_embedded": self.chunks_embedded,
            "seconds": round(self.seconds, 3),
        }


class Contextualizer(Protocol):
    """Writes a short context for each chunk of a document (an LLM, ``[chunking] context_model``): appended to
    the chunk's header, so both legs index it. ``name`` enters the chunker signature (a change re-indexes)."""

    name: str

    def contexts(self, doc: Document, chunk_texts: list[str]) -> list[str]: ...


@dataclass
class _Pending:
    """A changed document, chunked: what stage 1 hands on."""

    doc: Document
    content_hash: str
    chunks: list[Chunk]
    contexts: list[str]
    hashes: list[str]


@dataclass
class _Group:
    """Documents whose new chunks are embedded in one call; ``vectors`` resolves to chunk hash → vector."""

    docs: list[_Pending]
    vectors: Future[dict[str, Any]] | None = None
    n_embedded: int = 0


class Ingestor:
    """Runs one ingest against a store with an embedder and chunking settings.

    ``chunker`` (default: ``embedder``) is the model whose tokenizer cuts chunks, whose id is part of every
    content hash and which embeds the answer sentences (``kb.sentences``); ``embedder`` makes the chunk vectors
    search uses. They differ after ``kb reembed``: chunks are still cut (and documents recognised as unchanged)
    by the configured ``[embed] model``, while new chunk vectors come from the head version's embedder — a
    fine-tuned copy of the same model, so the same tokenizer — and a re-embed never makes the next ingest rewrite
    every document."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        *,
        chunker: Embedder | None = None,
        max_tokens: int = 200,
        overlap_tokens: int = 32,
        progress: bool = False,
        sentence_vectors: bool = True,
        context: str = "document",
        contextualizer: Contextualizer | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.chunker = chunker or embedder
        self.max_tokens = min(max_tokens, self.chunker.max_tokens - 2)
        self.overlap_tokens = overlap_tokens
        self.progress = progress
        self.sentence_vectors = sentence_vectors  # kb.sentences: the extractive answerer's, filled before commit
        if context not in CONTEXT_MODES:
            raise ConfigError(f"[chunking] context must be one of {', '.join(CONTEXT_MODES)}, got {context!r}")
        self.context = context  # doc_context: what each chunk is indexed with besides its text
        self.contextualizer = contextualizer
        self.signature = f"chunker{CHUNKER_VERSION}/{self.max_tokens}/{overlap_tokens}/{self.chunker.id}"
        if context != "document":
            self.signature += f"/context={context}"
        if contextualizer is not None:
            self.signature += f"/llm-context={contextualizer.name}"
        self._embedding: set[str] = set()  # chunk hashes submitted for embedding and not yet written

    def content_hash(self, doc: Document) -> str:
        """What decides whether a document changed: its text, title, pages and chunker/embedder, and its acl when
        it has one (so a knowledge base from before access control keeps its hashes: nothing is re-ingested)."""
        h = hashlib.sha256()
        parts = [self.signature, doc.title, doc.text, json.dumps(doc.page_starts)]
        acl = doc.metadata.get(ACL_KEY)
        if acl:
            parts.append("acl=" + ",".join(acl))
        for part in parts:
            h.update(part.encode("utf-8", "surrogatepass"))
            h.update(b"\x1e")
        return h.hexdigest()[:32]

    def chunk(self, doc: Document) -> list[Chunk]:
        def count_one(text: str) -> int:
            return self.chunker.count_tokens([text])[0]

        return chunk_document(
            doc,
            count_tokens=count_one,
            count_tokens_batch=self.chunker.count_tokens,
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
        docs: list[_Pending] = []
        n_chunks = 0
        in_flight: deque[_Group] = deque()
        self._embedding.clear()
        bar = tqdm(desc="ingest", unit="doc", disable=not self.progress, leave=False)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ragtune-embed") as worker:
            try:
                for item in items:
                    bar.update(1)
                    pending = self._prepare(item, live, seen, changes, report)
                    if pending is None:
                        continue
                    docs.append(pending)
                    n_chunks += len(pending.chunks)
                    if n_chunks >= EMBED_BATCH:
                        in_flight.append(self._submit(docs, worker))
                        docs, n_chunks = [], 0
                        while len(in_flight) >= IN_FLIGHT or (in_flight and _done(in_flight[0])):
                            self._write(in_flight.popleft(), changes, report)
                            bar.set_postfix(chunks=report.chunks_written, embedded=report.chunks_embedded)
                if docs:
                    in_flight.append(self._submit(docs, worker))
                while in_flight:
                    self._write(in_flight.popleft(), changes, report)
            finally:
                for group in in_flight:  # an error: drop what is queued; nothing unwritten becomes live
                    if group.vectors is not None:
                        group.vectors.cancel()
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
            fill_sentence_vectors(self.store, self.chunker)  # before the version makes the new chunks live
        report.version = self.store.commit_version(changes, "ingest", message or _summary(report))
        report.seconds = time.perf_counter() - started
        return report

    def _prepare(
        self,
        item: Document | LoaderError,
        live: dict[str, str],
        seen: set[str],
        changes: dict[str, int | None],
        report: IngestReport,
    ) -> _Pending | None:
        """Stage 1: a document that needs writing, chunked; None when there is nothing to embed or write."""
        if isinstance(item, LoaderError):
            report.errors.append(item)
            return None
        doc = item
        if doc.id in seen:
            report.errors.append(LoaderError(doc.source or doc.id, f"duplicate document id {doc.id!r}"))
            return None
        seen.add(doc.id)
        for warning in doc.metadata.get("warnings") or ():
            report.warnings.append(LoaderError(doc.source or doc.id, str(warning)))
        try:  # documents built in code are checked here; loaded ones were by their loader
            groups = normalize_acl(doc.metadata.get(ACL_KEY), where=f"document {doc.id!r}: field '{ACL_KEY}'")
        except ValueError as exc:
            report.errors.append(LoaderError(doc.source or doc.id, str(exc)))
            return None
        if groups:
            doc.metadata[ACL_KEY] = list(groups)
        else:
            doc.metadata.pop(ACL_KEY, None)
        add_document_metadata(doc)  # company, year, doc_type where the document says them (kb.docmeta)
        digest = self.content_hash(doc)
        if live.get(doc.id) == digest:
            report.unchanged.append(doc.id)
            return None
        existing = self.store.find_revision(doc.id, digest)
        if existing is not None:  # an old content restored, or staged by an interrupted run
            changes[doc.id] = existing
            return None
        chunks = self.chunk(doc)
        if not chunks:
            report.errors.append(LoaderError(doc.source or doc.id, "no text to index"))
            return None
        label = document_label(doc) if self.context == "document" else ""
        contexts = [chunk_context(doc, c.heading_path, c.table_header, mode=self.context, label=label) for c in chunks]
        if self.contextualizer is not None:
            written = self.contextualizer.contexts(doc, [c.text for c in chunks])
            contexts = [f"{ctx}\n{w}" if ctx and w else (ctx or w) for ctx, w in zip(contexts, written, strict=True)]
        hashes = [chunk_hash(ctx, c.text) for ctx, c in zip(contexts, chunks, strict=True)]
        return _Pending(doc, digest, chunks, contexts, hashes)

    def _submit(self, docs: list[_Pending], worker: ThreadPoolExecutor) -> _Group:
        """Stage 2: the group's chunks not cached and not already on their way, handed to the embedding worker."""
        group = _Group(docs)
        all_hashes = list(dict.fromkeys(h for p in docs for h in p.hashes))
        known = self.store.known_chunks(all_hashes, self.embedder.id)
        texts: dict[str, str] = {}
        for p in docs:
            for h, ctx, c in zip(p.hashes, p.contexts, p.chunks, strict=True):
                if not known.get(h) and h not in texts and h not in self._embedding:
                    texts[h] = indexed_text(ctx, c.text)
        if texts:
            order = list(texts)
            self._embedding.update(order)
            group.n_embedded = len(order)
            group.vectors = worker.submit(self._embed, order, [texts[h] for h in order])
        return group

    def _embed(self, hashes: list[str], texts: list[str]) -> dict[str, Any]:
        """Stage 3, on the worker thread: chunk hash → vector."""
        return dict(zip(hashes, self.embedder.embed(texts), strict=True))

    def _write(self, group: _Group, changes: dict[str, int | None], report: IngestReport) -> None:
        """Stage 4: each document of a group in its own transaction, once the group's vectors are ready. A chunk
        that an earlier group embedded was written with that group, so its vector is in the store by now."""
        vectors = group.vectors.result() if group.vectors is not None else {}
        report.chunks_embedded += group.n_embedded
        for p in group.docs:
            rev = self.store.write_revision(
                p.doc, p.content_hash, p.chunks, p.contexts, p.hashes, vectors, self.embedder.id
            )
            changes[p.doc.id] = rev
            report.chunks_written += len(p.chunks)
        self._embedding.difference_update(vectors)


def _done(group: _Group) -> bool:
    return group.vectors is None or group.vectors.done()


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
