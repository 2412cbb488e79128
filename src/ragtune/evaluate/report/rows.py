"""What the comparison table says: its sections, rows, formatted values and the method behind each row.

Organised like the familiar RAG-vs-fine-tuning comparison (Setup & cost, Data, Performance, Customization,
Implementation, Maintenance), filled with the numbers of one ``ragtune compare`` run. The terminal table and
both report files render these same :class:`Section` objects. Every figure is read from summary.json, never
recomputed; the one conversion is cost per query → per 1,000 queries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ragtune.evaluate.report.format import (
    DASH,
    fmt_bytes,
    fmt_count,
    fmt_diff,
    fmt_money,
    fmt_ms,
    fmt_p,
    fmt_pair,
    fmt_pct,
    fmt_score,
    fmt_seconds,
    metric,
    metric_text,
    quality_text,
    strategies_run,
)

Entry = dict[str, Any]


@dataclass(frozen=True)
class Row:
    """One line of the table: a label, one formatted value per strategy, and how it was measured."""

    label: str
    values: dict[str, str]
    note: str
    methods: dict[str, str] = field(default_factory=dict)  # per-strategy method, where it differs by strategy


@dataclass(frozen=True)
class Section:
    """A heading of the table and its rows."""

    title: str
    rows: list[Row]


class _Builder:
    """Collects rows for the strategies that ran, dropping rows with nothing measured in any column."""

    def __init__(self, summary: dict[str, Any]) -> None:
        self.summary = summary
        self.names = strategies_run(summary)
        self.entries: dict[str, Entry] = {n: summary["strategies"][n] for n in self.names}
        self.freshness = summary.get("freshness") or {}
        self.fresh_per = self.freshness.get("per_strategy") or {}

    def row(self, label: str, note: str, value: Callable[[str, Entry], str], method: str | None = None) -> Row | None:
        values = {n: value(n, e) for n, e in self.entries.items()}
        if all(v == DASH for v in values.values()):
            return None
        methods = {}
        if method:
            methods = {n: str(e[method]) for n, e in self.entries.items() if e.get(method)}
        return Row(label, values, note, methods)

    def fresh(self, name: str, key: str) -> Any:
        """A freshness figure: the strategy's own field, else the freshness probe's per-strategy entry."""
        entry = self.entries[name]
        field_name = {"seconds_to_reflect": "freshness_seconds"}.get(key, key)
        if entry.get(field_name) is not None:
            return entry[field_name]
        return (self.fresh_per.get(name) or {}).get(key)


_LINEAGE_PARTS = (("base", "base {}"), ("run_id", "run {}"), ("data_path", "data {}"), ("kb_version", "KB v{}"))


def _lineage_text(lineage: dict[str, Any]) -> str:
    """A registered model's lineage in a line: ``model ft-1 (base hf:tiny, run r1, data style.jsonl, KB v2)``."""
    details = [fmt.format(lineage[key]) for key, fmt in _LINEAGE_PARTS if lineage.get(key) is not None]
    head = f"model {lineage['model']}" if lineage.get("model") else "registered model"
    return f"{head} ({', '.join(details)})" if details else head


def _has_metric(e: Entry, *names: str) -> bool:
    return any(metric(e, name) for name in names)


def _metric_of(*names: str) -> Callable[[str, Entry], str]:
    """The first of ``names`` (current name, then older ones) that the strategy has, formatted."""

    def value(n: str, e: Entry) -> str:
        return next((metric_text(e, name) for name in names if metric(e, name)), DASH)

    return value


def _stage_latency(stage: str) -> Callable[[str, Entry], str]:
    def value(n: str, e: Entry) -> str:
        found = (e.get("latency_ms") or {}).get(stage) or {}
        return fmt_pair(fmt_ms(found.get("p50")), fmt_ms(found.get("p95")))

    return value


def _section(title: str, rows: list[Row | None]) -> Section:
    kept = [r for r in rows if r is not None]
    if not kept:
        kept = [Row("(not measured in this run)", {}, "")]
    return Section(title, kept)


def build_sections(summary: dict[str, Any]) -> list[Section]:
    """The comparison table of one run, section by section."""
    b = _Builder(summary)
    lc = summary.get("learning_curve") or {}
    kb = summary.get("kb") or {}
    qm = summary.get("quality_metric") or "quality"
    n_changed = len(b.freshness.get("questions") or [])
    recall_names = sorted(
        {k for e in b.entries.values() for k in (e.get("metrics") or {}) if k.startswith("recall@")},
        key=lambda k: (len(k), k),  # recall@5 before recall@10
    )

    def closed_book(name: str, e: Entry) -> str:
        # What the model knows without retrieval: its own quality when closed book, else the quality of the
        # closed-book strategy that runs the same generator and adapter.
        if not e.get("retrieve"):
            return quality_text(e)
        for other, o in b.entries.items():
            same_model = (o.get("generator"), o.get("adapter")) == (e.get("generator"), e.get("adapter"))
            if other != name and not o.get("retrieve") and same_model and o.get("quality") is not None:
                return f"{quality_text(o)} ({other})"
        return DASH

    def examples_to_match(name: str, e: Entry) -> str:
        if lc.get("strategy") != name:
            return DASH
        found = lc.get("examples_to_match")
        return "not reached by the fit" if found is None and lc.get("points") else fmt_count(found)

    def source_updates(name: str, e: Entry) -> str:
        probed = b.fresh_per.get(name) or {}
        if probed.get("method"):
            return str(probed["method"])
        if e.get("freshness_method") and e.get("freshness_seconds") is not None:
            return str(e["freshness_method"])
        if e.get("retrieve"):
            return "re-ingest the changed files (not measured)"
        return "retrain the model (not measured)" if e.get("adapter") else "wait for a new base model"

    def version_control(name: str, e: Entry) -> str:
        parts = []
        if e.get("retrieve") and kb.get("version") is not None:
            parts.append(f"KB v{kb['version']}")
        if e.get("adapter"):
            parts.append(f"adapter {e['adapter']}")
        lineage = e.get("lineage")
        if isinstance(lineage, dict) and lineage:
            parts.append(_lineage_text(lineage))
        elif lineage:
            parts.append(str(lineage))
        if not parts and e.get("generator"):
            parts.append(f"model {e['generator']}")
        return "; ".join(parts) or DASH

    setup = _section(
        "Setup & cost",
        [
            b.row(
                "Initial investment",
                "data preparation + training time × $/hour",
                lambda n, e: fmt_pair(fmt_money(e.get("setup_cost")), fmt_seconds(e.get("setup_seconds"))),
                "setup_method",
            ),
            b.row(
                "Cost per query",
                "mean over the eval questions, from the price sheet",
                lambda n, e: fmt_money(e.get("cost_per_query")),
                "cost_method",
            ),
            b.row(
                "Cost per 1,000 queries",
                "cost per query × 1,000",
                lambda n, e: fmt_money(None if e.get("cost_per_query") is None else e["cost_per_query"] * 1000),
            ),
        ],
    )
    data = _section(
        "Data",
        [
            b.row(
                "Freshness: time to reflect a change",
                "from applying the change set until answers reflect it (re-ingest or retraining)",
                lambda n, e: fmt_seconds(b.fresh(n, "seconds_to_reflect")),
                "freshness_method",
            ),
            b.row(
                "Freshness: stale answers after the change",
                f"share of the {n_changed} changed questions not answered with the new fact"
                if n_changed
                else "share of changed questions not answered with the new fact",
                lambda n, e: fmt_pct(b.fresh(n, "stale_rate")),
            ),
            b.row(
                "Volume needed: examples used",
                "training examples the strategy was built from",
                lambda n, e: fmt_count(e.get("examples_used")),
            ),
            b.row(
                f"Volume needed: examples to match {(lc.get('reference') or {}).get('strategy', 'the reference')}",
                str(lc.get("method") or "learning curve"),
                examples_to_match,
            ),
        ],
    )
    perf_rows: list[Row | None] = [
        b.row(f"Answer quality ({qm})", f"mean {qm} per question, 95% bootstrap CI", lambda n, e: quality_text(e)),
        b.row("Exact match", "SQuAD v1.1 normalisation, vs the reference answer", lambda n, e: metric_text(e, "em")),
        b.row("Token F1", "SQuAD v1.1 token overlap with the reference", lambda n, e: metric_text(e, "f1")),
        b.row(
            "Facts stated",
            "answers stating every number of the reference (questions whose reference has one)",
            lambda n, e: metric_text(e, "facts", with_ci=True),
        ),
        b.row("LLM judge", "judge model's grade, scaled to 0–1", lambda n, e: metric_text(e, "judge")),
        b.row(
            "Citation precision",
            "share of cited documents that are reference sources",
            lambda n, e: metric_text(e, "citation_precision"),
        ),
        b.row("Citation recall", "share of reference sources cited", lambda n, e: metric_text(e, "citation_recall")),
        b.row(
            "Groundedness",
            "share of answer sentences supported by the cited passages",
            lambda n, e: metric_text(e, "groundedness"),
        ),
        b.row(
            "Declines unanswerable questions",
            "share of unanswerable questions declined",
            _metric_of("correct_decline", "decline_correct"),
        ),
        b.row(
            "False declines",
            "share of answerable questions declined (lower is better)",
            lambda n, e: metric_text(e, "false_decline"),
        ),
    ]
    for name in recall_names:
        k = name.split("@", 1)[1]
        perf_rows.append(
            b.row(
                f"Retrieval {name}",
                f"reference sources in the top {k} retrieved",
                _metric_of(name),
            )
        )
    perf_rows += [
        b.row("Retrieval MRR", "reciprocal rank of the first reference source", lambda n, e: metric_text(e, "mrr")),
        b.row("Retrieval nDCG@10", "graded ranking quality of the top 10", lambda n, e: metric_text(e, "ndcg@10")),
        b.row(
            "Latency end to end",
            "per question, p50 / p95",
            lambda n, e: fmt_pair(fmt_ms(e.get("latency_p50_ms")), fmt_ms(e.get("latency_p95_ms"))),
        ),
    ]
    stage_names = sorted({k for e in b.entries.values() for k in (e.get("latency_ms") or {}) if k != "total"})
    for stage in stage_names:
        perf_rows.append(
            b.row(
                f"Latency: {stage}",
                "per question, p50 / p95",
                _stage_latency(stage),
            )
        )
    perf_rows += [
        b.row(
            "Scalability: index size",
            f"search index on disk (KB store: {fmt_bytes(kb.get('db_bytes'))}, {fmt_count(kb.get('chunks'))} chunks)",
            lambda n, e: fmt_bytes(kb.get("index_bytes")) if e.get("retrieve") else DASH,
        ),
        b.row("Scalability: memory", "model weights held in memory", lambda n, e: fmt_bytes(e.get("memory_bytes"))),
        b.row(
            "Scalability: tokens per query",
            "mean tokens in / out",
            lambda n, e: fmt_pair(fmt_count(e.get("tokens_in_mean")), fmt_count(e.get("tokens_out_mean"))),
        ),
    ]
    custom = _section(
        "Customization",
        [
            b.row(
                "Style / tone",
                "similarity to the brand-voice examples",
                lambda n, e: (
                    _metric_of("style_similarity", "style")(n, e)
                    if _has_metric(e, "style_similarity", "style")
                    else fmt_score(e.get("style_score"))
                ),
            ),
            b.row("Format rules passed", "share of configured format rules met", _metric_of("style_rules", "format")),
            b.row("Domain expertise (closed book)", f"{qm} without retrieval, same model", closed_book),
        ],
    )
    impl = _section(
        "Implementation",
        [
            b.row(
                "Setup time",
                "wall time of data preparation + training (method: see Initial investment)",
                lambda n, e: fmt_seconds(e.get("setup_seconds")),
            )
        ],
    )
    maint = _section(
        "Maintenance",
        [
            b.row("Source updates", "how a changed document reaches the answers", source_updates),
            b.row("Version control", "what each answer can be traced to", version_control),
        ],
    )
    return [setup, data, _section("Performance", perf_rows), custom, impl, maint]


DIFFERENCE_HEADER = ["A", "B", "Metric", "A − B", "95% CI", "p", "Verdict"]


def difference_rows(summary: dict[str, Any]) -> list[list[str]]:
    """One row per paired comparison in ``comparisons``; differences whose CI spans 0 are 'not significant'."""
    rows = []
    for c in summary.get("comparisons") or []:
        low, high = c.get("ci_low"), c.get("ci_high")
        ci = DASH if low is None or high is None else f"[{fmt_diff(low)}, {fmt_diff(high)}]"
        verdict = {True: "significant", False: "not significant"}.get(c.get("significant"), DASH)
        names = [str(c.get(k, DASH)) for k in ("a", "b", "metric")]
        rows.append([*names, fmt_diff(c.get("diff")), ci, fmt_p(c.get("p_value")), verdict])
    return rows


def key_numbers(summary: dict[str, Any]) -> dict[str, Any]:
    """The headline figures of a run, as raw numbers from summary.json (for ``--json``)."""
    fields = (
        "status", "reason", "kind", "quality", "quality_ci", "latency_p50_ms", "latency_p95_ms", "cost_per_query",
        "setup_cost", "setup_seconds", "examples_used", "freshness_seconds", "stale_rate", "tokens_in_mean",
        "tokens_out_mean",
    )  # fmt: skip
    lc = summary.get("learning_curve") or {}
    return {
        "quality_metric": summary.get("quality_metric"),
        "eval": summary.get("eval"),
        "strategies": {n: {k: s.get(k) for k in fields} for n, s in summary["strategies"].items()},
        "comparisons": summary.get("comparisons") or [],
        "examples_to_match": lc.get("examples_to_match") if lc else None,
        "advice": summary.get("advice"),
    }
