"""``ragtune report DIR``: rebuild report.md, report.html and the charts of a ``ragtune compare`` results directory."""

from __future__ import annotations

from pathlib import Path

import click

from ragtune.cli.common import emit_json, json_option


@click.command()
@click.argument("results_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--no-html", is_flag=True, help="Write report.md and the charts only, not report.html.")
@json_option
def report(results_dir: Path, no_html: bool, as_json: bool) -> None:
    """Rebuild the comparison report in RESULTS_DIR from its summary.json, without re-running anything.

    Writes charts/*.png, report.md and a self-contained report.html, then prints the comparison table
    (with --json: the key numbers and the files written).

    \b
    Example:
      ragtune compare --eval eval.jsonl --out results/
      ragtune report results/
    """
    from ragtune.evaluate.report.format import load_summary
    from ragtune.evaluate.report.rows import key_numbers
    from ragtune.evaluate.report.table import print_summary_table
    from ragtune.evaluate.report.write import write_report

    summary = load_summary(results_dir)
    paths = write_report(results_dir, html=not no_html)
    if as_json:
        emit_json({**key_numbers(summary), "files": {k: str(v) for k, v in paths.items()}})
        return
    print_summary_table(summary)
    shown = paths.get("html", paths["md"])
    click.echo(f"\nReport: {shown}  ({len(paths)} files written)")
