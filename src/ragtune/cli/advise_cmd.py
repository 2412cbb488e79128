"""``ragtune advise``: recommend RAG, fine-tuning or hybrid from constraints and (optionally) measurements."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ragtune.advise import Constraints, Recommendation, advise_from_results, parse_change_interval
from ragtune.advise.cost import load_price_sheet
from ragtune.cli.common import emit_json, json_option
from ragtune.errors import ConfigError


@click.command()
@click.option(
    "--results",
    "results_dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="A `ragtune compare --out` directory (reads its summary.json). Without it: an estimate.",
)
@click.option("--budget", type=float, default=None, help="Budget in dollars per month.")
@click.option("--queries-per-month", type=float, default=None, help="Expected query volume per month.")
@click.option(
    "--doc-changes",
    default="never",
    show_default=True,
    help="How often documents change: never|hourly|daily|weekly|monthly|quarterly|yearly, days (3) or hours (12h).",
)
@click.option("--latency-ms", type=float, default=None, help="p95 latency target in milliseconds.")
@click.option(
    "--brand-voice", type=click.Choice(["none", "nice", "strict"]), default="none", show_default=True,
    help="How much a consistent brand voice matters.",
)  # fmt: skip
@click.option("--examples", "examples", type=int, default=None, help="Training examples (Q&A pairs) available.")
@click.option("--citations/--no-citations", default=False, show_default=True, help="Answers must cite sources.")
@click.option(
    "--model",
    "model_spec",
    default="hf:self-hosted",
    show_default=True,
    help="Model priced by [prices] for the estimate (e.g. openai:gpt-4o-mini); ignored with --results.",
)
@json_option
def advise(
    results_dir: Path | None,
    budget: float | None,
    queries_per_month: float | None,
    doc_changes: str,
    latency_ms: float | None,
    brand_voice: str,
    examples: int | None,
    citations: bool,
    model_spec: str,
    as_json: bool,
) -> None:
    """Recommend RAG, fine-tuning or hybrid, with the reasons and the break-even volume.

    \b
    Examples:
      ragtune advise --results out/ --queries-per-month 50000 --doc-changes weekly --citations
      ragtune advise --budget 200 --brand-voice strict --examples 300 --latency-ms 1500
    """
    try:
        change_days = parse_change_interval(doc_changes)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--doc-changes") from None
    constraints = Constraints(
        budget_per_month=budget,
        queries_per_month=queries_per_month,
        doc_change_days=change_days,
        latency_target_ms=latency_ms,
        brand_voice=brand_voice,
        examples_available=examples,
        citations_required=citations,
    )
    rec = advise_from_results(constraints, results_dir, sheet=load_price_sheet(), model_spec=model_spec)
    if as_json:
        emit_json(rec.as_dict())
    else:
        show(rec, Console(width=None if sys.stdout.isatty() else 120))  # piped: no 80-column squeeze


def _money(value: float | None) -> str:
    if value is None:
        return "?"
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:.6f}"


def show(rec: Recommendation, console: Console) -> None:
    """The recommendation as rich text: the choice, the rules that fired, the alternatives, the numbers."""
    kind = "Estimate (nothing measured)" if rec.estimate else "From measured results"
    console.print(f"[bold]Recommendation: {rec.strategy}[/bold] ({rec.family}) — {kind}")
    console.print("\n[bold]Why[/bold]")
    for f in rec.reasons:
        out = f" → rules out {', '.join(f.excluded)}" if f.excluded else ""
        console.print(f"  • [cyan]{f.rule}[/cyan]: {f.message}{out}")
    if rec.rejected:
        console.print("\n[bold]Not chosen[/bold]")
        for name, whys in rec.rejected.items():
            console.print(f"  • {name}: " + "; ".join(whys))
    table = Table(title="Strategies", title_justify="left")
    for col in ("strategy", "family", "quality", "95% CI", "p95 ms", "$/query", "setup $", "$/month"):
        table.add_column(col, justify="left" if col in ("strategy", "family") else "right")
    for name, m in rec.strategies.items():
        q = "?" if m.quality is None else f"{m.quality:.2f}"
        ci = "" if m.quality_ci is None else f"{m.quality_ci[0]:.2f}–{m.quality_ci[1]:.2f}"
        p95 = "?" if m.latency_p95_ms is None else f"{m.latency_p95_ms:.0f}"
        table.add_row(
            name,
            m.family,
            q,
            ci,
            p95,
            _money(m.cost_per_query),
            _money(m.setup_cost),
            _money(rec.monthly_cost.get(name)),
        )
    console.print()
    console.print(table)
    be = rec.break_even
    if be is not None:
        console.print("\n[bold]Break-even[/bold]")
        if be.queries_per_month is None:
            console.print(f"  {be.ft} never gets cheaper than {be.rag}: it costs as much or more per query.")
        else:
            console.print(
                f"  {be.ft} beats {be.rag} on cost above {be.queries_per_month:,.0f} queries/month "
                f"(fixed {_money(be.ft_fixed_per_month)} vs {_money(be.rag_fixed_per_month)} per month; "
                f"per query {_money(be.ft_per_query)} vs {_money(be.rag_per_query)})."
            )
    if rec.assumptions:
        console.print("\n[bold]Assumptions[/bold]")
        for a in rec.assumptions:
            console.print(f"  • {a}")
