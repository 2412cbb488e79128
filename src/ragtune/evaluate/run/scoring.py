"""Score a batch of answers with every applicable metric: one flat, JSON-ready dict per answer.

This is what the comparison runner calls per strategy; it batches the embedder (one call per metric family
over the whole batch) and applies the conventions of ``docs/metrics.md``:

- correctness (``em``, ``f1``, ``semantic``, ``judge``) of an answer to an **unanswerable** question is the
  decline: 1.0 when it declines, 0.0 when it answers (comparing "The team plan costs $12" with "The help
  center does not say." word by word would reward nothing meaningful);
- ``[n]`` markers are stripped before EM/F1/similarity/style;
- keys that do not apply are ``None`` (bootstrap means skip them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ragtune.config import EvaluateSettings
from ragtune.evaluate.metrics.answer import (
    DEFAULT_DECLINE_PHRASES,
    EmbedFn,
    citation_scores,
    decline_outcome,
    facts_stated,
    is_decline,
    semantic_similarity,
    squad_scores,
    strip_citations,
)
from ragtune.evaluate.metrics.groundedness import groundedness
from ragtune.evaluate.metrics.judge import judge_answers
from ragtune.evaluate.metrics.retrieval import retrieval_scores
from ragtune.evaluate.metrics.style import StyleReference
from ragtune.llm.base import Generator


@dataclass
class AnswerCase:
    """One question, the answer a strategy gave, and what it is judged against.

    ``cited_passages`` maps the answer's ``[n]`` numbers to the passage texts (for groundedness);
    ``retrieved_doc_ids`` is the ranked doc id of every retrieved chunk (for retrieval metrics; empty for
    closed-book strategies); ``answered`` is the pipeline's own flag, when it has one (False = it declined).
    """

    question: str
    answer: str
    references: list[str]
    reference_sources: list[str] = field(default_factory=list)
    unanswerable: bool = False
    cited_doc_ids: list[str] = field(default_factory=list)
    cited_passages: Mapping[int, str] = field(default_factory=dict)
    retrieved_doc_ids: list[str] | None = None
    answered: bool | None = None


def decline_phrases_from_config(config: Mapping[str, Any] | None = None) -> list[str]:
    """The default decline phrases plus ``[evaluate] decline_phrases`` (regexes) from ragtune.toml."""
    return [*DEFAULT_DECLINE_PHRASES, *EvaluateSettings.from_config(config).decline_phrases]


def score_answers(
    cases: Sequence[AnswerCase],
    *,
    embed: EmbedFn | None = None,
    style: StyleReference | None = None,
    judge: Generator | None = None,
    decline_phrases: Sequence[str] | None = None,
    recall_ks: Sequence[int] = (1, 5, 10),
) -> list[dict[str, Any]]:
    """Per answer: ``em f1 semantic facts judge citation_precision citation_recall groundedness declined
    correct_decline false_decline style_similarity style_rules failed_rules recall@k mrr ndcg@10``
    (+ ``judge_reply``, ``judge_unparseable`` when judged). Metrics without their input (no embedder, no
    judge, no style, closed book) are None."""
    phrases = list(DEFAULT_DECLINE_PHRASES) if decline_phrases is None else list(decline_phrases)
    declined = [is_decline(c.answer, phrases) or c.answered is False for c in cases]
    answerable = [(i, c) for i, c in enumerate(cases) if not c.unanswerable and c.references]
    rows: list[dict[str, Any]] = []
    for c, dec in zip(cases, declined, strict=True):
        row: dict[str, Any] = {"em": None, "f1": None, "semantic": None, "facts": None, "judge": None}
        if c.unanswerable:
            row.update(dict.fromkeys(("em", "f1", "semantic", "facts"), float(dec)))
            if judge is not None:
                row["judge"] = float(dec)
        elif c.references:
            row.update(squad_scores(strip_citations(c.answer), c.references))
            row["facts"] = facts_stated(c.answer, c.references)
        cites = citation_scores(c.cited_doc_ids, c.reference_sources) if not c.unanswerable else {}
        row["citation_precision"] = cites.get("precision")
        row["citation_recall"] = cites.get("recall")
        row.update(decline_outcome(dec, c.unanswerable))
        rows.append(row)

    if embed is not None and answerable:
        sims = semantic_similarity([c.answer for _, c in answerable], [c.references for _, c in answerable], embed)
        for (i, _), sim in zip(answerable, sims, strict=True):
            rows[i]["semantic"] = sim
    if judge is not None and answerable:
        run = judge_answers(
            judge, [c.question for _, c in answerable], [c.answer for _, c in answerable],
            [c.references[0] for _, c in answerable],
        )  # fmt: skip
        for (i, _), verdict in zip(answerable, run.verdicts, strict=True):
            rows[i].update(judge=verdict.score, judge_reply=verdict.reply, judge_unparseable=verdict.grade is None)

    grounded = groundedness([c.answer for c in cases], [c.cited_passages for c in cases], embed)
    for row, g, dec in zip(rows, grounded, declined, strict=True):
        row["groundedness"] = None if dec else g.score

    style_rows = style.score([c.answer for c in cases]) if style is not None else [{}] * len(cases)
    for row, s in zip(rows, style_rows, strict=True):
        row["style_similarity"] = s.get("similarity")
        row["style_rules"] = s.get("rules")
        row["failed_rules"] = s.get("failed_rules", [])

    for row, c in zip(rows, cases, strict=True):
        if c.retrieved_doc_ids is not None:
            row.update(retrieval_scores(c.retrieved_doc_ids, c.reference_sources, recall_ks))
        else:
            row.update(retrieval_scores([], [], recall_ks))
    return rows
