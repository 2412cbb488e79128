"""Run one strategy over an eval set: one JSON-ready record per question, then score the records.

A record holds what the strategy did (answer, citations, the documents retrieval ranked, per-stage timings,
tokens, cost) and, after :func:`score_records`, every metric of :func:`ragtune.evaluate.run.scoring.score_answers`
plus ``quality`` (the metric the comparison ranks by). Records are written as ``DIR/<strategy>.jsonl`` so a
report can be rebuilt without re-running anything.

Batching. Questions are answered in groups (``Strategy.ask_many``): a model that can batch generates a group's
answers together, which is what makes a comparison with a real model on a CPU take minutes, not hours. A
group that fails is retried one question at a time, so one bad question is recorded with its error alone.

Timing. The first question is asked once before timing starts (it loads the model and warms caches), so the
latencies are those of a warm service. In a batch, each answer's ``timings_ms["generate"]`` is its share of
the batch (what it cost); the latency a user would wait with one request at a time is measured separately on
the first ``latency_sample`` questions, asked one by one, and stored as their ``latency_ms`` (records flag it
with ``"latency_measured": true``); reports take latency percentiles from those. Retrieval metrics come from a
separate search at ``retrieval_k`` (default 10, enough for nDCG@10) with the strategy's own mode; that search
is not part of the latency.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from ragtune.advise.cost import PriceSheet, query_cost
from ragtune.errors import RagtuneError
from ragtune.evaluate.metrics.style import StyleReference
from ragtune.evaluate.run.scoring import AnswerCase, score_answers
from ragtune.llm.base import Generator

if TYPE_CHECKING:
    from ragtune.evaluate.evalset import EvalItem
    from ragtune.rag import Answer
    from ragtune.rag.strategies import Strategy

QUALITY_METRICS = ("semantic", "facts", "f1", "em", "judge")


def run_strategy(
    strategy: Strategy,
    items: Sequence[EvalItem],
    *,
    at: int | None = None,
    retrieval_k: int = 10,
    sheet: PriceSheet | None = None,
    progress: bool = True,
    group: int = 32,
    latency_sample: int = 8,
) -> list[dict[str, Any]]:
    """Ask every question with ``strategy``; a question whose answer fails is recorded with its error."""
    sheet = sheet or PriceSheet()
    if items:
        strategy.ask(items[0].question, at=at)  # warm-up: model load, caches
    records: list[dict[str, Any]] = []
    bar = tqdm(total=len(items), desc=f"{strategy.name:>16}", unit="q", disable=not progress, leave=False)
    for start in range(0, len(items), max(group, 1)):
        chunk = items[start : start + max(group, 1)]
        try:
            answers: list[Answer | RagtuneError] = list(strategy.ask_many([i.question for i in chunk], at=at))
        except RagtuneError:
            answers = [_ask_one(strategy, i.question, at) for i in chunk]
        for item, answer in zip(chunk, answers, strict=True):
            records.append(_record(strategy, item, answer, at, retrieval_k, sheet))
        bar.update(len(chunk))
    bar.close()
    for record, item in list(zip(records, items, strict=True))[:latency_sample]:
        answer = _ask_one(strategy, item.question, at)  # one request at a time: the latency a user waits
        if not isinstance(answer, RagtuneError):
            record["latency_ms"] = answer.timings_ms
            record["latency_measured"] = True
    return records


def _ask_one(strategy: Strategy, question: str, at: int | None) -> Answer | RagtuneError:
    try:
        return strategy.ask(question, at=at)
    except RagtuneError as exc:
        return exc


def _record(
    strategy: Strategy,
    item: EvalItem,
    answer: Answer | RagtuneError,
    at: int | None,
    retrieval_k: int,
    sheet: PriceSheet,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": item.id,
        "question": item.question,
        "reference": item.answer,
        "sources": list(item.sources),
        "tags": list(item.tags),
        "unanswerable": item.unanswerable,
        "answer": "",
        "answered": False,
        "citations": [],
        "retrieved": None,
        "timings_ms": {},
        "tokens_in": 0,
        "tokens_out": 0,
        "cost": None,
        "version": None,
        "error": None,
    }
    if isinstance(answer, RagtuneError):
        record["error"] = str(answer)
        return record
    cited = {c.n for c in answer.citations}
    record.update(
        answer=answer.text,
        answered=answer.answered,
        citations=[{"n": c.n, "doc_id": c.doc_id, "source": c.source, "text": c.text} for c in answer.citations],
        timings_ms=answer.timings_ms,
        tokens_in=answer.tokens_in,
        tokens_out=answer.tokens_out,
        version=answer.version,
        cited_passages={str(n): answer.passages[n - 1].text for n in sorted(cited)},
        citations_by=answer.trace.get("citations"),
    )
    seconds = answer.timings_ms.get("generate", 0.0) / 1000
    record["cost"] = query_cost(
        strategy.spec.generator,
        answer.tokens_in,
        answer.tokens_out,
        seconds,
        retrieval_seconds=answer.timings_ms.get("retrieve", 0.0) / 1000,
        sheet=sheet,
    )
    if strategy.spec.retrieve:
        passages = strategy.kb.search(item.question, k=retrieval_k, mode=strategy.spec.mode, at=at)
        record["retrieved"] = list(dict.fromkeys(p.doc_id for p in passages))
    return record


def score_records(
    records: list[dict[str, Any]],
    *,
    embed: Callable[[list[str]], Any] | None,
    style: StyleReference | None = None,
    judge: Generator | None = None,
    decline_phrases: Sequence[str] | None = None,
    quality_metric: str = "semantic",
) -> list[dict[str, Any]]:
    """Add ``metrics`` (every answer metric, plus ``quality``) to each record, in place; returns them."""
    cases = [
        AnswerCase(
            question=r["question"],
            answer=r["answer"],
            references=[r["reference"]] if r["reference"] else [],
            reference_sources=r["sources"],
            unanswerable=r["unanswerable"],
            cited_doc_ids=[c["doc_id"] for c in r["citations"]],
            cited_passages={int(n): text for n, text in (r.get("cited_passages") or {}).items()},
            retrieved_doc_ids=r["retrieved"],
            answered=r["answered"] if r["error"] is None else None,
        )
        for r in records
    ]
    rows = score_answers(cases, embed=embed, style=style, judge=judge, decline_phrases=decline_phrases)
    for record, row in zip(records, rows, strict=True):
        row["quality"] = row.get(quality_metric)
        if record["retrieved"] is None:  # closed book: nothing was cited, so groundedness does not apply
            row["groundedness"] = None
        if record["error"] is not None:  # a failed answer is wrong, not missing
            row["quality"] = 0.0
        record["metrics"] = row
    return records
