"""Eval sets: JSONL of ``{"id", "question", "answer", "sources": [doc ids], "tags": [...]}``, read, written and
synthesized from a knowledge base.

An unanswerable item (the right answer is to decline) is tagged ``unanswerable``, or has no sources and a
declining reference answer ("The help center does not say."). :func:`build_eval_set` reuses the training-data
synthesis (:func:`ragtune.tune.data.synth.synthesize`) and, given training data, drops every candidate question
that appears in it exactly or nearly (the same test as ``ragtune data check --eval``), so the two stay apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragtune.errors import DatasetError
from ragtune.evaluate.metrics.answer import is_decline
from ragtune.jsonl import iter_jsonl, write_jsonl
from ragtune.llm.base import Generator
from ragtune.llm.prompts import PromptTemplates
from ragtune.tune.data.check import UserTurnIndex
from ragtune.tune.data.dataset import ChatExample
from ragtune.tune.data.similarity import DEFAULT_THRESHOLD
from ragtune.tune.data.synth import Synthesis, sample_pairs, synthesize

if TYPE_CHECKING:
    from ragtune.knowledge_base import KnowledgeBase

UNANSWERABLE = "unanswerable"
FIELDS = ("id", "question", "answer", "sources", "tags")


@dataclass
class EvalItem:
    """One eval question with its reference answer and the documents that hold the answer."""

    id: str
    question: str
    answer: str
    sources: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # other keys of the line, kept for the round trip

    @property
    def unanswerable(self) -> bool:
        """True when the right answer is to decline."""
        if UNANSWERABLE in self.tags:
            return True
        # The same test as a generated answer's decline (metrics.is_decline); an empty reference is not one.
        return not self.sources and bool(self.answer.strip()) and is_decline(self.answer)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "question": self.question,
            "answer": self.answer,
            "sources": list(self.sources),
            "tags": list(self.tags),
            **self.extra,
        }


def _str_list(value: Any, name: str, path: Path, line: int) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DatasetError(path, line, f"'{name}' must be a list of strings")
    return list(value)


def parse_eval_item(obj: Any, path: str | Path = "<eval>", line: int = 0) -> EvalItem:
    """One decoded JSON line → EvalItem; DatasetError naming the file, line and field otherwise."""
    p = Path(path)
    if not isinstance(obj, dict):
        raise DatasetError(p, line, f"expected a JSON object, got {type(obj).__name__}")
    for key in ("id", "question"):
        value = obj.get(key)
        if not isinstance(value, (str, int)) or isinstance(value, bool) or not str(value).strip():
            raise DatasetError(p, line, f"missing or empty '{key}'")
    answer = obj.get("answer", "")
    if not isinstance(answer, str):
        raise DatasetError(p, line, "'answer' must be a string")
    return EvalItem(
        id=str(obj["id"]),
        question=str(obj["question"]).strip(),
        answer=answer,
        sources=_str_list(obj.get("sources"), "sources", p, line),
        tags=_str_list(obj.get("tags"), "tags", p, line),
        extra={k: v for k, v in obj.items() if k not in FIELDS},
    )


def read_eval_set(path: str | Path) -> list[EvalItem]:
    """All items of an eval JSONL file. Bad JSON, a missing id/question, a wrongly typed field or a repeated id
    raises DatasetError with the file and line."""
    p = Path(path)
    items: list[EvalItem] = []
    seen: dict[str, int] = {}
    for number, obj in iter_jsonl(p):
        item = parse_eval_item(obj, p, number)
        if item.id in seen:
            raise DatasetError(p, number, f"id {item.id!r} repeats line {seen[item.id]}")
        seen[item.id] = number
        items.append(item)
    if not items:
        raise DatasetError(p, None, "no eval items")
    return items


def write_eval_set(path: str | Path, items: Iterable[EvalItem]) -> int:
    """Write items as eval JSONL (atomically); return how many were written."""
    return write_jsonl(path, (item.as_dict() for item in items))


@dataclass
class EvalBuild:
    """A synthesized eval set and how it was made."""

    items: list[EvalItem]
    synthesis: Synthesis
    excluded: int  # candidates dropped because they leak into the training data

    def as_dict(self) -> dict[str, Any]:
        return {"items": len(self.items), "excluded_as_leakage": self.excluded, **self.synthesis.as_dict()}


def build_eval_set(
    kb: KnowledgeBase,
    *,
    n: int = 50,
    seed: int = 0,
    exclude: Sequence[ChatExample] = (),
    threshold: float = DEFAULT_THRESHOLD,
    templates: PromptTemplates | None = None,
    at: int | None = None,
    generator: Generator | None = None,
    method: str = "",
    max_per_chunk: int = 3,
    id_prefix: str = "syn",
) -> EvalBuild:
    """Up to ``n`` questions synthesized from ``kb`` at ``at``, none of them in ``exclude`` (exactly or nearly).

    Items are spread over documents with ``seed``; each has the source document as ``sources`` and the tags
    ``synthetic`` and the rule (or ``generated``) that made it.
    """
    synthesis = synthesize(kb, generator=generator, method=method, at=at, max_per_chunk=max_per_chunk)
    candidates = synthesis.pairs
    excluded = 0
    if exclude:
        index = UserTurnIndex(exclude, threshold=threshold, templates=templates)
        kept = [p for p in candidates if index.find(p.question) is None]
        excluded = len(candidates) - len(kept)
        candidates = kept
    chosen = sample_pairs(candidates, n, seed)
    width = max(3, len(str(len(chosen))))
    items = [
        EvalItem(
            id=f"{id_prefix}{i:0{width}d}",
            question=p.question,
            answer=p.answer,
            sources=[p.doc_id],
            tags=["synthetic", p.kind],
            extra={"chunk_id": p.chunk_id, "kb_version": p.kb_version},
        )
        for i, p in enumerate(chosen, start=1)
    ]
    return EvalBuild(items, synthesis, excluded)
