"""``data check``: what is wrong with a chat JSONL training file, as a report.

Errors (the file should not be trained on as it is; the CLI exits non-zero):

- ``json``: a line is not valid JSON
- ``schema``: not an object, no ``messages`` list, a turn without string ``role``/``content``, bad ``metadata``
- ``role``: unknown role, system not first, user/assistant not alternating, not ending with assistant
- ``empty``: a turn whose content is blank
- ``too-long``: an example over the token limit (``max_tokens``, or the model's own limit)
- ``duplicate``: an example identical to an earlier one (after whitespace normalization)
- ``leakage``: an eval question appearing exactly or nearly as a user turn (needs an eval set)
- ``no-examples``: the file holds no valid example

Warnings (worth a look; exit code 0):

- ``near-duplicate``: examples whose question + answer text is within the Jaccard threshold of another
- ``approximate-tokens``: no tokenizer given, so token counts are a whitespace estimate
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ragtune.llm.prompts import PromptTemplates
from ragtune.tune.data.dataset import ChatExample, iter_chat_jsonl, user_question
from ragtune.tune.data.similarity import DEFAULT_THRESHOLD, NearDuplicateIndex, normalize_text
from ragtune.tune.data.tokens import TokenCounter, whitespace_counter

ERROR_CODES = ("json", "schema", "role", "empty", "too-long", "duplicate", "leakage", "no-examples")
WARNING_CODES = ("near-duplicate", "approximate-tokens")
MAX_LISTED = 20  # problems of one kind listed in the text report (all are in the JSON)


@dataclass
class Problem:
    """One finding: ``severity`` is "error" or "warning"; ``lines`` are 1-based lines of the training file."""

    severity: str
    code: str
    message: str
    lines: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class DataReport:
    """Everything ``data check`` found, plus token-length statistics of the valid examples."""

    path: str
    n_lines: int
    n_examples: int
    tokenizer: str
    exact_tokens: bool
    problems: list[Problem] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    eval_path: str | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when there are no errors (warnings allowed)."""
        return not self.errors

    def counts(self) -> dict[str, int]:
        """Problems per code."""
        return dict(Counter(p.code for p in self.problems))

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "eval": self.eval_path,
            "ok": self.ok,
            "lines": self.n_lines,
            "examples": self.n_examples,
            "tokenizer": self.tokenizer,
            "exact_tokens": self.exact_tokens,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "counts": self.counts(),
            "problems": [p.as_dict() for p in self.problems],
            "stats": self.stats,
        }

    def render(self) -> str:
        """A plain-text report (what the CLI prints without ``--json``)."""
        out = [f"{self.path}: {self.n_examples} valid examples on {self.n_lines} lines"]
        if self.eval_path:
            out.append(f"leakage checked against {self.eval_path}")
        s = self.stats
        if s.get("tokens"):
            t = s["tokens"]
            out.append(
                f"tokens per example ({self.tokenizer}): min {t['min']}, p50 {t['p50']}, p95 {t['p95']}, "
                f"max {t['max']}; total {t['total']}"
            )
            roles = ", ".join(f"{r} {n}" for r, n in s["messages_per_role"].items())
            out.append(f"messages: {roles}; with a system prompt: {s['with_system']}")
        by_code: dict[str, list[Problem]] = {}
        for p in self.problems:
            by_code.setdefault(p.code, []).append(p)
        for code, items in by_code.items():
            out.append(f"{items[0].severity.upper()} {code} ({len(items)}):")
            out.extend(f"  {_where(p)}{p.message}" for p in items[:MAX_LISTED])
            if len(items) > MAX_LISTED:
                out.append(f"  ... and {len(items) - MAX_LISTED} more (see --json)")
        out.append(f"{len(self.errors)} errors, {len(self.warnings)} warnings: {'OK' if self.ok else 'FAILED'}")
        return "\n".join(out)


def _where(p: Problem) -> str:
    return f"line {', '.join(map(str, p.lines))}: " if p.lines else ""


def check_dataset(
    path: str | Path,
    *,
    eval_questions: Sequence[tuple[str, str]] | None = None,
    eval_path: str | None = None,
    counter: TokenCounter | None = None,
    max_tokens: int | None = None,
    near_threshold: float = DEFAULT_THRESHOLD,
    templates: PromptTemplates | None = None,
) -> DataReport:
    """Check a chat JSONL file. ``eval_questions`` are (id, question) pairs to test for leakage.

    ``counter`` counts tokens (default: whitespace estimate); ``max_tokens`` (default: the counter's model
    limit, if known) makes longer examples errors. ``templates`` lets RAFT prompts be recognized, so only
    the question inside them is compared for leakage and near duplicates.
    """
    counter = counter or whitespace_counter()
    limit = max_tokens if max_tokens is not None else counter.max_length
    problems: list[Problem] = []
    examples: list[ChatExample] = []
    n_lines = 0
    for raw in iter_chat_jsonl(path):
        n_lines = raw.line
        for code, reason in raw.problems:
            problems.append(Problem("error", code, reason, [raw.line]))
        if raw.example is not None and not raw.problems:
            examples.append(raw.example)
    report = DataReport(str(path), n_lines, len(examples), counter.name, counter.exact, eval_path=eval_path)
    if not examples:
        problems.append(Problem("error", "no-examples", "the file holds no valid examples"))
    if not counter.exact:
        problems.append(
            Problem("warning", "approximate-tokens", "token counts are a whitespace estimate; pass --tokenizer")
        )
    lengths = _lengths(examples, counter, limit, problems)
    problems.extend(_duplicates(examples, near_threshold, templates))
    if eval_questions:
        problems.extend(_leakage(examples, eval_questions, near_threshold, templates))
    report.problems = problems
    report.stats = _stats(examples, lengths)
    return report


def _lengths(
    examples: Sequence[ChatExample], counter: TokenCounter, limit: int | None, problems: list[Problem]
) -> list[int]:
    lengths = []
    for ex in examples:
        n = counter.count_messages(ex.messages)
        lengths.append(n)
        if limit is not None and n > limit:
            turns = [(counter.count(m["content"]), i, m["role"]) for i, m in enumerate(ex.messages)]
            longest, i, role = max(turns)
            problems.append(
                Problem(
                    "error",
                    "too-long",
                    f"{n} tokens > limit {limit} (longest turn: messages[{i}] {role}, {longest} tokens)",
                    [ex.line],
                )
            )
    return lengths


def _comparable(ex: ChatExample, templates: PromptTemplates | None) -> str:
    """What near-duplicate detection compares: questions and answers, not system prompts or passages."""
    parts = [
        user_question(m["content"], templates) if m["role"] == "user" else m["content"]
        for m in ex.messages
        if m["role"] != "system"
    ]
    return "\n".join(parts)


def _duplicates(examples: Sequence[ChatExample], threshold: float, templates: PromptTemplates | None) -> list[Problem]:
    out: list[Problem] = []
    first: dict[str, int] = {}
    exact_pairs: set[tuple[int, int]] = set()
    for i, ex in enumerate(examples):
        key = json.dumps([[m["role"], " ".join(m["content"].split())] for m in ex.messages])
        if key in first:
            j = first[key]
            exact_pairs.add((j, i))
            out.append(Problem("error", "duplicate", f"same as line {examples[j].line}", [ex.line]))
        else:
            first[key] = i
    index = NearDuplicateIndex([_comparable(ex, templates) for ex in examples], threshold=threshold)
    for i, j, sim in index.pairs():
        if (i, j) in exact_pairs or _same_text(examples[i], examples[j], templates):
            continue
        out.append(
            Problem(
                "warning",
                "near-duplicate",
                f"similar to line {examples[i].line} (Jaccard {sim:.2f} ≥ {threshold})",
                [examples[j].line],
            )
        )
    return out


def _same_text(a: ChatExample, b: ChatExample, templates: PromptTemplates | None) -> bool:
    # Exact duplicates that differ only in whitespace are already errors; don't report them twice.
    return normalize_text(_comparable(a, templates)) == normalize_text(_comparable(b, templates)) and len(
        a.messages
    ) == len(b.messages)


class UserTurnIndex:
    """The user turns of a training set, to ask whether a question appears in it exactly or nearly.

    For RAFT prompts only the question inside is indexed (see :func:`ragtune.tune.data.dataset.user_question`).
    """

    def __init__(
        self,
        examples: Sequence[ChatExample],
        *,
        threshold: float = DEFAULT_THRESHOLD,
        templates: PromptTemplates | None = None,
    ) -> None:
        self.threshold = threshold
        self.turns: list[tuple[int, str]] = [
            (ex.line, user_question(m["content"], templates))
            for ex in examples
            for m in ex.messages
            if m["role"] == "user"
        ]
        self._index = NearDuplicateIndex([text for _, text in self.turns], threshold=threshold)
        self._exact: dict[str, int] = {}
        for line, text in self.turns:
            self._exact.setdefault(normalize_text(text), line)

    def find(self, question: str) -> tuple[int, float] | None:
        """(line, similarity) of the closest user turn within the threshold (similarity 1.0 when exact)."""
        hit = self._exact.get(normalize_text(question))
        if hit is not None:
            return hit, 1.0
        near = self._index.query(question)
        if not near:
            return None
        j, sim = near[0]
        return self.turns[j][0], sim


def _leakage(
    examples: Sequence[ChatExample],
    questions: Sequence[tuple[str, str]],
    threshold: float,
    templates: PromptTemplates | None,
) -> list[Problem]:
    index = UserTurnIndex(examples, threshold=threshold, templates=templates)
    out = []
    for qid, question in questions:
        found = index.find(question)
        if found is None:
            continue
        line, sim = found
        how = "appears as a user turn" if sim == 1.0 else f"is nearly a user turn (Jaccard {sim:.2f} ≥ {threshold})"
        out.append(Problem("error", "leakage", f"eval question {qid} {how}", [line]))
    return out


def _stats(examples: Sequence[ChatExample], lengths: Sequence[int]) -> dict[str, Any]:
    roles: Counter[str] = Counter(m["role"] for ex in examples for m in ex.messages)
    out: dict[str, Any] = {
        "examples": len(examples),
        "messages_per_role": {r: roles.get(r, 0) for r in ("system", "user", "assistant")},
        "with_system": sum(1 for ex in examples if ex.messages and ex.messages[0]["role"] == "system"),
        "turns_per_example": round(float(np.mean([len(ex.messages) for ex in examples])), 2) if examples else 0,
        "kinds": dict(Counter(str(ex.metadata.get("kind")) for ex in examples if "kind" in ex.metadata)),
    }
    if lengths:
        arr = np.asarray(lengths)
        out["tokens"] = {
            "min": int(arr.min()),
            "p50": int(np.percentile(arr, 50)),
            "p95": int(np.percentile(arr, 95)),
            "max": int(arr.max()),
            "mean": round(float(arr.mean()), 1),
            "total": int(arr.sum()),
        }
    return out
