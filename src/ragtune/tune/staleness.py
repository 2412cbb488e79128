"""Is a fine-tuned model stale? What changed in the knowledge base since its training data was built from it.

A registered model records the KB version its data came from (``kb_version``) and the data file
(``data_path``, ``data_sha256``). :func:`check_model` compares that version with the head: the documents
added, updated and removed since, and the training examples whose source no longer holds. An example is
traced through its ``metadata``: with a ``chunk_id``, it is affected when that chunk is no longer in its
document at the head (the document was edited there, or removed); with only a ``doc_id``, when the document
was updated or removed after the example's ``kb_version``. Examples with neither cannot be traced.

Verdict: **stale** when some training example is affected, or when documents were updated or removed and the
data cannot rule it out (the file is gone, or some examples cannot be traced); **fresh** otherwise (documents
only added since are noted: the model has not seen them); **unknown** when the model has no KB version or
one this KB does not have.

:func:`warn_if_stale` is what answering calls when it resolves ``ft:NAME``: a logged warning, once per model
per process, and never an error. This module loads no model and imports no training stack.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragtune.errors import DatasetError
from ragtune.kb.store import Store
from ragtune.tune.data.dataset import ChatExample, iter_chat_jsonl
from ragtune.tune.registry import ModelRegistry, RegisteredModel

if TYPE_CHECKING:
    from ragtune.knowledge_base import KnowledgeBase

log = logging.getLogger(__name__)

FRESH, STALE, UNKNOWN = "fresh", "stale", "unknown"
_QUESTION_CHARS = 200
_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


@dataclass
class AffectedExample:
    """A training example whose source changed: its line in the data file, where it came from, and why."""

    line: int
    doc_id: str | None
    chunk_id: str | None
    kind: str | None
    question: str
    reason: str  # "chunk changed" | "document removed" | "document updated"


@dataclass
class StalenessReport:
    """What changed since ``model`` was trained, and whether to retrain (:attr:`verdict`, :attr:`retrain`).

    ``data_status``: ``ok``, ``changed`` (the file's sha256 differs from the registered one: the examples
    read may not be those trained on), ``missing``, ``unreadable``, or ``none`` (no data path registered).
    """

    model: str
    trained_version: int | None
    head: int
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    data_path: str | None = None
    data_status: str = "none"
    examples: int = 0
    untraced: int = 0
    affected: list[AffectedExample] = field(default_factory=list)
    verdict: str = UNKNOWN
    retrain: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def stale(self) -> bool:
        return self.verdict == STALE

    @property
    def docs_changed(self) -> int:
        """Documents added, updated or removed since the training version."""
        return len(self.added) + len(self.updated) + len(self.removed)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["stale"] = self.stale
        out["docs_changed"] = self.docs_changed
        out["affected_count"] = len(self.affected)
        return out


def _store(kb: KnowledgeBase | Store) -> Store:
    return kb if isinstance(kb, Store) else kb.store


def check_model(kb: KnowledgeBase | Store, model: RegisteredModel) -> StalenessReport:
    """Compare ``model``'s training version with the head of ``kb`` (a KnowledgeBase or its Store)."""
    store = _store(kb)
    head = store.head()
    report = StalenessReport(model.name, model.kb_version, head, data_path=model.data_path)
    version = model.kb_version
    if version is None:
        report.retrain = (
            "the model records no KB version (its training data was not built from the knowledge base, "
            "or its examples carry no metadata.kb_version), so what changed since cannot be told"
        )
        return report
    if not 1 <= version <= head:
        report.retrain = (
            f"the model was trained on KB version {version}, which this knowledge base does not have "
            f"(it has versions 1..{head}); was it trained on another one?"
        )
        return report
    diff = store.diff(version, head)
    report.added, report.updated, report.removed = diff.added, diff.changed, diff.removed
    examples = _read_data(model, report)
    if examples is not None:
        report.examples = len(examples)
        _trace(store, version, examples, report)
    _decide(report)
    return report


def _read_data(model: RegisteredModel, report: StalenessReport) -> list[ChatExample] | None:
    """The training examples (None when unavailable; ``report.data_status`` and notes say why)."""
    if not model.data_path:
        report.notes.append("no training data file is registered (trained on in-memory examples)")
        return None
    path = Path(model.data_path)
    if not path.is_file():
        report.data_status = "missing"
        report.notes.append(f"the training data {path} no longer exists")
        return None
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        examples = [raw.example for raw in iter_chat_jsonl(path) if raw.example is not None]
    except (OSError, ValueError, DatasetError) as exc:  # ValueError: not UTF-8
        report.data_status = "unreadable"
        report.notes.append(f"the training data {path} cannot be read: {exc}")
        return None
    if model.data_sha256 and digest != model.data_sha256:
        report.data_status = "changed"
        report.notes.append(
            f"the training data {path} changed since training (sha256 differs): the examples checked may not be "
            "the ones the model learned"
        )
    else:
        report.data_status = "ok"
    return examples


def _trace(store: Store, version: int, examples: list[ChatExample], report: StalenessReport) -> None:
    """Fill ``report.affected`` and ``report.untraced`` from the examples' metadata."""
    head = report.head
    live_now = store.live_docs(head)
    by_version: dict[int, dict[str, int]] = {}
    traced_docs = sorted({str(e.metadata["doc_id"]) for e in examples if e.metadata.get("doc_id")})
    chunks_now = store.live_chunks(traced_docs, head)
    anywhere: set[str] | None = None  # every chunk live at head: only for examples without a doc id
    for example in examples:
        meta = example.metadata
        doc_id = str(meta["doc_id"]) if meta.get("doc_id") else None
        chunk_id = str(meta["chunk_id"]) if meta.get("chunk_id") else None
        reason = None
        if chunk_id is not None and doc_id is not None:
            if doc_id not in live_now:
                reason = "document removed"
            elif chunk_id not in chunks_now.get(doc_id, set()):
                reason = "chunk changed"
        elif chunk_id is not None:
            if anywhere is None:
                anywhere = set().union(*store.live_chunks(None, head).values())
            if chunk_id not in anywhere:
                reason = "chunk changed"
        elif doc_id is not None:
            at = meta.get("kb_version")
            at = at if isinstance(at, int) and not isinstance(at, bool) and 1 <= at <= head else version
            if at not in by_version:
                by_version[at] = store.live_docs(at)
            if doc_id not in live_now:
                reason = "document removed"
            elif by_version[at].get(doc_id) != live_now[doc_id]:
                reason = "document updated"
        else:
            report.untraced += 1
        if reason is not None:
            kind = meta.get("kind")
            report.affected.append(
                AffectedExample(
                    example.line, doc_id, chunk_id, None if kind is None else str(kind), _question(example), reason
                )
            )


def _question(example: ChatExample) -> str:
    users = example.turns("user")
    text = " ".join((users[-1] if users else "").split())
    return text if len(text) <= _QUESTION_CHARS else text[: _QUESTION_CHARS - 1] + "…"


def _decide(report: StalenessReport) -> None:
    since = f"KB v{report.trained_version}"
    changed = len(report.updated) + len(report.removed)
    added = f"; {len(report.added)} document(s) added since are unknown to it" if report.added else ""
    if report.affected:
        n = len(report.affected)
        of = f" of {report.examples}" if report.examples else ""
        report.verdict = STALE
        report.retrain = (
            f"{n}{of} training examples come from chunks that changed or vanished since {since}: their answers may "
            f"now be wrong; retrain (or answer with a retrieval strategy){added}"
        )
    elif not report.docs_changed:
        report.verdict = FRESH
        report.retrain = f"no document changed since {since}; no need to retrain"
    elif changed and report.data_status not in ("ok", "changed"):
        report.verdict = STALE
        report.retrain = (
            f"{changed} document(s) updated or removed since {since}, and without the training data it cannot be "
            f"told which examples they affect; retrain{added}"
        )
    elif changed and report.untraced:
        report.verdict = STALE
        report.retrain = (
            f"{changed} document(s) updated or removed since {since}, and {report.untraced} of {report.examples} "
            f"training examples carry no doc_id/chunk_id to check; retrain if they came from those documents{added}"
        )
    else:
        report.verdict = FRESH
        what = f"{changed} document(s) updated or removed since {since}, but " if changed else ""
        tail = "; retrain to teach it them, or answer them with retrieval" if report.added else "; no need to retrain"
        report.retrain = f"{what}no training example comes from a changed chunk{added}{tail}"


def check_registered(kb: KnowledgeBase | Store, name: str) -> StalenessReport:
    """:func:`check_model` for the model registered as ``name`` (``ft:`` allowed) beside ``kb``."""
    store = _store(kb)
    with ModelRegistry.open(store.root) as registry:
        model = registry.get(name)
    return check_model(store, model)


def warn_if_stale(kb: KnowledgeBase | Store, spec: str) -> StalenessReport | None:
    """Log a warning when the model behind ``ft:NAME`` is stale, once per model and KB per process.

    Never raises: a failed check is logged at debug level and answering goes on.
    """
    store = _store(kb)
    key = (str(Path(store.root).resolve()), spec)
    with _warned_lock:
        if key in _warned:
            return None
        _warned.add(key)
    try:
        report = check_registered(store, spec)
    except Exception as exc:  # the answer matters more than the check
        log.debug("staleness check of %s failed: %s: %s", spec, type(exc).__name__, exc)
        return None
    if report.stale:
        log.warning(
            "warning: %s may be stale: %s (details: ragtune models check %s)", spec, report.retrain, report.model
        )
    return report
