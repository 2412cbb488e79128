"""Freshness probe: change a fact in the documents, re-ask the questions it affects, see who notices.

A change set is a folder with ``change.json`` (``name``, ``description``, ``files``: the doc ids it edits,
``affected_questions``: ``id``, ``question``, ``old_answer``, ``new_answer``) and ``docs/``: the edited files,
laid out like the corpus so that ingesting ``docs/`` replaces those documents (see
``examples/helpcenter/changes/``).

The probe never touches the user's knowledge base: it copies it (the store's online backup) to a scratch folder,
asks the affected questions there with every strategy, ingests the change (timed: that is RAG's time to
reflect it), and asks again.

Verdict per answer. The words that tell the old and new answers apart decide: ``new_only`` = words of the new
answer that the old lacks (e.g. "14"), ``old_only`` the reverse (SQuAD normalisation, so "$14" → "14").
An answer is **fresh** when it contains new-only words, at least as large a share of them as of the old-only
ones (an answer may mention an old figure for another fact: after a price rise, the new annual price can equal
the old monthly one), **old-fact** when it contains old-only words and is not fresh, and **stale** otherwise
(it states neither: e.g. a decline). The stale-answer rate counts every answer that is not fresh.

Time to reflect. Retrieval strategies: the measured re-ingest, when their answers are fresh afterwards.
Closed-book fine-tuned strategies: the retraining time (the registered run's measured training time; the
caller passes it in). A closed-book base model cannot learn the change without training: ``None``.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragtune.errors import ConfigError, NotFoundError
from ragtune.evaluate.metrics.answer import squad_normalize

if TYPE_CHECKING:
    from ragtune.knowledge_base import KnowledgeBase
    from ragtune.rag.strategies import Strategy

VERDICTS = ("fresh", "old-fact", "stale")


@dataclass
class AffectedQuestion:
    id: str
    question: str
    old_answer: str
    new_answer: str


@dataclass
class ChangeSet:
    """Edited documents and the questions whose answers they change."""

    name: str
    description: str
    files: list[str]
    questions: list[AffectedQuestion]
    docs_dir: Path

    @classmethod
    def read(cls, path: str | Path) -> ChangeSet:
        """The change set in folder ``path`` (``change.json`` + ``docs/``); a clear error says what is missing."""
        path = Path(path)
        manifest = path / "change.json"
        if not manifest.is_file():
            raise NotFoundError(f"{path}: not a change set (no change.json)")
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
            questions = [
                AffectedQuestion(str(q["id"]), q["question"], q["old_answer"], q["new_answer"])
                for q in data["affected_questions"]
            ]
            files = [str(f) for f in data["files"]]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"{manifest}: expected name, files and affected_questions [{{id, question, old_answer, "
                f"new_answer}}] ({exc.__class__.__name__}: {exc})"
            ) from None
        docs = path / "docs"
        if not docs.is_dir():
            raise NotFoundError(f"{path}: the change set has no docs/ folder with the edited files")
        if not questions:
            raise ConfigError(f"{manifest}: affected_questions is empty: nothing to probe")
        return cls(str(data.get("name") or path.name), str(data.get("description", "")), files, questions, docs)


def _words(text: str) -> set[str]:
    return set(squad_normalize(text).split())


def verdict(answer: str, old_answer: str, new_answer: str) -> str:
    """``fresh``, ``old-fact`` or ``stale`` for ``answer`` given the old and new reference answers."""
    old, new, said = _words(old_answer), _words(new_answer), _words(answer)
    old_only, new_only = old - new, new - old
    share_new = len(said & new_only) / len(new_only) if new_only else 0.0
    share_old = len(said & old_only) / len(old_only) if old_only else 0.0
    if share_new > 0 and share_new >= share_old:
        return "fresh"
    if share_old > 0:
        return "old-fact"
    return "stale"


def copy_kb(kb: KnowledgeBase, dest: Path) -> Path:
    """A consistent copy of ``kb``'s store in folder ``dest`` (the store's online backup, safe while others write)."""
    return kb.store.backup(dest)


def probe_freshness(
    kb: KnowledgeBase,
    change: ChangeSet,
    strategies: Mapping[str, Strategy],
    *,
    retrain_seconds: Mapping[str, tuple[float | None, str]] | None = None,
    make_strategy: Callable[[Strategy, KnowledgeBase], Strategy] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Ask ``change``'s questions with each strategy before and after ingesting it into a copy of ``kb``.

    ``retrain_seconds[name] = (seconds, method)`` is the time a closed-book strategy needs to learn a change
    (None: it cannot). ``make_strategy(strategy, scratch_kb)`` rebinds a strategy to the scratch copy
    (default: :meth:`Strategy.rebound`, the same loaded model retrieving from the copy). An answer that fails
    is recorded as ``[error: …]`` and counted in ``errors``; rates are over the answers that did not fail
    (None when none did).
    """
    from ragtune.knowledge_base import KnowledgeBase

    retrain_seconds = retrain_seconds or {}
    missing = [f for f in change.files if f not in kb.documents()]
    if missing:
        raise ConfigError(
            f"change set {change.name!r} edits {', '.join(missing)}, which the knowledge base does not hold "
            "(ingest the corpus from the same root folder as the change set's docs/)"
        )
    with tempfile.TemporaryDirectory(prefix="ragtune-freshness-") as tmp:
        scratch_dir = copy_kb(kb, Path(tmp) / "kb")
        scratch = KnowledgeBase.open(scratch_dir, settings=kb.settings, embedder=kb.embedder)
        try:
            rebind = make_strategy or (lambda s, k: s.rebound(k))
            bound = {name: rebind(s, scratch) for name, s in strategies.items()}
            before = {name: _ask_all(s, change) for name, s in bound.items()}
            if progress:
                progress(f"ingesting change {change.name!r}")
            t = time.perf_counter()
            report = scratch.ingest([change.docs_dir], message=f"freshness probe: {change.name}", progress=False)
            reingest = time.perf_counter() - t
            after = {name: _ask_all(s, change) for name, s in bound.items()}
        finally:
            scratch.close()
    per_strategy = {}
    for name, strategy in bound.items():
        rows = []
        for q, b, a in zip(change.questions, before[name], after[name], strict=True):
            rows.append(
                {
                    "id": q.id,
                    "question": q.question,
                    "before": b,
                    "after": a,
                    "verdict_before": verdict(b, q.old_answer, q.new_answer),
                    "verdict": verdict(a, q.old_answer, q.new_answer),
                }
            )
        ok = [r for r in rows if not (_failed(r["before"]) or _failed(r["after"]))]
        stale = sum(r["verdict"] != "fresh" for r in ok) / len(ok) if ok else None
        old_fact = sum(r["verdict"] == "old-fact" for r in ok) / len(ok) if ok else None
        if stale is None:
            seconds: float | None = None
            failed = next((a for r in rows for a in (r["before"], r["after"]) if _failed(a)), "no questions")
            method = f"not measured: the answers failed ({failed})"
        elif strategy.spec.retrieve:
            seconds = reingest if stale < 1.0 else None
            method = "re-ingest of the edited files, measured" + ("" if stale < 1.0 else " (answers did not change)")
        else:
            seconds, method = retrain_seconds.get(name, (None, "closed book: cannot learn the change without training"))
        per_strategy[name] = {
            "stale_rate": stale,
            "old_fact_rate": old_fact,
            "errors": len(rows) - len(ok),
            "seconds_to_reflect": seconds,
            "method": method,
            "answers": rows,
        }
    return {
        "change": change.name,
        "description": change.description,
        "files": change.files,
        "questions": [q.id for q in change.questions],
        "reingest_seconds": reingest,
        "ingest_report": {"updated": report.updated, "added": report.added, "errors": len(report.errors)},
        "per_strategy": per_strategy,
    }


def _failed(answer: str) -> bool:
    return answer.startswith("[error: ")


def _ask_all(strategy: Strategy, change: ChangeSet) -> list[str]:
    out = []
    for q in change.questions:
        try:
            out.append(strategy.ask(q.question).text)
        except Exception as exc:
            out.append(f"[error: {exc}]")
    return out
