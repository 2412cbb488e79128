"""Retrieval training pairs: (query, the passage that answers it, hard negatives) from a team's own data.

What a retriever (an embedder, or a cross-encoder reranker) is trained on. Built in four steps by
:func:`build_pairs`:

1. **Pairs.** From the team's files (:func:`labelled_pairs`): an eval set (``question`` + ``sources``, the
   documents that answer it), chat training data built from the KB (``metadata.chunk_id``), or plain
   ``{"query", "positive"}`` lines. And synthesized from the KB (:func:`synthesized_pairs`): the questions of
   ``data build``'s structural synthesis, or a model's (``generator``), each paired with the chunk it was made from;
   and *title* pairs — a document's title as the query its opening passage answers.
2. **De-duplicated** (:func:`dedupe`): one pair per (query, passage); a synthesized question that repeats a
   labelled one goes (the team's label wins).
3. **Checked for leakage** against an eval set (:func:`drop_leaking`): a query that is an eval question, exactly
   or nearly, is dropped — the same test and threshold as ``ragtune data check --eval`` (:class:`UserTurnIndex`),
   so training never sees the questions the retriever is measured on.
4. **Hard negatives** (:func:`mine_negatives`): passages the KB's own search ranks high for the query but that come
   from none of the documents that answer it. Negatives that near-miss are what teach a retriever the most
   (MultipleNegativesRanking with one mined negative beat in-batch negatives alone in most published recipes);
   the first ``skip`` of them are passed over, because the very top of another document is the likeliest to be an
   unlabelled answer.

The positive is a passage as the index embeds it (its context line + text: :func:`indexed_text`), so training
sees what search will. For a title pair it is the passage without its context, which holds the title itself.
:meth:`PairSet.rows` gives ``(query, positive text, [negative texts])`` for any trainer.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragtune.errors import ConfigError, DatasetError
from ragtune.jsonl import iter_jsonl, write_jsonl
from ragtune.kb.acl import Access
from ragtune.kb.doc_context import indexed_text
from ragtune.llm.base import Generator
from ragtune.tune.data.check import UserTurnIndex
from ragtune.tune.data.dataset import ChatExample, user_question
from ragtune.tune.data.similarity import DEFAULT_THRESHOLD, normalize_text
from ragtune.tune.data.synth import TRAINING_READER, kb_chunks, synthesize

if TYPE_CHECKING:
    from ragtune.knowledge_base import KnowledgeBase

SOURCES = ("labels", "structure", "model", "title")
MIN_TITLE_WORDS = 3  # "FAQ", "Overview": too short to be a query anyone types


@dataclass
class RetrievalPair:
    """A query and the passage that answers it. ``doc_ids``: every document that answers it (never a negative);
    ``source``: labels, structure, model or title."""

    query: str
    positive: str
    source: str
    doc_ids: tuple[str, ...] = ()
    chunk_id: str = ""
    negatives: list[str] = field(default_factory=list)
    query_id: str = ""
    kb_version: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["doc_ids"] = list(self.doc_ids)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RetrievalPair:
        return cls(
            query=str(data["query"]),
            positive=str(data["positive"]),
            source=str(data.get("source", "labels")),
            doc_ids=tuple(data.get("doc_ids") or ()),
            chunk_id=str(data.get("chunk_id", "")),
            negatives=[str(n) for n in data.get("negatives") or []],
            query_id=str(data.get("query_id", "")),
            kb_version=data.get("kb_version"),
        )


@dataclass
class PairSet:
    """The pairs of one build and what was dropped on the way."""

    pairs: list[RetrievalPair]
    kb_version: int
    unmatched: int = 0  # labelled questions whose documents are not in the KB
    duplicates: int = 0
    leaking: int = 0  # dropped: an eval question, exactly or nearly
    without_negatives: int = 0  # the search found no passage outside the answering documents

    def rows(self) -> list[tuple[str, str, list[str]]]:
        """``(query, positive passage text, [hard negative texts])``: what a bi- or cross-encoder trains on."""
        return [(p.query, p.positive, list(p.negatives)) for p in self.pairs]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.pairs:
            out[p.source] = out.get(p.source, 0) + 1
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "pairs": len(self.pairs),
            "sources": self.counts(),
            "kb_version": self.kb_version,
            "unmatched": self.unmatched,
            "duplicates": self.duplicates,
            "leaking": self.leaking,
            "without_negatives": self.without_negatives,
            "with_negatives": sum(1 for p in self.pairs if p.negatives),
        }


def write_pairs(path: str | Path, pairs: Iterable[RetrievalPair]) -> str:
    """Write pairs as JSONL (atomically); returns the file's sha256 (the training run's data lineage)."""
    write_jsonl(path, (p.as_dict() for p in pairs))
    return file_sha256(path)


def read_pairs(path: str | Path) -> list[RetrievalPair]:
    """Pairs written by :func:`write_pairs` (or by hand: ``query`` and ``positive`` are enough)."""
    out = []
    for line, data in iter_jsonl(path):
        if not isinstance(data, dict) or not data.get("query") or not data.get("positive"):
            raise DatasetError(path, line, "a pair needs non-empty 'query' and 'positive'")
        out.append(RetrievalPair.from_dict(data))
    return out


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


# -- 1. pairs --------------------------------------------------------------------------------------------------


class _Chunks:
    """Chunk hash → (doc id, indexed text, bare text) at one version, read per document as asked."""

    def __init__(self, kb: KnowledgeBase, version: int) -> None:
        self.kb = kb
        self.version = version
        self._docs: dict[str, list[dict[str, Any]]] = {}

    def of(self, doc_id: str) -> list[dict[str, Any]]:
        if doc_id not in self._docs:
            try:
                self._docs[doc_id] = self.kb.store.document(doc_id, self.version)[1]
            except Exception:  # not live at this version: nothing to pair with
                self._docs[doc_id] = []
        return self._docs[doc_id]

    def find(self, doc_id: str, chunk_id: str) -> dict[str, Any] | None:
        return next((p for p in self.of(doc_id) if p["chunk_id"] == chunk_id), None)


def labelled_pairs(kb: KnowledgeBase, path: str | Path, *, at: int | None = None) -> tuple[list[RetrievalPair], int]:
    """Pairs from a team's file and how many of its questions could not be matched to a passage.

    Each line is one of: an eval item (``question`` and ``sources``: one pair per source document, its passage the
    one the KB's hybrid search ranks first for the question among that document's); a chat example with
    ``metadata.doc_id``/``chunk_id`` (``data build`` output: the last user turn and that chunk); or a pair
    (``query`` and ``positive`` text, optionally ``negatives``), taken as is.
    """
    version = kb.store.check_version(at)
    chunks = _Chunks(kb, version)
    out: list[RetrievalPair] = []
    unmatched = 0
    for line, data in iter_jsonl(path):
        if not isinstance(data, dict):
            raise DatasetError(path, line, "expected a JSON object")
        if data.get("query") and data.get("positive"):
            out.append(RetrievalPair.from_dict({"source": "labels", **data, "kb_version": version}))
            continue
        qid = str(data.get("id", line))
        if "messages" in data:
            example = ChatExample(list(data["messages"]), dict(data.get("metadata") or {}), line)
            users = example.turns("user")
            meta = example.metadata
            found = chunks.find(str(meta.get("doc_id", "")), str(meta.get("chunk_id", ""))) if users else None
            if found is None:
                unmatched += 1
                continue
            query = user_question(users[-1])
            positive = indexed_text(found.get("context", ""), found["text"])
            out.append(RetrievalPair(query, positive, "labels", (str(meta["doc_id"]),), found["chunk_id"],
                                     query_id=qid, kb_version=version))  # fmt: skip
            continue
        question, sources = data.get("question"), data.get("sources") or []
        if not question or not isinstance(sources, list):
            raise DatasetError(path, line, "expected an eval item (question, sources), a chat example or a pair")
        matched = False
        for doc_id in dict.fromkeys(str(s) for s in sources):
            best = kb.search(str(question), k=1, mode="hybrid", at=version, filters={"doc_id": [doc_id]})
            if not best:
                continue
            p = best[0]
            out.append(RetrievalPair(str(question), indexed_text(p.context, p.text), "labels", tuple(map(str, sources)),
                                     p.chunk_id, query_id=qid, kb_version=version))  # fmt: skip
            matched = True
        unmatched += 0 if matched else 1
    return out, unmatched


def synthesized_pairs(
    kb: KnowledgeBase,
    *,
    generator: Generator | None = None,
    structure: bool = True,
    titles: bool = True,
    at: int | None = None,
    access: Access = TRAINING_READER,
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
) -> list[RetrievalPair]:
    """Pairs made from the KB itself: synthesized questions (structure, or ``generator``'s) with the chunk each
    came from, and title pairs. Only documents ``access`` may read (by default those everyone may read: a tuned
    embedder's vectors say something about the text it was trained on)."""
    version = kb.store.check_version(at)
    chunks = _Chunks(kb, version)
    out: list[RetrievalPair] = []
    if structure or generator is not None:
        synthesis = synthesize(kb, generator=generator, at=version, access=access, progress=progress)
        for qa in synthesis.pairs:
            found = chunks.find(qa.doc_id, qa.chunk_id)
            if found is None:
                continue
            source = "structure" if generator is None else "model"
            out.append(RetrievalPair(qa.question, indexed_text(found.get("context", ""), found["text"]), source,
                                     (qa.doc_id,), qa.chunk_id, kb_version=version))  # fmt: skip
    if titles:
        _, live = kb_chunks(kb, version, access)
        first: dict[str, Any] = {}
        for c in live:
            if c.doc_id not in first or c.ord < first[c.doc_id].ord:
                first[c.doc_id] = c
        for doc_id, c in first.items():
            title, body = c.title.strip(), _without_title(c.text, c.title)
            if len(title.split()) >= MIN_TITLE_WORDS and body:
                out.append(RetrievalPair(title, body, "title", (doc_id,), c.chunk_id, kb_version=version))
    return out


def _without_title(text: str, title: str) -> str:
    """``text`` without leading lines that only repeat ``title`` (a Markdown page's ``# Title``): a title pair whose
    passage holds the query verbatim teaches nothing."""
    lines = text.strip().splitlines()
    while lines and (not lines[0].strip() or normalize_text(lines[0]) == normalize_text(title)):
        lines.pop(0)
    return "\n".join(lines).strip()


# -- 2. de-duplication and 3. leakage -----------------------------------------------------------------------------


def dedupe(pairs: Sequence[RetrievalPair]) -> tuple[list[RetrievalPair], int]:
    """One pair per (normalized query, passage), and no synthesized query that repeats a labelled one; the first
    pair is kept (pass the labelled ones first). Returns (kept, dropped)."""
    labelled = {normalize_text(p.query) for p in pairs if p.source == "labels"}
    seen: set[tuple[str, str]] = set()
    kept: list[RetrievalPair] = []
    for p in pairs:
        q = normalize_text(p.query)
        key = (q, p.chunk_id or normalize_text(p.positive))
        if not q or key in seen or (p.source != "labels" and q in labelled):
            continue
        seen.add(key)
        kept.append(p)
    return kept, len(pairs) - len(kept)


def eval_questions(path: str | Path) -> list[str]:
    """The questions of an eval set (JSONL with ``question``), or of chat data (its user turns)."""
    out = []
    for line, data in iter_jsonl(path):
        if not isinstance(data, dict):
            raise DatasetError(path, line, "expected a JSON object")
        if data.get("question"):
            out.append(str(data["question"]))
        elif data.get("query"):
            out.append(str(data["query"]))
        else:
            out.extend(str(m.get("content", "")) for m in data.get("messages") or [] if m.get("role") == "user")
    return out


def drop_leaking(
    pairs: Sequence[RetrievalPair], questions: Sequence[str], threshold: float = DEFAULT_THRESHOLD
) -> tuple[list[RetrievalPair], int]:
    """Pairs whose query is not an eval question, exactly or within ``threshold`` Jaccard of one (the test of
    ``data check --eval``). Returns (kept, dropped)."""
    if not questions:
        return list(pairs), 0
    index = UserTurnIndex(
        [ChatExample([{"role": "user", "content": q}], line=i + 1) for i, q in enumerate(questions)],
        threshold=threshold,
    )
    kept = [p for p in pairs if index.find(p.query) is None]
    return kept, len(pairs) - len(kept)


# -- 4. hard negatives ---------------------------------------------------------------------------------------------


def mine_negatives(
    kb: KnowledgeBase,
    pairs: Sequence[RetrievalPair],
    *,
    n: int = 1,
    mode: str = "hybrid",
    skip: int = 2,
    depth: int = 30,
    at: int | None = None,
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
) -> int:
    """Give each pair (in place) up to ``n`` hard negatives: passages the KB's ``mode`` search ranks in its top
    ``depth`` for the query, from documents other than the pair's, after passing over the first ``skip`` such.
    Returns how many pairs got none."""
    version = kb.store.check_version(at)
    none = 0
    for p in progress(pairs) if progress else pairs:
        if n <= 0:
            break
        own = set(p.doc_ids)
        found: list[str] = []
        passed = 0
        seen = {normalize_text(p.positive)}
        for hit in kb.search(p.query, k=depth, mode=mode, at=version):
            text = indexed_text(hit.context, hit.text)
            key = normalize_text(text)
            if hit.doc_id in own or hit.chunk_id == p.chunk_id or key in seen:
                continue
            seen.add(key)
            if passed < skip:
                passed += 1
                continue
            found.append(text)
            if len(found) >= n:
                break
        p.negatives = found
        none += 0 if found else 1
    return none


# -- all four ------------------------------------------------------------------------------------------------------


def build_pairs(
    kb: KnowledgeBase,
    *,
    labels: Sequence[str | Path] = (),
    eval_path: str | Path | None = None,
    synthesize_pairs: bool = True,
    titles: bool = True,
    generator: Generator | None = None,
    max_synthesized: int | None = None,
    negatives: int = 1,
    mine_mode: str = "hybrid",
    skip: int = 2,
    at: int | None = None,
    access: Access = TRAINING_READER,
    seed: int = 0,
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
) -> PairSet:
    """Labelled pairs from ``labels`` files, plus synthesized ones (structure, ``generator``'s, titles; at most
    ``max_synthesized``, spread over documents with ``seed``), de-duplicated, without the questions of
    ``eval_path``, each with ``negatives`` hard negatives mined with the KB's ``mine_mode`` search."""
    version = kb.store.check_version(at)
    found: list[RetrievalPair] = []
    unmatched = 0
    for path in labels:
        pairs, missed = labelled_pairs(kb, path, at=version)
        found += pairs
        unmatched += missed
    if synthesize_pairs or titles or generator is not None:
        made = synthesized_pairs(
            kb, generator=generator, structure=synthesize_pairs, titles=titles, at=version, access=access
        )
        if max_synthesized is not None and len(made) > max_synthesized:
            made = _spread(made, max_synthesized, seed)
        found += made
    kept, duplicates = dedupe(found)
    leaking = 0
    if eval_path is not None:
        kept, leaking = drop_leaking(kept, eval_questions(eval_path))
    if not kept:
        raise ConfigError(
            "no training pairs: pass labelled questions (--labels), or keep synthesis on for a knowledge base whose "
            "documents have titles or structure (headings, FAQs, definitions)"
        )
    without = mine_negatives(kb, kept, n=negatives, mode=mine_mode, skip=skip, at=version, progress=progress)
    return PairSet(kept, version, unmatched, duplicates, leaking, without if negatives > 0 else 0)


def _spread(pairs: Sequence[RetrievalPair], n: int, seed: int) -> list[RetrievalPair]:
    """``n`` pairs, round-robin over documents in a seeded order (so no document dominates), in input order."""
    rng = random.Random(seed)
    by_doc: dict[str, list[int]] = {}
    for i, p in enumerate(pairs):
        by_doc.setdefault(p.doc_ids[0] if p.doc_ids else "", []).append(i)
    queues = [rng.sample(v, len(v)) for _, v in sorted(by_doc.items())]
    rng.shuffle(queues)
    chosen: list[int] = []
    while len(chosen) < n:
        for q in queues:
            if q and len(chosen) < n:
                chosen.append(q.pop())
    return [pairs[i] for i in sorted(chosen)]
