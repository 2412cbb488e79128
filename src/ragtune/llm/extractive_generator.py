"""The extractive answerer behind the Generator protocol (``extractive``): no model, no tokens.

It cannot read a prompt, so the RAG pipeline passes the retrieved passages as ``context=``; without
context (a closed-book question) it has nothing to extract from and says so. It declares
``uses_sentence_vectors``, so the pipeline also passes the candidate sentences' vectors stored at ingest: answering
is then one query embedding and a dot product.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ragtune.llm.base import Generation, GenerationOptions, Message, RetrievedContext
from ragtune.llm.extractive import NOT_FOUND, ExtractiveAnswerer


class ExtractiveGenerator:
    """``generate(messages, context=RetrievedContext(...))`` → sentences from the passages, cited ``[n]``."""

    name = "extractive"
    context_window = 1_000_000_000  # no model: every retrieved passage "fits"
    uses_sentence_vectors = True  # RetrievedContext.sentence_vectors: the passages' stored sentence vectors

    def __init__(
        self,
        embed: Callable[[list[str]], np.ndarray],
        *,
        embed_query: Callable[[str], np.ndarray] | None = None,
        max_sentences: int = 3,
        min_score: float | None = None,
    ) -> None:
        kw: dict[str, Any] = {"max_sentences": max_sentences}
        if min_score is not None:
            kw["min_score"] = min_score
        self.answerer = ExtractiveAnswerer(embed, embed_query=embed_query, **kw)

    def generate(
        self,
        messages: list[Message],
        options: GenerationOptions | None = None,
        *,
        context: RetrievedContext | None = None,
        **kw: Any,
    ) -> Generation:
        started = time.perf_counter()
        if context is None or not context.passages:
            return Generation(
                NOT_FOUND, 0, 0, time.perf_counter() - started, model=self.name, extra={"answered": False}
            )
        result = self.answerer.answer(
            context.question,
            list(context.passages),
            passage_scores=context.scores,
            sentence_vectors=context.sentence_vectors,
        )
        return Generation(
            text=result.text,
            tokens_in=0,
            tokens_out=0,
            seconds=time.perf_counter() - started,
            model=self.name,
            extra={"answered": result.answered, "best_score": float(result.best_score)},
        )

    def stream(
        self, messages: list[Message], options: GenerationOptions | None = None, **kw: Any
    ) -> Iterator[str | Generation]:
        gen = self.generate(messages, options, **kw)
        yield gen.text
        yield gen

    def count_tokens(self, text: str) -> int:
        return 0
