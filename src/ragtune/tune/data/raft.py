"""RAFT training examples (Zhang et al. 2024, "RAFT: Adapting Language Model to Domain Specific RAG").

Each example is the question with the relevant ("oracle") passage and ``k`` distractor passages the KB's own
retriever returns for that question, shuffled, and rendered by :func:`ragtune.llm.prompts.rag_messages` with
the same templates the RAG pipeline uses, so the model trains on exactly the prompt it will see when
answering. In a share ``oracle_share`` of the examples (0.8 by default, as in the paper) the oracle is among
the passages and the answer cites it with its ``[n]``; in the rest it is withheld, and the answer is either

- ``keep`` (default, the paper's choice): the reference answer without a citation, which teaches the model
  to know the domain when retrieval misses; or
- ``decline``: the prompt's "not in the documents" sentence, which teaches it to refuse instead.

``metadata.oracle`` holds the oracle's passage number (None when withheld).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from ragtune.errors import ConfigError
from ragtune.kb.acl import ALL, Access
from ragtune.llm.prompts import (
    NOT_IN_SOURCES,
    PromptTemplates,
    Source,
    fit_sources,
    heading_title,
    rag_messages,
    table_rows_as_text,
)
from ragtune.search.passage import Passage
from ragtune.tune.data.dataset import ChatExample
from ragtune.tune.data.synth import KBChunk, QAPair, kb_chunks

if TYPE_CHECKING:
    from ragtune.knowledge_base import KnowledgeBase

WITHHELD = ("keep", "decline")
_END = ".!?…;:,"


def passage_source(p: Passage) -> Source:
    """A passage as the RAG prompt shows it (the mapping :class:`ragtune.rag.RagPipeline` applies)."""
    return Source(p.readable_text, p.title, p.citation_source)


def cite(answer: str, n: int) -> str:
    """``answer`` with ``[n]`` at the end of each prose line or list item (before its final punctuation)."""
    lines = answer.splitlines()
    cited = False
    for i, line in enumerate(lines):
        body = line.rstrip()
        if not body.strip() or body.lstrip().startswith(("|", "#")):
            continue
        end = len(body)
        while end > 0 and body[end - 1] in _END:
            end -= 1
        if end == 0:
            continue
        mark = body[end:]
        lines[i] = f"{body[:end].rstrip()} [{n}]{mark}"
        cited = True
    text = "\n".join(lines).strip()
    return text if cited else f"{text}\n\n[{n}]"


def raft_example(
    question: str,
    answer: str,
    oracle: Passage | None,
    distractors: Sequence[Passage],
    *,
    rng: random.Random,
    templates: PromptTemplates | None = None,
    withheld: str = "keep",
    count_tokens: Callable[[str], int] | None = None,
    budget: int | None = None,
    source_tokens: int | None = None,
    select: Callable[[str, list[Passage]], list[tuple[int, str]]] | None = None,
) -> tuple[list[dict[str, str]], int | None, list[Passage]]:
    """Messages for one RAFT example, the oracle's 1-based number (None if withheld) and the passages in order.

    With ``count_tokens`` and ``budget``, distractors are dropped until the prompt fits, as the pipeline's
    :func:`~ragtune.llm.prompts.pack_sources` would otherwise cut passages at inference. ``source_tokens`` caps
    the sources' tokens as the strategy's setting of that name does at inference: distractors go first, then
    the last passage shown is cut to fit (:func:`~ragtune.llm.prompts.fit_sources`), so the model trains on the
    prompts it will answer. ``select`` (sentence-level context, ``context = "sentences"``) shows only the chosen
    sentences of each passage, as the pipeline does; a passage with none chosen is not shown.
    """
    if withheld not in WITHHELD:
        raise ConfigError(f"withheld answer must be one of {', '.join(WITHHELD)}, not {withheld!r}")
    passages = [*distractors, *([oracle] if oracle is not None else [])]
    rng.shuffle(passages)
    sources = [passage_source(p) for p in passages]
    if select is not None:
        picked = select(question, passages)
        passages = [passages[i] for i, _ in picked]
        sources = [
            Source(text, heading_title(p.title, p.heading_path), p.citation_source)
            for (_, text), p in zip(picked, passages, strict=True)
        ]
    elif count_tokens is not None and budget is not None:

        def fitted() -> list[Source]:
            return fit_sources(
                question, sources, count_tokens=count_tokens, budget=budget, source_tokens=source_tokens,
                templates=templates,
            )  # fmt: skip

        while len(passages) > 1 and fitted() != sources:
            drop = max(i for i, p in enumerate(passages) if p is not oracle)
            passages.pop(drop)
            sources.pop(drop)
        sources = fitted() or sources[:1]
    messages = rag_messages(question, sources, templates=templates)
    number = next((i for i, p in enumerate(passages, start=1) if p is oracle), None)
    withheld_reply = answer.strip() if withheld == "keep" else NOT_IN_SOURCES
    reply = cite(answer, number) if number is not None else withheld_reply
    return [*messages, {"role": "assistant", "content": reply}], number, passages


def build_raft(
    kb: KnowledgeBase,
    pairs: Sequence[QAPair],
    *,
    k: int = 4,
    oracle_share: float = 0.8,
    withheld: str = "keep",
    seed: int = 0,
    templates: PromptTemplates | None = None,
    at: int | None = None,
    mode: str | None = None,
    count_tokens: Callable[[str], int] | None = None,
    budget: int | None = None,
    source_tokens: int | None = None,
    context: str = "passages",
    progress: Callable[[Iterable[QAPair]], Iterable[QAPair]] | None = None,
    access: Access = ALL,
) -> list[ChatExample]:
    """RAFT examples for ``pairs`` (from :func:`ragtune.tune.data.synth.synthesize`) against ``kb`` at ``at``.

    Distractors are the top ``k`` passages ``kb.search`` returns for the question, minus the oracle chunk
    (and any passage with the same text); an example without the oracle gets ``k + 1``. Exactly
    ``round(oracle_share * len(pairs))`` examples, chosen with ``seed``, keep the oracle. Oracles and distractors
    come only from documents ``access`` may read (pass the same one as to ``synthesize``).
    """
    if not 0.0 <= oracle_share <= 1.0:
        raise ConfigError(f"oracle share must be between 0 and 1, not {oracle_share}")
    if k < 0:
        raise ConfigError(f"the number of distractors must be ≥ 0, not {k}")
    version, chunks = kb_chunks(kb, at, access)
    by_id: dict[tuple[str, str], KBChunk] = {(c.doc_id, c.chunk_id): c for c in chunks}
    rng = random.Random(seed)
    keep = set(rng.sample(range(len(pairs)), round(oracle_share * len(pairs))))
    select = _sentence_selector(kb, count_tokens, source_tokens) if context == "sentences" else None
    out: list[ChatExample] = []
    for i, pair in enumerate(progress(pairs) if progress else pairs):
        chunk = by_id.get((pair.doc_id, pair.chunk_id))
        if chunk is None:
            raise ConfigError(
                f"chunk {pair.chunk_id[:12]} of {pair.doc_id} is not live at version {version}: "
                "build RAFT data from pairs made at the same version"
            )
        oracle = chunk.as_passage()
        found = kb.search(pair.question, k=k + 5, at=version, mode=mode, access=access) if k else []
        others = [p for p in found if p.chunk_id != oracle.chunk_id and p.text.strip() != oracle.text.strip()]
        # Without the oracle, one more distractor takes its place: the number of passages must not give away
        # whether the answer is among them.
        with_oracle = i in keep
        distractors = others[:k] if with_oracle else others[: k + 1]
        messages, number, shown = raft_example(
            pair.question,
            pair.answer,
            oracle if with_oracle else None,
            distractors,
            rng=rng,
            templates=templates,
            withheld=withheld,
            count_tokens=count_tokens,
            budget=budget,
            source_tokens=source_tokens,
            select=select,
        )
        meta = {
            **pair.metadata(),
            "kind": "raft",
            "source_kind": pair.kind,
            "oracle": number,
            "withheld": None if number is not None else withheld,
            "passages": [p.chunk_id for p in shown],
        }
        out.append(ChatExample(messages, meta))
    return out


def _sentence_selector(
    kb: KnowledgeBase, count_tokens: Callable[[str], int] | None, source_tokens: int | None
) -> Callable[[str, list[Passage]], list[tuple[int, str]]]:
    """The pipeline's sentence-level context (:meth:`ExtractiveAnswerer.select`) for RAFT prompts."""
    from ragtune.llm.extractive import ExtractiveAnswerer

    selector = ExtractiveAnswerer(kb.embedder.embed)
    count = count_tokens or (lambda text: len(text.split()))

    def select(question: str, passages: list[Passage]) -> list[tuple[int, str]]:
        texts = [table_rows_as_text(p.readable_text) for p in passages]
        return selector.select(question, texts, count_tokens=count, budget=source_tokens or 256)

    return select


def oracle_share_of(examples: Iterable[ChatExample]) -> float:
    """Share of RAFT examples whose oracle passage is present (reads ``metadata.oracle``)."""
    flags = [ex.metadata.get("oracle") is not None for ex in examples if ex.metadata.get("kind") == "raft"]
    return sum(flags) / len(flags) if flags else 0.0
