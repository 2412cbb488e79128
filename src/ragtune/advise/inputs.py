"""What ``advise`` decides from: the stated constraints, and measured (or typical) numbers per strategy.

Measurements come from a comparison's ``summary.json``; the keys read are exactly the fields of
:class:`MeasuredStrategy`, under ``"strategies": {name: {...}}`` (see ``docs/advise.md``). Without
measurements, :func:`typical_strategies` supplies documented typical values and the advice says it is an
estimate.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ragtune.advise.cost import PriceSheet, query_cost, setup_cost
from ragtune.errors import ConfigError

BRAND_VOICE = ("none", "nice", "strict")
# Simplest first: ties in quality and cost go to the option with fewer moving parts.
SIMPLICITY = ("base", "rag-extractive", "rag", "ft", "hybrid")
_CHANGE_WORDS = {
    "never": None, "hourly": 1 / 24, "daily": 1.0, "weekly": 7.0, "biweekly": 14.0,
    "monthly": 30.0, "quarterly": 91.0, "yearly": 365.0,
}  # fmt: skip
_NOT_RUN = {"not run", "not_run", "skipped", "failed", "error"}


def parse_change_interval(text: str | float | None) -> float | None:
    """Days between document changes: ``never`` → None, ``weekly`` → 7, ``3`` / ``3d`` → 3, ``12h`` → 0.5."""
    if text is None or isinstance(text, (int, float)):
        return None if text is None else float(text)
    value = text.strip().lower()
    if value in _CHANGE_WORDS:
        return _CHANGE_WORDS[value]
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(d|days?|h|hours?)?", value)
    if m is None or float(m.group(1)) <= 0:
        known = ", ".join(_CHANGE_WORDS)
        raise ConfigError(f"document change interval {text!r}: expected {known}, days (3, 3d) or hours (12h)")
    return float(m.group(1)) / (24 if (m.group(2) or "d").startswith("h") else 1)


@dataclass
class Constraints:
    """The team's situation. ``None`` means not stated (the rules that need it do not fire)."""

    budget_per_month: float | None = None
    queries_per_month: float | None = None
    doc_change_days: float | None = None  # None: documents do not change
    latency_target_ms: float | None = None  # for p95
    brand_voice: str = "none"  # none | nice | strict
    examples_available: int | None = None
    citations_required: bool = False
    amortize_months: float = 12.0  # a setup not repeated for document changes is spread over this long
    max_stale_share: float = 0.1  # share of the time a model may lag behind the documents
    min_quality_gap: float = 0.05  # counts as a real difference when no confidence intervals are known

    def __post_init__(self) -> None:
        if self.brand_voice not in BRAND_VOICE:
            raise ConfigError(f"brand voice {self.brand_voice!r}: expected one of {', '.join(BRAND_VOICE)}")
        for name in ("budget_per_month", "queries_per_month", "doc_change_days", "latency_target_ms"):
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value < 0):
                raise ConfigError(f"{name} = {value!r}: expected a non-negative number")
        if self.examples_available is not None and self.examples_available < 0:
            raise ConfigError(f"examples_available = {self.examples_available}: expected ≥ 0")


RETRIEVER_TUNED_SUFFIXES = ("+tuned-retriever", "+rerank")  # built-in strategies whose retriever was trained


@dataclass
class MeasuredStrategy:
    """One strategy's numbers, as the comparison measured them (or as typical values assumed).

    ``quality`` is the headline correctness in [0, 1] and ``quality_ci`` its (low, high) interval;
    latencies are end to end; ``cost_per_query`` and ``setup_cost`` are dollars from the price sheet;
    ``setup_seconds`` is data preparation + training (or ingest); ``freshness_seconds`` is the time until a
    document change is reflected (re-ingest for retrieval, retraining for a closed-book model);
    ``stale_rate`` the share of changed facts answered with the old value; ``style_score`` the style
    adherence in [0, 1]; ``examples_used`` the training examples. ``retrieval``/``tuned`` say how it works
    (derived from the name for the built-in strategies); ``examples_needed`` is the learning curve's
    estimate of the examples fine-tuning needs to match RAG, when measured. ``model_stale`` says whether a
    tuned strategy's model was trained on data whose sources have changed since (``ragtune models check``;
    None: not known) and ``docs_changed`` how many documents changed since its training version.
    ``groundedness``, ``citation_recall`` and ``retrieval_recall`` (recall@5) say whether a retrieval strategy's
    answers use what it retrieved. ``retriever_tuned`` says its retriever was trained on the team's data (a tuned
    embedder or a trained reranker; derived from the ``+tuned-retriever``/``+rerank`` names). ``facts`` (with
    ``facts_ci``) is the share of answers stating every number of the reference — the strict check beside a
    lenient ``quality`` such as semantic similarity.
    """

    name: str
    quality: float | None = None
    quality_ci: tuple[float, float] | None = None
    citation_precision: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    cost_per_query: float | None = None
    setup_cost: float = 0.0
    setup_seconds: float = 0.0
    freshness_seconds: float | None = None
    stale_rate: float | None = None
    style_score: float | None = None
    examples_used: int = 0
    retrieval: bool | None = None
    tuned: bool | None = None
    examples_needed: int | None = None
    model_stale: bool | None = None
    docs_changed: int | None = None
    groundedness: float | None = None
    citation_recall: float | None = None
    retrieval_recall: float | None = None
    retriever_tuned: bool | None = None
    facts: float | None = None
    facts_ci: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.retrieval is None:
            self.retrieval = self.name not in ("ft", "base")
        if self.tuned is None:
            self.tuned = self.name in ("ft", "hybrid")
        if self.retriever_tuned is None:
            self.retriever_tuned = bool(self.retrieval) and self.name.endswith(RETRIEVER_TUNED_SUFFIXES)

    @property
    def family(self) -> str:
        """RAG, fine-tuning, hybrid, or closed book (neither)."""
        if self.tuned:
            return "hybrid" if self.retrieval else "fine-tuning"
        return "RAG" if self.retrieval else "closed book"

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_FIELDS = {f.name: f for f in dataclasses.fields(MeasuredStrategy)}


def _value(name: str, key: str, raw: Any) -> Any:
    where = f"summary.json strategies.{name}.{key}"
    if raw is None:
        return None
    if key in ("retrieval", "tuned", "model_stale", "retriever_tuned"):
        if not isinstance(raw, bool):
            raise ConfigError(f"{where} = {raw!r}: expected true or false")
        return raw
    if key in ("quality_ci", "facts_ci"):
        pair = [raw.get("low"), raw.get("high")] if isinstance(raw, Mapping) else raw
        if not isinstance(pair, (list, tuple)) or len(pair) != 2 or not all(isinstance(x, (int, float)) for x in pair):
            raise ConfigError(f'{where} = {raw!r}: expected [low, high] or {{"low", "high"}}')
        return (float(pair[0]), float(pair[1]))
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise ConfigError(f"{where} = {raw!r}: expected a number")
    return int(raw) if key in ("examples_used", "examples_needed", "docs_changed") else float(raw)


def load_measurements(summary: Mapping[str, Any]) -> dict[str, MeasuredStrategy]:
    """The strategies a comparison ran, from ``summary["strategies"]`` (``{name: {field: value}}``).

    Entries with ``"status"`` of ``not run``/``skipped``/``failed``/``error`` are left out; unknown keys
    are ignored (the summary holds more than advise reads); a top-level ``examples_needed`` (learning
    curve) applies to strategies that do not state their own.
    """
    table = summary.get("strategies")
    if not isinstance(table, Mapping) or not table:
        raise ConfigError('summary.json: expected a non-empty "strategies" object ({name: {...}})')
    needed = summary.get("examples_needed")
    out = {}
    for name, entry in table.items():
        if not isinstance(entry, Mapping):
            raise ConfigError(f"summary.json strategies.{name}: expected an object")
        if str(entry.get("status", "ok")).lower() in _NOT_RUN:
            continue
        values = {k: _value(name, k, v) for k, v in entry.items() if k in _FIELDS and k != "name"}
        strategy = MeasuredStrategy(name=str(name), **values)
        if strategy.examples_needed is None and strategy.tuned and isinstance(needed, (int, float)):
            strategy.examples_needed = int(needed)
        out[str(name)] = strategy
    if not out:
        raise ConfigError("summary.json: no strategy was run")
    return out


# Typical values when nothing was measured: the figures commonly quoted in RAG-vs-fine-tuning articles, on a
# self-hosted model. They are assumptions (docs/advise.md), shown with the advice; measure to replace them.
TYPICAL: dict[str, dict[str, Any]] = {
    "rag": dict(quality=0.70, quality_ci=(0.60, 0.80), latency_p50_ms=1200.0, latency_p95_ms=2000.0,
                tokens_in=1500, tokens_out=150, seconds=2.0, retrieval_seconds=0.05, setup_seconds=600.0,
                freshness_seconds=60.0, style_score=0.5, examples_needed=0),
    "ft": dict(quality=0.50, quality_ci=(0.40, 0.60), latency_p50_ms=500.0, latency_p95_ms=800.0,
               tokens_in=150, tokens_out=150, seconds=1.0, retrieval_seconds=0.0, setup_seconds=5400.0,
               freshness_seconds=5400.0, style_score=0.8, examples_needed=1000),
    "hybrid": dict(quality=0.72, quality_ci=(0.62, 0.82), latency_p50_ms=1200.0, latency_p95_ms=2000.0,
                   tokens_in=1500, tokens_out=150, seconds=2.0, retrieval_seconds=0.05, setup_seconds=6000.0,
                   freshness_seconds=60.0, style_score=0.8, examples_needed=100),
}  # fmt: skip


def typical_strategies(
    sheet: PriceSheet | None = None, model_spec: str = "hf:self-hosted"
) -> dict[str, MeasuredStrategy]:
    """rag, ft and hybrid with :data:`TYPICAL` values, priced with ``sheet`` for ``model_spec``."""
    sheet = sheet or PriceSheet()
    out = {}
    for name, t in TYPICAL.items():
        per_query = query_cost(
            model_spec,
            t["tokens_in"],
            t["tokens_out"],
            t["seconds"],
            retrieval_seconds=t["retrieval_seconds"],
            sheet=sheet,
        )
        setup = setup_cost(t["setup_seconds"], sheet=sheet)
        out[name] = MeasuredStrategy(
            name=name, quality=t["quality"], quality_ci=t["quality_ci"], latency_p50_ms=t["latency_p50_ms"],
            latency_p95_ms=t["latency_p95_ms"], cost_per_query=per_query, setup_cost=setup.dollars,
            setup_seconds=t["setup_seconds"], freshness_seconds=t["freshness_seconds"], style_score=t["style_score"],
            examples_needed=t["examples_needed"],
        )  # fmt: skip
    return out
