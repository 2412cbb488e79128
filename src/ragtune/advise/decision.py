"""``advise``: run the rules over the strategies and return a recommendation with its reasons,
the rejected alternatives, monthly costs, and the break-even volume of fine-tuning against RAG."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragtune.advise.cost import PriceSheet
from ragtune.advise.inputs import (
    SIMPLICITY,
    TYPICAL,
    Constraints,
    MeasuredStrategy,
    load_measurements,
    typical_strategies,
)
from ragtune.advise.rules import CAVEATS, CHOICES, REQUIREMENTS, Finding, Situation
from ragtune.errors import ConfigError

DAYS_PER_MONTH = 30.44
TYPICAL_QUERIES_PER_MONTH = 10_000.0


def retrains_per_month(m: MeasuredStrategy, c: Constraints) -> float:
    """How often the setup is paid per month: a closed-book fine-tuned model is retrained on every document
    change; everything else (index built once and updated incrementally, a hybrid's voice training) is
    spread over ``amortize_months``."""
    if m.tuned and not m.retrieval and c.doc_change_days:
        return DAYS_PER_MONTH / c.doc_change_days
    return 1.0 / c.amortize_months


def fixed_per_month(m: MeasuredStrategy, c: Constraints) -> float:
    """Setup dollars per month: setup cost × retrainings per month."""
    return m.setup_cost * retrains_per_month(m, c)


def break_even_volume(rag_per_query: float, ft_per_query: float, rag_fixed: float, ft_fixed: float) -> float | None:
    """Queries/month above which fine-tuning's total monthly cost is below RAG's.

    Solves ``ft_fixed + ft_per_query·Q = rag_fixed + rag_per_query·Q``: Q* = (ft_fixed − rag_fixed) /
    (rag_per_query − ft_per_query). ``None`` when fine-tuning is not cheaper per query (it never catches up);
    0 when it is cheaper at any volume.
    """
    if rag_per_query <= ft_per_query:
        return None
    return max(0.0, (ft_fixed - rag_fixed) / (rag_per_query - ft_per_query))


@dataclass
class BreakEven:
    """Break-even of ``ft`` against ``rag`` (strategy names) with the numbers it came from."""

    rag: str
    ft: str
    rag_per_query: float
    ft_per_query: float
    rag_fixed_per_month: float
    ft_fixed_per_month: float
    queries_per_month: float | None  # None: fine-tuning never becomes cheaper

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Recommendation:
    """The advice: the strategy to use, why (the rules that fired), why not the others, costs, break-even."""

    strategy: str
    family: str
    estimate: bool
    reasons: list[Finding] = field(default_factory=list)
    rejected: dict[str, list[str]] = field(default_factory=dict)
    monthly_cost: dict[str, float | None] = field(default_factory=dict)
    break_even: BreakEven | None = None
    assumptions: list[str] = field(default_factory=list)
    strategies: dict[str, MeasuredStrategy] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "family": self.family,
            "estimate": self.estimate,
            "reasons": [f.as_dict() for f in self.reasons],
            "rejected": self.rejected,
            "monthly_cost": self.monthly_cost,
            "break_even": self.break_even.as_dict() if self.break_even else None,
            "assumptions": self.assumptions,
            "strategies": {n: m.as_dict() for n, m in self.strategies.items()},
        }


def load_comparisons(summary: Mapping[str, Any]) -> dict[tuple[str, str], Mapping[str, Any]]:
    """Paired quality differences from ``summary["comparisons"]`` (a list of
    :meth:`ragtune.evaluate.metrics.bootstrap.Difference.as_dict` objects, with ``"metric": "quality"``)."""
    items = summary.get("comparisons") or []
    if not isinstance(items, list):
        raise ConfigError('summary.json "comparisons": expected a list of {"a", "b", "diff", "significant", ...}')
    out = {}
    for item in items:
        if isinstance(item, Mapping) and item.get("metric", "quality") == "quality" and "a" in item and "b" in item:
            out[(str(item["a"]), str(item["b"]))] = item
    return out


def read_summary(results_dir: Path) -> dict[str, Any]:
    """``results_dir/summary.json`` as a dict (a clear error when missing or not JSON)."""
    path = Path(results_dir) / "summary.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found (run `ragtune compare --out {results_dir}` first)") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    return data


def _better_fn(
    strategies: Mapping[str, MeasuredStrategy], comparisons: Mapping[tuple[str, str], Mapping[str, Any]], gap: float
) -> Any:
    def better(a: str, b: str) -> bool:
        """a's quality significantly above b's: paired bootstrap if measured, else disjoint intervals,
        else a gap of at least ``min_quality_gap``."""
        for (x, y), sign in (((a, b), 1), ((b, a), -1)):
            if (x, y) in comparisons:
                item = comparisons[(x, y)]
                return bool(item.get("significant")) and sign * float(item.get("diff") or 0.0) > 0
        qa, qb = strategies[a].quality, strategies[b].quality
        if qa is None:
            return False
        if qb is None:
            return True
        ca, cb = strategies[a].quality_ci, strategies[b].quality_ci
        if ca is not None and cb is not None:
            return ca[0] > cb[1]
        return qa - qb >= gap

    return better


def advise(
    constraints: Constraints,
    strategies: Mapping[str, MeasuredStrategy] | None = None,
    *,
    comparisons: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
    sheet: PriceSheet | None = None,
    model_spec: str = "hf:self-hosted",
) -> Recommendation:
    """Recommend a strategy. Without ``strategies`` the typical values of :data:`TYPICAL` are used (priced
    with ``sheet`` for ``model_spec``) and the recommendation is marked as an estimate."""
    estimate = strategies is None
    table = dict(typical_strategies(sheet, model_spec) if strategies is None else strategies)
    if not table:
        raise ConfigError("advise: no strategies to choose from")
    c = constraints
    assumptions: list[str] = []
    if estimate:
        assumptions.append(
            "nothing measured: typical values assumed (RAG quality 0.70, fine-tuned closed-book 0.50, hybrid 0.72; "
            f"p95 latency RAG {TYPICAL['rag']['latency_p95_ms']:.0f} ms, ft {TYPICAL['ft']['latency_p95_ms']:.0f} ms; "
            f"training {TYPICAL['ft']['setup_seconds'] / 3600:.1f} h; ft needs ~{TYPICAL['ft']['examples_needed']} "
            "examples) — run `ragtune compare` to measure them on your data"
        )
    queries = c.queries_per_month
    if queries is None:
        queries = TYPICAL_QUERIES_PER_MONTH
        assumptions.append(f"queries per month not stated: {queries:,.0f} assumed for monthly costs")
    if c.doc_change_days is None:
        assumptions.append(f"documents assumed not to change: setup costs spread over {c.amortize_months:g} months")
    monthly = {
        n: (fixed_per_month(m, c) + m.cost_per_query * queries) if m.cost_per_query is not None else None
        for n, m in table.items()
    }
    order = sorted(table, key=lambda n: SIMPLICITY.index(n) if n in SIMPLICITY else len(SIMPLICITY))
    situation = Situation(c, table, order, monthly, _better_fn(table, comparisons or {}, c.min_quality_gap))
    reasons: list[Finding] = []
    rejected: dict[str, list[str]] = {}

    def apply(finding: Finding | None) -> None:
        if finding is None:
            return
        reasons.append(finding)
        for name, why in finding.excluded.items():
            rejected.setdefault(name, []).append(f"{finding.rule}: {why}")
            situation.remaining.remove(name)

    for rule in REQUIREMENTS:
        apply(rule(situation))
    chosen = None
    for choice in CHOICES:
        finding = choice(situation)
        apply(finding)
        if finding is not None and finding.chosen:
            chosen = finding.chosen
            break
    assert chosen is not None  # quality_tie_prefers_cheaper always chooses
    for caveat in CAVEATS:
        apply(caveat(situation))
    for name in situation.remaining:
        if name == chosen:
            continue
        if situation.better(chosen, name):
            why = f"quality {table[name].quality:.2f} significantly below {chosen}'s {table[chosen].quality:.2f}"
        else:
            cost, mine = monthly.get(name), monthly.get(chosen)
            money = f"${cost:,.2f}/month vs ${mine:,.2f}" if cost is not None and mine is not None else "cost unknown"
            why = f"quality not significantly different; {money}; {chosen} is cheaper or simpler"
        rejected.setdefault(name, []).append(why)
    return Recommendation(
        strategy=chosen,
        family=table[chosen].family,
        estimate=estimate,
        reasons=reasons,
        rejected=rejected,
        monthly_cost=monthly,
        break_even=_break_even(table, c, chosen),
        assumptions=assumptions,
        strategies=table,
    )


def _break_even(table: Mapping[str, MeasuredStrategy], c: Constraints, chosen: str) -> BreakEven | None:
    rags = [m for m in table.values() if m.retrieval and not m.tuned and m.cost_per_query is not None]
    fts = [m for m in table.values() if m.tuned and not m.retrieval and m.cost_per_query is not None]
    if not rags or not fts:
        return None
    rag = table[chosen] if table[chosen] in rags else max(rags, key=lambda m: m.quality or -math.inf)
    ft = table["ft"] if "ft" in table and table["ft"] in fts else fts[0]
    assert rag.cost_per_query is not None and ft.cost_per_query is not None
    rag_fixed, ft_fixed = fixed_per_month(rag, c), fixed_per_month(ft, c)
    q = break_even_volume(rag.cost_per_query, ft.cost_per_query, rag_fixed, ft_fixed)
    return BreakEven(rag.name, ft.name, rag.cost_per_query, ft.cost_per_query, rag_fixed, ft_fixed, q)


def advise_from_results(
    constraints: Constraints,
    results_dir: Path | None,
    *,
    sheet: PriceSheet | None = None,
    model_spec: str = "hf:self-hosted",
) -> Recommendation:
    """:func:`advise` on a comparison's ``summary.json`` (or on typical values when ``results_dir`` is None)."""
    if results_dir is None:
        return advise(constraints, sheet=sheet, model_spec=model_spec)
    summary = read_summary(results_dir)
    return advise(constraints, load_measurements(summary), comparisons=load_comparisons(summary))
