"""The comparison as a rich terminal table: one column per strategy that ran, grouped rows, how each was measured.

Below the table: per-strategy methods (numbered notes), strategies that did not run and why, the paired
differences, and the advice when the run has one. Same rows and formatting as report.md
(:mod:`ragtune.evaluate.report.rows`).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from ragtune.evaluate.report.advice import advice_view
from ragtune.evaluate.report.format import DASH, strategies_not_run, strategies_run
from ragtune.evaluate.report.rows import DIFFERENCE_HEADER, build_sections, difference_rows


def _eval_line(summary: dict[str, Any]) -> str:
    ev = summary.get("eval") or {}
    parts = [f"eval {ev.get('path', '?')}: {ev.get('n', '?')} questions"]
    if ev.get("unanswerable") is not None:
        parts.append(f"({ev.get('answerable', '?')} answerable, {ev['unanswerable']} unanswerable)")
    kb = summary.get("kb") or {}
    if kb.get("version") is not None:
        parts.append(f"· KB v{kb['version']}")
    parts.append(f"· quality = {summary.get('quality_metric') or 'quality'}")
    return " ".join(parts)


def render_table(summary: dict[str, Any]) -> Group:
    """The whole terminal view of a run's summary (see the module docstring)."""
    names = strategies_run(summary)
    table = Table(title="RAG vs fine-tuning, measured", caption=_eval_line(summary), show_lines=False)
    table.add_column("", style="bold", overflow="fold")
    for name in names:
        table.add_column(name, overflow="fold")
    table.add_column("How measured", style="dim", overflow="fold")
    notes: list[Text] = []
    note_no = 0
    for section in build_sections(summary):
        table.add_row(Text(section.title, style="bold cyan"), *([""] * (len(names) + 1)), end_section=False)
        for row in section.rows:
            note = row.note
            if row.methods:
                note_no += 1
                notes.append(Text(f"[{note_no}] {row.label}", style="bold"))
                notes.extend(Text(f"    {n}: {m}") for n, m in row.methods.items())
                note = f"{note} [{note_no}]"
            table.add_row("  " + row.label, *(row.values.get(n, DASH) for n in names), note)
        table.add_section()
    parts: list[RenderableType] = [table]
    if notes:
        parts += [Text("Method per strategy", style="bold"), *notes]
    skipped = strategies_not_run(summary)
    if skipped:
        parts.append(Text("Not run", style="bold yellow"))
        parts.extend(Text(f"  {name} ({status}): {reason}") for name, status, reason in skipped)
    diffs = difference_rows(summary)
    if diffs:
        diff_table = Table(title="Differences (paired bootstrap)")
        for head in DIFFERENCE_HEADER:
            diff_table.add_column(head)
        for cells in diffs:
            style = "dim" if cells[-1] == "not significant" else None
            diff_table.add_row(*cells, style=style)
        parts.append(diff_table)
    advice = advice_view(summary)
    if advice:
        parts.append(Text(f"Recommendation: {advice.recommendation}", style="bold green"))
        parts.extend(Text(f"  - {reason}") for reason in advice.reasons)
        parts.extend(Text(f"  {key}: {value}", style="dim") for key, value in advice.facts)
    return Group(*parts)


def print_summary_table(summary: dict[str, Any], console: Console | None = None) -> None:
    """Print :func:`render_table` to ``console`` (default: a new stdout console)."""
    (console or Console()).print(render_table(summary))
