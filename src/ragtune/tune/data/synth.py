"""``data build``: question/answer pairs synthesized from a knowledge base's chunks at one version.

Without a model the pairs come from the documents' own structure (:mod:`ragtune.tune.data.structure`); with a
:class:`~ragtune.llm.base.Generator` a model writes them (:mod:`ragtune.tune.data.prompted`). Every pair records
the chunk, document and KB version it came from, so training data stays traceable to its sources.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ragtune.kb.acl import ALL, Access
from ragtune.llm.base import Generator
from ragtune.search.passage import Passage
from ragtune.tune.data.dataset import ChatExample
from ragtune.tune.data.prompted import PromptedResult, generate_pairs_many
from ragtune.tune.data.similarity import normalize_text
from ragtune.tune.data.structure import structural_pairs

BATCH = 16  # chunks whose pairs a model writes in one batched generation

# Who training data is built for by default: a caller with no groups, i.e. only the documents everyone may read. A
# fine-tuned model can repeat its training text to anyone who may query it, so restricted documents (an ``acl``)
# go into training data only when asked for (``ragtune data build --as-groups`` / ``--all-documents``).
TRAINING_READER = Access("training-data", ())

if TYPE_CHECKING:
    from ragtune.knowledge_base import KnowledgeBase

_LIST_OR_TABLE = re.compile(r"^\s*(#|\||\d+[.)]\s|[-*+]\s)")


@dataclass(frozen=True)
class KBChunk:
    """One live chunk at a KB version, with what is needed to cite it as a search Passage would."""

    doc_id: str
    chunk_id: str
    text: str
    title: str
    source: str
    heading_path: tuple[str, ...]
    page: int | None
    start: int
    end: int
    revision_id: int
    version: int
    ord: int
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def page_title(self) -> str:
        """The page's own top heading when it has one (HTML titles carry site names), else its title."""
        return self.heading_path[0] if self.heading_path else self.title

    def as_passage(self, rank: int = 0, score: float = 0.0) -> Passage:
        """This chunk as the retriever would return it (same text, title and citation source)."""
        return Passage(
            rank=rank,
            score=score,
            doc_id=self.doc_id,
            chunk_id=self.chunk_id,
            text=self.text,
            title=self.title,
            source=self.source,
            heading_path=list(self.heading_path),
            page=self.page,
            start=self.start,
            end=self.end,
            revision_id=self.revision_id,
            version=self.version,
            metadata=dict(self.metadata),
        )


@dataclass
class QAPair:
    """A synthesized question and answer with its provenance; ``kind`` says which rule or model made it."""

    question: str
    answer: str
    kind: str
    doc_id: str
    chunk_id: str
    kb_version: int

    def metadata(self) -> dict[str, Any]:
        return {"doc_id": self.doc_id, "chunk_id": self.chunk_id, "kb_version": self.kb_version, "kind": self.kind}


@dataclass
class Synthesis:
    """The pairs of one build and what happened on the way."""

    pairs: list[QAPair]
    version: int
    chunks: int
    method: str  # "structure" or the model spec
    unparseable: int = 0  # model outputs with no parseable pair
    rejected: int = 0  # parsed pairs dropped (not a question, ungrounded answer)
    duplicates: int = 0  # questions already asked from another chunk

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.pairs:
            out[p.kind] = out.get(p.kind, 0) + 1
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "pairs": len(self.pairs),
            "kinds": self.counts(),
            "kb_version": self.version,
            "chunks": self.chunks,
            "method": self.method,
            "unparseable": self.unparseable,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
        }


def kb_chunks(kb: KnowledgeBase, at: int | None = None, access: Access = ALL) -> tuple[int, list[KBChunk]]:
    """The KB version (head when ``at`` is None) and the live chunks of the documents ``access`` may read, by
    document id then position."""
    version = kb.store.check_version(at)
    out: list[KBChunk] = []
    for doc_id in sorted(kb.documents(version, access=access)):
        info, passages = kb.store.document(doc_id, version)
        for p in passages:
            out.append(
                KBChunk(
                    doc_id=doc_id,
                    chunk_id=p["chunk_id"],
                    text=p["text"],
                    title=info.title,
                    source=info.source,
                    heading_path=tuple(p["heading_path"]),
                    page=p["page"],
                    start=p["start"],
                    end=p["end"],
                    revision_id=info.revision_id,
                    version=version,
                    ord=p["ord"],
                    metadata=info.metadata,
                )
            )
    return version, out


def boilerplate_lines(chunks: Sequence[KBChunk], share: float = 0.2, min_docs: int = 3) -> set[str]:
    """Normalized prose lines found in many documents (sign-offs, footers): never part of an answer."""
    docs_of: dict[str, set[str]] = {}
    for c in chunks:
        for line in set(c.text.splitlines()):
            if line.strip() and not _LIST_OR_TABLE.match(line):
                docs_of.setdefault(normalize_text(line), set()).add(c.doc_id)
    n_docs = len({c.doc_id for c in chunks})
    need = max(min_docs, share * n_docs)
    return {line for line, docs in docs_of.items() if line and len(docs) >= need}


def synthesize(
    kb: KnowledgeBase,
    *,
    generator: Generator | None = None,
    method: str = "",
    at: int | None = None,
    max_per_chunk: int = 3,
    progress: Callable[[Iterable[KBChunk]], Iterable[KBChunk]] | None = None,
    access: Access = ALL,
) -> Synthesis:
    """Pairs from every live chunk at ``at`` that ``access`` may read: by structure, or by ``generator``.

    A question already made from another chunk is dropped (overlapping chunks repeat text). ``progress``
    wraps the chunk iterator (e.g. ``tqdm``). A model trained on the pairs can repeat their text to anyone who
    may query it: ``ragtune data build`` passes :data:`TRAINING_READER` unless told otherwise.
    """
    version, chunks = kb_chunks(kb, at, access)
    result = Synthesis([], version, len(chunks), method or ("structure" if generator is None else "model"))
    boiler = boilerplate_lines(chunks)
    seen: set[str] = set()
    prompted: dict[int, PromptedResult] = {}
    for i, chunk in enumerate(progress(chunks) if progress else chunks):
        found: list[tuple[str, str, str]] = []
        if generator is None:
            pairs = structural_pairs(chunk.text, boiler, chunk.page_title)
            found = [(p.question, p.answer, p.kind) for p in pairs]
        else:
            if i not in prompted:  # the next BATCH chunks in one batched generation
                group = chunks[i : i + BATCH]
                where = [" › ".join([c.title, *c.heading_path[1:]]) for c in group]
                results = generate_pairs_many(generator, [(c.text, w) for c, w in zip(group, where, strict=True)],
                                              max_per_chunk)  # fmt: skip
                prompted.update(zip(range(i, i + len(group)), results, strict=True))
            res = prompted.pop(i)
            result.unparseable += 0 if res.parsed else 1
            result.rejected += res.rejected
            found = [(p.question, p.answer, "generated") for p in res.pairs]
        kept = 0
        for question, answer, kind in found:
            if kept >= max_per_chunk:
                break
            key = normalize_text(question)
            if key in seen:
                result.duplicates += 1
                continue
            seen.add(key)
            result.pairs.append(QAPair(question, answer, kind, chunk.doc_id, chunk.chunk_id, version))
            kept += 1
    return result


def pair_examples(pairs: Iterable[QAPair], system: str | None = None) -> list[ChatExample]:
    """Plain chat examples: (system), user question, assistant answer; metadata records the source."""
    head = [{"role": "system", "content": system}] if system else []
    return [
        ChatExample(
            [*head, {"role": "user", "content": p.question}, {"role": "assistant", "content": p.answer}], p.metadata()
        )
        for p in pairs
    ]


def sample_pairs(pairs: Sequence[QAPair], n: int, seed: int = 0) -> list[QAPair]:
    """Up to ``n`` pairs chosen with a fixed seed, spread over documents (round-robin, documents shuffled)."""
    rng = random.Random(seed)
    by_doc: dict[str, list[QAPair]] = {}
    for p in pairs:
        by_doc.setdefault(p.doc_id, []).append(p)
    queues = []
    for doc in sorted(by_doc):
        items = list(by_doc[doc])
        rng.shuffle(items)
        queues.append(items)
    rng.shuffle(queues)
    out: list[QAPair] = []
    while len(out) < n and any(queues):
        for q in queues:
            if q and len(out) < n:
                out.append(q.pop())
    return out
