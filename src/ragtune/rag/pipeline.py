"""The RAG pipeline: retrieve → prompt → generate → cite → trace.

One :class:`RagPipeline` serves every strategy: with a retriever it answers from numbered, fenced
passages and keeps only citations of passages it actually gave; without one it asks the model closed-book.

Citations (``citations=``): ``model`` keeps only the ``[n]`` markers the model wrote; ``auto`` (the default)
does the same, but when a model wrote none (small models rarely do), each answer sentence is attributed to
the passage holding most of its content words (:func:`~ragtune.llm.citations.attribute_citations`) and the
answer's trace says ``"citations": "attributed"``. ``answer_many`` answers a list of questions with one batched
generation call where the generator can batch (``generate_batch``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ragtune.errors import ConfigError
from ragtune.llm.base import Generation, GenerationOptions, Generator, Message, RetrievedContext, generate_many
from ragtune.llm.citations import StreamingCitationFilter, attribute_citations, parse_citations
from ragtune.llm.prompts import PromptTemplates, Source, fit_sources, heading_title, rag_messages, table_rows_as_text
from ragtune.search.passage import Passage
from ragtune.search.query import Query
from ragtune.search.retriever import Retriever

CITATION_MODES = ("auto", "model")
CONTEXT_MODES = ("passages", "sentences")


@dataclass
class Citation:
    """A passage an answer cites; ``n`` is the number used in the answer text."""

    n: int
    doc_id: str
    chunk_id: str
    source: str
    text: str
    title: str = ""
    heading_path: list[str] = field(default_factory=list)
    page: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Answer:
    """An answer with its citations, the KB version it came from, tokens, and per-stage timings."""

    question: str
    text: str
    citations: list[Citation]
    version: int | None
    answered: bool
    passages: list[Passage] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    tokens_in: int = 0
    tokens_out: int = 0
    dropped_citations: list[int] = field(default_factory=list)
    finish_reason: str = "stop"
    trace: dict[str, Any] = field(default_factory=dict)

    def as_dict(self, with_passages: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "version": self.version,
            "question": self.question,
            "answer": self.text,
            "answered": self.answered,
            "citations": [c.as_dict() for c in self.citations],
            "dropped_citations": self.dropped_citations,
            "tokens": {"in": self.tokens_in, "out": self.tokens_out},
            "timings_ms": self.timings_ms,
            "trace": self.trace,
        }
        if with_passages:
            out["passages"] = [p.as_dict() for p in self.passages]
        return out


def cite(passages: Sequence[Passage], numbers: Sequence[int]) -> list[Citation]:
    """Citations for the 1-based passage ``numbers`` (in the given order)."""
    out = []
    for n in numbers:
        p = passages[n - 1]
        out.append(
            Citation(
                n=n,
                doc_id=p.doc_id,
                chunk_id=p.chunk_id,
                source=p.citation_source,
                text=p.text,
                title=p.title,
                heading_path=list(p.heading_path),
                page=p.page,
            )
        )
    return out


def split_messages(messages: Sequence[Message]) -> tuple[str, list[Message]]:
    """The question (the last user turn) and the earlier non-system turns."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].get("role") == "user":
            history = [m for m in messages[:i] if m.get("role") in ("user", "assistant")]
            return messages[i].get("content", ""), history
    raise ValueError("messages must contain a user message")


@dataclass
class _Prepared:
    question: str
    passages: list[Passage]
    prompt: list[Message]
    context: RetrievedContext | None
    version: int | None
    retrieve_ms: float
    mode: str | None = None


class RagPipeline:
    """Question → Answer with one generator, retrieving first when a retriever is given."""

    def __init__(
        self,
        generator: Generator,
        retriever: Retriever | None = None,
        *,
        k: int = 5,
        mode: str | None = None,
        templates: PromptTemplates | None = None,
        options: GenerationOptions | None = None,
        name: str = "",
        source_tokens: int | None = None,
        citations: str = "auto",
        context: str = "passages",
    ) -> None:
        if citations not in CITATION_MODES:
            raise ConfigError(f"citations {citations!r}: expected one of {', '.join(CITATION_MODES)}")
        if context not in CONTEXT_MODES:
            raise ConfigError(f"context {context!r}: expected one of {', '.join(CONTEXT_MODES)}")
        self.generator = generator
        self.retriever = retriever
        self.k = k
        self.mode = mode
        self.templates = templates or PromptTemplates()
        self.options = options or GenerationOptions()
        self.name = name or ("rag" if retriever else "base")
        self.source_tokens = source_tokens
        self.citations = citations
        self.context = context
        self._selector: Any = None

    def _prepare(self, messages: Sequence[Message], options: GenerationOptions, query: Query) -> _Prepared:
        question, history = split_messages(messages)
        if self.retriever is None:
            system = [m for m in messages if m.get("role") == "system"] or [
                {"role": "system", "content": self.templates.base_system}
            ]
            prompt = [*system, *history, {"role": "user", "content": question}]
            return _Prepared(question, [], prompt, None, None, 0.0)
        t0 = time.perf_counter()
        query = Query.of(query, text=question, k=query.k or self.k, mode=query.mode or self.mode)
        found = self.retriever.retrieve(query)
        retrieve_ms = (time.perf_counter() - t0) * 1000
        passages, version = found.passages, found.version
        sources = [Source(p.readable_text, p.title, p.citation_source) for p in passages]
        if self.context == "sentences" and passages:
            passages, sources = self._best_sentences(question, passages)
        budget = self.generator.context_window - options.max_new_tokens - 16
        sources = fit_sources(
            question,
            sources,
            count_tokens=self.generator.count_tokens,
            budget=budget,
            # sentence selection already spent the source budget on text; titles and markup come on top
            source_tokens=None if self.context == "sentences" else self.source_tokens,
            templates=self.templates,
            history=history,
        )
        passages = passages[: len(sources)]
        prompt = rag_messages(question, sources, templates=self.templates, history=history)
        stored = None
        if getattr(self.generator, "uses_sentence_vectors", False) and passages:
            stored = self._sentence_vectors(passages)
        context = RetrievedContext(question, [s.text for s in sources], [p.score for p in passages], stored)
        return _Prepared(question, passages, prompt, context, version, retrieve_ms, query.mode)

    def _sentence_vectors(self, passages: Sequence[Passage]) -> list[tuple[list[str], Any] | None]:
        """Per passage, its chunk's candidate sentence texts and vectors stored at ingest (None where none are:
        a knowledge base built before they were, or another embedder; the answerer embeds those on the fly)."""
        assert self.retriever is not None
        found = self.retriever.store.sentence_vectors([p.chunk_id for p in passages], self.retriever.embedder.id)
        return [found.get(p.chunk_id) for p in passages]

    def _best_sentences(self, question: str, passages: list[Passage]) -> tuple[list[Passage], list[Source]]:
        """``context="sentences"``: the retrieved passages' sentences most relevant to ``question`` (scored as the
        extractive answerer scores them: embedding cosine, question-word overlap, passage rank; table rows as
        sentences), as many as fit in ``source_tokens`` (default 256), per passage in their original order under
        the passage's heading path. A small model then reads the few sentences that matter, not whole chunks."""
        from ragtune.llm.extractive import ExtractiveAnswerer

        if self._selector is None:
            assert self.retriever is not None
            embedder = self.retriever.embedder
            self._selector = ExtractiveAnswerer(embedder.embed, embed_query=embedder.embed_query)
        picked = self._selector.select(
            question,
            [table_rows_as_text(p.readable_text) for p in passages],
            count_tokens=self.generator.count_tokens,
            budget=self.source_tokens or 256,
            passage_scores=[p.score for p in passages],
            sentence_vectors=self._sentence_vectors(passages),  # table rows are rewritten: those are embedded
        )
        kept = [passages[i] for i, _ in picked]
        sources = [
            Source(text, heading_title(p.title, p.heading_path), p.citation_source)
            for (_, text), p in zip(picked, kept, strict=True)
        ]
        return kept, sources

    def _finish(self, prep: _Prepared, gen: Generation, started: float, generate_ms: float) -> Answer:
        cited_by = None
        if self.retriever is None:
            text, cited, dropped = gen.text.strip(), [], []
        else:
            parsed = parse_citations(gen.text, len(prep.passages))
            text, cited, dropped = parsed.text, parsed.cited, parsed.dropped
            if prep.passages:
                cited_by = "model"
                if not cited and self.citations == "auto" and text and prep.context is not None:
                    attributed = attribute_citations(text, list(prep.context.passages))
                    text, cited, cited_by = attributed.text, attributed.cited, "attributed"
        answered = bool(gen.extra.get("answered", bool(text)))
        return Answer(
            question=prep.question,
            text=text,
            citations=cite(prep.passages, cited),
            version=prep.version,
            answered=answered,
            passages=prep.passages,
            timings_ms={
                "retrieve": round(prep.retrieve_ms, 2),
                "generate": round(generate_ms, 2),
                "total": round((time.perf_counter() - started) * 1000, 2),
            },
            tokens_in=gen.tokens_in,
            tokens_out=gen.tokens_out,
            dropped_citations=dropped,
            finish_reason=gen.finish_reason,
            trace={
                "strategy": self.name,
                "generator": self.generator.name,
                "mode": (prep.mode or self.retriever.settings.mode) if self.retriever else None,
                "k": len(prep.passages),
                "prompt_messages": len(prep.prompt),
                **({"citations": cited_by} if cited_by else {}),
                **{k: v for k, v in gen.extra.items() if k in ("best_score", "batch_size")},
            },
        )

    def answer(
        self,
        messages: Sequence[Message],
        query: Query | None = None,
        *,
        options: GenerationOptions | None = None,
        **fields: Any,
    ) -> Answer:
        """Answer the last user message. ``query`` (or its fields as keywords: ``at``, ``filters``, ``k``, ``mode``,
        ...) says how to retrieve; its ``k`` and ``mode`` override the pipeline's for this call."""
        started = time.perf_counter()
        opts = options or self.options
        prep = self._prepare(messages, opts, Query.of(query, **fields))
        t = time.perf_counter()
        gen = self.generator.generate(prep.prompt, opts, context=prep.context)
        return self._finish(prep, gen, started, (time.perf_counter() - t) * 1000)

    def answer_many(
        self,
        conversations: Sequence[Sequence[Message]],
        query: Query | None = None,
        *,
        options: GenerationOptions | None = None,
        **fields: Any,
    ) -> list[Answer]:
        """Answer many conversations (each answered as :meth:`answer` would); retrieval runs per question, then
        one :func:`~ragtune.llm.base.generate_many` call batches the generation. ``timings_ms["generate"]`` is
        each answer's share of its batch's wall time."""
        started = time.perf_counter()
        opts = options or self.options
        query = Query.of(query, **fields)
        preps = [self._prepare(m, opts, query) for m in conversations]
        gens = generate_many(self.generator, [p.prompt for p in preps], opts, contexts=[p.context for p in preps])
        answers = []
        for prep, gen in zip(preps, gens, strict=True):
            answer = self._finish(prep, gen, started, gen.seconds * 1000)
            answer.timings_ms["total"] = round(answer.timings_ms["retrieve"] + answer.timings_ms["generate"], 2)
            answers.append(answer)
        return answers

    def stream(
        self,
        messages: Sequence[Message],
        query: Query | None = None,
        *,
        options: GenerationOptions | None = None,
        **fields: Any,
    ) -> Iterator[str | Answer]:
        """Text pieces as they are generated (invalid citations filtered out), then the final Answer."""
        started = time.perf_counter()
        opts = options or self.options
        prep = self._prepare(messages, opts, Query.of(query, **fields))
        t = time.perf_counter()
        filt = StreamingCitationFilter(len(prep.passages)) if self.retriever is not None else None
        final: Generation | None = None
        for piece in self.generator.stream(prep.prompt, opts, context=prep.context):
            if isinstance(piece, Generation):
                final = piece
            elif filt is None:
                yield piece
            else:
                yield from (p for p in filt.feed(piece) if p)
        if filt is not None and (rest := filt.flush()):
            yield rest
        if final is None:  # pragma: no cover - a generator that broke the protocol
            raise RuntimeError(f"{self.generator.name}: stream ended without a Generation")
        yield self._finish(prep, final, started, (time.perf_counter() - t) * 1000)

    def ask(self, question: str, **kw: Any) -> Answer:
        return self.answer([{"role": "user", "content": question}], **kw)
