"""The RAG pipeline: retrieve → answer → cite → trace.

Without a configured language model the answer is extractive: sentences chosen from the retrieved
passages, each cited as ``[n]`` (n numbers the passages retrieved for the question).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ragtune.config import AnswerSettings
from ragtune.llm.extractive import ExtractiveAnswerer
from ragtune.search.passage import Passage
from ragtune.search.retriever import Retriever


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
    """An answer with its citations, the KB version it came from, and how long each stage took."""

    question: str
    text: str
    citations: list[Citation]
    version: int
    answered: bool
    passages: list[Passage] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    trace: dict[str, Any] = field(default_factory=dict)

    def as_dict(self, with_passages: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "version": self.version,
            "question": self.question,
            "answer": self.text,
            "answered": self.answered,
            "citations": [c.as_dict() for c in self.citations],
            "timings_ms": self.timings_ms,
        }
        if with_passages:
            out["passages"] = [p.as_dict() for p in self.passages]
        return out


def cite(passages: list[Passage], numbers: list[int]) -> list[Citation]:
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


class Pipeline:
    """Question → Answer over one retriever with the extractive answerer."""

    def __init__(self, retriever: Retriever, settings: AnswerSettings | None = None) -> None:
        self.retriever = retriever
        self.settings = settings or AnswerSettings()
        self.answerer = ExtractiveAnswerer(
            retriever.embedder.embed,
            max_sentences=self.settings.max_sentences,
            min_score=self.settings.min_score,
        )

    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        mode: str | None = None,
        at: int | None = None,
        filters: dict[str, Any] | None = None,
    ) -> Answer:
        t0 = time.perf_counter()
        passages = self.retriever.search(question, k or self.settings.k, mode=mode, at=at, filters=filters)
        t1 = time.perf_counter()
        result = self.answerer.answer(
            question, [p.text for p in passages], passage_scores=[p.score for p in passages]
        )
        t2 = time.perf_counter()
        version = passages[0].version if passages else self.retriever.store.check_version(at)
        return Answer(
            question=question,
            text=result.text,
            citations=cite(passages, [i + 1 for i in result.cited]),
            version=version,
            answered=result.answered,
            passages=passages,
            timings_ms={
                "retrieve": round((t1 - t0) * 1000, 2),
                "generate": round((t2 - t1) * 1000, 2),
                "total": round((t2 - t0) * 1000, 2),
            },
            trace={
                "mode": mode or self.retriever.settings.mode,
                "k": len(passages),
                "best_score": round(float(result.best_score), 4),
                "generator": "extractive",
            },
        )
