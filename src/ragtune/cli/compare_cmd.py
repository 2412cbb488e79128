"""``ragtune compare``: base, RAG, fine-tuned and hybrid on one eval set, measured, with a report."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from ragtune.cli.common import emit_json, json_option, kb_option, open_kb, show_progress


def _shares(value: str) -> tuple[float, ...]:
    try:
        shares = tuple(float(s) / (100 if float(s) > 1 else 1) for s in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected comma-separated shares, e.g. 10,25,50,100") from None
    if not shares or any(not 0 < s <= 1 for s in shares):
        raise click.BadParameter(f"{value!r}: shares must be in (0, 100]")
    return shares


@click.command()
@click.option(
    "--eval",
    "eval_path",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    required=True,
    help="Eval set: JSONL with id, question, answer, sources, tags.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Results directory: <strategy>.jsonl, summary.json, report.md, report.html.",
)
@click.option(
    "--strategies",
    default=None,
    metavar="A,B,...",
    help="Strategies to compare (default: base, rag, ft, hybrid, rag-extractive, configured ones).",
)
@click.option("--model", default=None, help="The LLM for base and rag: hf:PATH_OR_ID or openai:MODEL.")
@click.option("--ft", default=None, metavar="NAME", help="A registered fine-tuned model (ragtune models list) for ft.")
@click.option(
    "--hybrid",
    default=None,
    metavar="NAME",
    help="A RAFT-trained registered model for hybrid (default: the --ft model).",
)
@click.option("--judge", default=None, metavar="SPEC", help="An LLM judge of correctness (model spec).")
@click.option(
    "--style",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="Brand-voice examples, chat JSONL (default: [style] in ragtune.toml).",
)
@click.option(
    "--changes",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    default=None,
    help="A change set (change.json + docs/) for the freshness probe.",
)
@click.option(
    "--train-data",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="Chat JSONL to draw the learning curve from (trains one model per share).",
)
@click.option("--curve-base", default=None, help="Base model for the learning curve (default: the --ft model's base).")
@click.option("--curve-shares", default="10,25,50,100", show_default=True, help="Training-data shares, in %.")
@click.option(
    "--train-config",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="tune.toml with training settings for the learning curve.",
)
@click.option(
    "--quality",
    "quality_metric",
    type=click.Choice(["semantic", "facts", "f1", "em", "judge"]),
    default=None,
    help="The metric called quality (default: judge with --judge, else semantic). facts: the answer states every "
    "number of the reference (prices, limits, dates), for eval sets whose answers turn on them.",
)
@click.option("--limit", type=int, default=None, help="Only the first N questions (a quick look).")
@click.option("--at", type=int, default=None, help="Answer from KB version V (default: latest).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for bootstrap and data shares.")
@click.option("--resamples", type=int, default=2000, show_default=True, help="Bootstrap resamples.")
@click.option("--no-report", is_flag=True, help="Write results and summary.json only.")
@json_option
@kb_option
def compare(
    eval_path: Path,
    out_dir: Path,
    strategies: str | None,
    model: str | None,
    ft: str | None,
    hybrid: str | None,
    judge: str | None,
    style: Path | None,
    changes: Path | None,
    train_data: Path | None,
    curve_base: str | None,
    curve_shares: str,
    train_config: Path | None,
    quality_metric: str | None,
    limit: int | None,
    at: int | None,
    seed: int,
    resamples: int,
    no_report: bool,
    as_json: bool,
    kb_path: Path | None,
) -> None:
    """Run each strategy on the eval set and report quality, citations, latency, cost, freshness and more.

    \b
    Strategies that need a model you have not given are listed as not run, with the reason.
    Example (offline, CPU; see examples/compare_demo.py for the full recipe):
      ragtune compare --eval examples/helpcenter/eval.jsonl --out results/ \\
          --model hf:.ragtune/models/tiny --ft tiny-style \\
          --changes examples/helpcenter/changes/01-team-price-increase
      ragtune report results/            # rebuild the report without re-running
    """
    from ragtune.evaluate.run.compare import CompareOptions, run_comparison

    curve_config = None
    if train_config is not None:
        from ragtune.tune.training.config import load_train_config

        curve_config = load_train_config(train_config)
    kb = open_kb(kb_path)
    opts = CompareOptions(
        eval_path=eval_path,
        out_dir=out_dir,
        strategies=[s.strip() for s in strategies.split(",") if s.strip()] if strategies else None,
        model=model,
        ft=ft,
        hybrid=hybrid,
        judge=judge,
        style=style,
        changes=changes,
        train_data=train_data,
        curve_base=curve_base,
        curve_shares=_shares(curve_shares),
        curve_config=curve_config,
        quality_metric=quality_metric,
        at=at,
        limit=limit,
        seed=seed,
        n_resamples=resamples,
        command=shlex.join(["ragtune", *sys.argv[1:]]),
        progress=show_progress(),
    )
    log = (lambda m: None) if as_json else (lambda m: click.secho(m, dim=True, err=True))
    summary = run_comparison(kb, opts, log=log)
    paths: dict[str, Path] = {}
    if not no_report:
        from ragtune.evaluate.report.write import write_report

        paths = write_report(out_dir)
    if as_json:
        emit_json(summary)
        return
    from ragtune.evaluate.report.table import print_summary_table

    print_summary_table(summary)
    click.echo(f"\nResults in {out_dir}/" + (f" (report: {paths.get('html', paths.get('md'))})" if paths else ""))
