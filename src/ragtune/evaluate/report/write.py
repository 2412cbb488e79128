"""``report.md`` and a self-contained ``report.html`` (with charts) from a ``ragtune compare`` results directory.

:func:`write_report` reads ``DIR/summary.json`` and the per-strategy ``DIR/<strategy>.jsonl`` records and
writes ``DIR/charts/*.png``, ``DIR/report.md`` and ``DIR/report.html``. Nothing is re-run or recomputed: every
figure comes from summary.json (records only supply the example answers), so rebuilding a report gives the
same numbers as the run that wrote the directory, and rebuilding twice gives identical files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ragtune.evaluate.report.advice import advice_view
from ragtune.evaluate.report.charts import CHART_TITLES, write_charts
from ragtune.evaluate.report.document import (
    Block,
    Bullets,
    GroupRow,
    Heading,
    Image,
    Para,
    Table,
    to_html,
    to_markdown,
)
from ragtune.evaluate.report.format import (
    DASH,
    fmt_bytes,
    fmt_ci,
    fmt_count,
    fmt_ms,
    fmt_pct,
    fmt_score,
    fmt_seconds,
    fmt_text,
    load_summary,
    read_records,
    strategies_not_run,
    strategies_run,
)
from ragtune.evaluate.report.reading import retrieval_readings
from ragtune.evaluate.report.rows import DIFFERENCE_HEADER, build_sections, difference_rows
from ragtune.evaluate.report.table import print_summary_table, render_table

__all__ = ["build_blocks", "print_summary_table", "render_table", "write_report"]

TITLE = "RAG vs fine-tuning: comparison report"
EXAMPLES_SHOWN = 3
ANSWER_CHARS = 400


def _write_atomic(path: Path, text: str) -> None:
    """Write through a temporary name and rename, so a reader never sees half a report."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _run_facts(summary: dict[str, Any]) -> list[Block]:
    ev = summary.get("eval") or {}
    kb = summary.get("kb") or {}
    items: list[str | tuple[str, str]] = [("Created", fmt_text(summary.get("created")))]
    if summary.get("command"):
        items.append(("Command", str(summary["command"])))
    if ev:
        counts = f"{fmt_count(ev.get('n'))} questions"
        if ev.get("unanswerable") is not None:
            counts += f" ({fmt_count(ev.get('answerable'))} answerable, {fmt_count(ev['unanswerable'])} unanswerable)"
        sha = f", sha256 {str(ev['sha256'])[:12]}…" if ev.get("sha256") else ""
        items.append(("Eval set", f"{fmt_text(ev.get('path'))}: {counts}{sha}"))
    if kb:
        items.append(
            (
                "Knowledge base",
                f"{fmt_text(kb.get('path'))} at version {fmt_text(kb.get('version'))}: "
                f"{fmt_count(kb.get('documents'))} documents, {fmt_count(kb.get('chunks'))} chunks",
            )
        )
    items.append(("Quality metric", f"{fmt_text(summary.get('quality_metric'))} (the “quality” of every strategy)"))
    version = f"{fmt_text(summary.get('ragtune_version'))} (results format {fmt_text(summary.get('format'))})"
    items.append(("ragtune", version))
    return [Heading(1, TITLE), Bullets(items)]


def _comparison(summary: dict[str, Any]) -> list[Block]:
    names = strategies_run(summary)
    sections = build_sections(summary)
    rows: list[list[str] | GroupRow] = []
    for section in sections:
        rows.append(GroupRow(section.title))
        rows.extend([row.label, *(row.values.get(n, DASH) for n in names), row.note] for row in section.rows)
    blocks: list[Block] = [Heading(2, "Comparison"), Table(["", *names, "How measured"], rows)]
    skipped = strategies_not_run(summary)
    if skipped:
        blocks += [Heading(3, "Not run"), Bullets([(f"{name} ({status})", reason) for name, status, reason in skipped])]
    method_rows = [[row.label, n, m] for s in sections for row in s.rows for n, m in row.methods.items()]
    if method_rows:
        blocks += [
            Heading(3, "Method behind each figure, per strategy"),
            Table(["Figure", "Strategy", "Method"], method_rows),
        ]
    return blocks


def _differences_and_advice(summary: dict[str, Any]) -> list[Block]:
    blocks: list[Block] = []
    diffs = difference_rows(summary)
    if diffs:
        blocks += [
            Heading(2, "Differences between strategies"),
            Para(
                "Paired bootstrap over the same questions; "
                "a difference whose 95% interval includes 0 is “not significant”.",
                muted=True,
            ),
            Table(DIFFERENCE_HEADER, diffs),
        ]
    readings = retrieval_readings(summary)
    if readings:
        blocks += [Heading(2, "Does retrieval help this model?"), Bullets(readings)]
    advice = advice_view(summary)
    if advice:
        blocks += [Heading(2, "Recommendation"), Para(f"Recommended: {advice.recommendation}")]
        if advice.reasons or advice.facts:
            blocks.append(Bullets([*advice.reasons, *advice.facts]))
    return blocks


def _charts(charts: dict[str, Path], results_dir: Path) -> list[Block]:
    if not charts:
        return []
    blocks: list[Block] = [Heading(2, "Charts")]
    for name, path in charts.items():
        blocks.append(Image(path, path.relative_to(results_dir).as_posix(), CHART_TITLES[name]))
    return blocks


def _all_metrics(summary: dict[str, Any]) -> list[Block]:
    names = strategies_run(summary)
    metric_names: list[str] = []
    for n in names:
        metric_names += [m for m in summary["strategies"][n].get("metrics") or {} if m not in metric_names]
    if not metric_names:
        return []
    rows = []
    for m in metric_names:
        cells = []
        for n in names:
            v = (summary["strategies"][n].get("metrics") or {}).get(m) or {}
            text = fmt_ci(v.get("mean"), v.get("ci_low"), v.get("ci_high"))
            cells.append(text if text == DASH or v.get("n") is None else f"{text} (n={fmt_count(v['n'])})")
        rows.append([m, *cells])
    return [
        Heading(2, "All metrics"),
        Para(
            "Mean per question with its 95% bootstrap interval and the number of questions it applies to.", muted=True
        ),
        Table(["Metric", *names], rows),
    ]


def _latency(summary: dict[str, Any]) -> list[Block]:
    rows = []
    for n in strategies_run(summary):
        for stage, v in (summary["strategies"][n].get("latency_ms") or {}).items():
            v = v or {}
            rows.append([n, stage, fmt_ms(v.get("p50")), fmt_ms(v.get("p95")), fmt_ms(v.get("mean"))])
    if not rows:
        return []
    return [Heading(2, "Latency per stage"), Table(["Strategy", "Stage", "p50", "p95", "Mean"], rows)]


def _freshness(summary: dict[str, Any]) -> list[Block]:
    fr = summary.get("freshness")
    blocks: list[Block] = [Heading(2, "Freshness")]
    if not fr:
        return [*blocks, Para("No change set was given to this run, so freshness was not measured.", muted=True)]
    items: list[str | tuple[str, str]] = [("Change", fmt_text(fr.get("change")))]
    if fr.get("description"):
        items.append(("What changed", str(fr["description"])))
    items.append(("Files", ", ".join(map(str, fr.get("files") or [])) or DASH))
    items.append(("Questions re-asked", ", ".join(map(str, fr.get("questions") or [])) or DASH))
    items.append(("Re-ingest time", fmt_seconds(fr.get("reingest_seconds"))))
    blocks.append(Bullets(items))
    per = fr.get("per_strategy") or {}
    rows = [
        [
            n,
            fmt_pct(p.get("stale_rate")),
            fmt_pct(p.get("old_fact_rate")),
            fmt_seconds(p.get("seconds_to_reflect")),
            fmt_text(p.get("method")),
        ]
        for n, p in per.items()
    ]
    if rows:
        blocks.append(Table(["Strategy", "Stale answers", "Old fact given", "Time to reflect", "Method"], rows))
    answers = [(n, a) for n, p in per.items() for a in p.get("answers") or []]
    if answers:
        with_before = any(a.get("verdict_before") for _, a in answers)
        header = ["Strategy", "Question", "Before", *(["Verdict before"] if with_before else []), "After", "Verdict"]
        table_rows = [
            [n, str(a.get("id", DASH)), _short(a.get("before"))]
            + ([fmt_text(a.get("verdict_before"))] if with_before else [])
            + [_short(a.get("after")), fmt_text(a.get("verdict"))]
            for n, a in answers
        ]
        blocks += [Heading(3, "Answers before and after the change"), Table(header, table_rows)]
    return blocks


def _learning_curve(summary: dict[str, Any]) -> list[Block]:
    lc = summary.get("learning_curve")
    blocks: list[Block] = [Heading(2, "Learning curve")]
    if not lc:
        return [*blocks, Para("The learning curve was not run in this comparison.", muted=True)]
    ref = lc.get("reference") or {}
    match = lc.get("examples_to_match")
    items: list[str | tuple[str, str]] = [
        ("Strategy trained", fmt_text(lc.get("strategy"))),
        ("Training data", fmt_text(lc.get("train_data"))),
        ("Reference", f"{fmt_text(ref.get('strategy'))} at quality {fmt_score(ref.get('quality'))}"),
        ("Examples to match the reference", fmt_count(match) if match is not None else "not reached by the fit"),
        ("Method", fmt_text(lc.get("method"))),
    ]
    rows = [
        [
            fmt_pct(p.get("share")),
            fmt_count(p.get("examples")),
            fmt_ci(p.get("quality"), p.get("ci_low"), p.get("ci_high")),
            fmt_seconds(p.get("train_seconds")),
        ]
        for p in lc.get("points") or []
    ]
    blocks.append(Bullets(items))
    metric = lc.get("metric") if lc.get("metric") not in (None, "quality") else summary.get("quality_metric")
    if rows:
        blocks.append(Table(["Share of data", "Examples", f"Quality ({metric or 'quality'})", "Training time"], rows))
    return blocks


def _short(text: Any, limit: int = ANSWER_CHARS) -> str:
    text = " ".join(str(text if text is not None else DASH).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


Records = dict[str, dict[str, dict[str, Any]]]  # strategy → question id → record


def load_records(summary: dict[str, Any], results_dir: Path) -> Records:
    """The per-question records of every strategy that ran and has a ``<strategy>.jsonl``."""
    records: Records = {}
    for name in strategies_run(summary):
        path = results_dir / f"{name}.jsonl"
        if path.is_file():
            records[name] = {str(r.get("id")): r for r in read_records(path)}
    return records


def _examples(records: Records) -> list[Block]:
    """The questions where the strategies' quality differs most, with each strategy's answer."""
    if not records:
        return []
    shared = set.intersection(*(set(r) for r in records.values()))

    def spread(qid: str) -> float:
        qs = [
            q for r in records.values() if isinstance(q := (r[qid].get("metrics") or {}).get("quality"), (int, float))
        ]
        return max(qs) - min(qs) if qs else 0.0

    chosen = sorted(shared, key=lambda q: (-spread(q), q))[:EXAMPLES_SHOWN]
    blocks: list[Block] = [
        Heading(2, "Example answers"),
        Para(
            f"The {len(chosen)} questions where the strategies' quality differs most (from the per-question records).",
            muted=True,
        ),
    ]
    for qid in chosen:
        first = next(iter(records.values()))[qid]
        blocks.append(Heading(3, f"{qid}: {_short(first.get('question'), 200)}"))
        reference = (
            "(unanswerable: the right answer is to decline)"
            if first.get("unanswerable")
            else _short(first.get("reference"))
        )
        blocks.append(Para(f"Reference: {reference}"))
        rows = []
        for name, recs in records.items():
            r = recs[qid]
            answer = _short(r.get("answer")) if not r.get("error") else f"error: {_short(r['error'])}"
            rows.append([name, answer, fmt_score((r.get("metrics") or {}).get("quality"))])
        blocks.append(Table(["Strategy", "Answer", "Quality"], rows))
    return blocks


def _flat(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [kv for k, v in value.items() for kv in _flat(f"{prefix}.{k}" if prefix else str(k), v)]
    return [(prefix, fmt_text(value))]


_MACHINE_LABELS = {"cpu": "CPU", "cores": "CPU cores", "memory_gb": "Memory", "gpu": "GPU"}


def _run_details(summary: dict[str, Any]) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Run")]
    stages = summary.get("stages") or {}
    if stages:
        blocks += [
            Heading(3, "Wall time per stage"),
            Table(["Stage", "Wall time"], [[k, fmt_seconds(v)] for k, v in stages.items()]),
        ]
    machine = summary.get("machine") or {}
    if machine:
        items: list[str | tuple[str, str]] = [
            (_MACHINE_LABELS.get(k, k), f"{fmt_count(v)} GB" if k == "memory_gb" and v is not None else fmt_text(v))
            for k, v in machine.items()
        ]
        blocks += [Heading(3, "Machine"), Bullets(items)]
    kb = summary.get("kb") or {}
    if kb:
        sizes = {"db_bytes", "index_bytes"}
        blocks += [
            Heading(3, "Knowledge base"),
            Bullets([(k, fmt_bytes(v) if k in sizes else fmt_text(v)) for k, v in kb.items()]),
        ]
    prices = _flat("", summary.get("prices") or {})
    if prices:
        blocks += [Heading(3, "Price sheet"), Bullets(list(prices))]
    return blocks


def build_blocks(summary: dict[str, Any], results_dir: Path, charts: dict[str, Path], records: Records) -> list[Block]:
    """The whole report as blocks, in reading order."""
    return [
        *_run_facts(summary),
        *_comparison(summary),
        *_differences_and_advice(summary),
        *_charts(charts, results_dir),
        *_all_metrics(summary),
        *_latency(summary),
        *_freshness(summary),
        *_learning_curve(summary),
        *_examples(records),
        *_run_details(summary),
    ]


def write_report(results_dir: Path, html: bool = True) -> dict[str, Path]:
    """Rebuild ``charts/*.png``, ``report.md`` and (unless ``html=False``) ``report.html`` in ``results_dir``.

    Returns the paths written: ``"md"``, ``"html"`` and ``"chart:<name>"`` for each chart drawn
    (``quality_cost``, ``latency``, ``learning_curve``, ``freshness``; a chart without data is skipped).
    Raises :class:`~ragtune.errors.DatasetError` when summary.json or a
    records file is missing or malformed.
    """
    results_dir = Path(results_dir)
    summary = load_summary(results_dir)
    records = load_records(summary, results_dir)  # before drawing anything: a bad record fails fast
    charts = write_charts(summary, results_dir / "charts")
    blocks = build_blocks(summary, results_dir, charts, records)
    written = {f"chart:{name}": path for name, path in charts.items()}
    md_path = results_dir / "report.md"
    _write_atomic(md_path, to_markdown(blocks))
    written["md"] = md_path
    if html:
        html_path = results_dir / "report.html"
        _write_atomic(html_path, to_html(blocks, TITLE))
        written["html"] = html_path
    return written
