"""Entry point: ``ragtune COMMAND``. Errors print one clear line, never a stack trace."""

from __future__ import annotations

import os
import sys

import click

from ragtune import __version__
from ragtune.cli import advise_cmd, compare_cmd, data_cmds, kb_cmds, models, query, report_cmd, serve, tune_cmds
from ragtune.errors import RagtuneError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="ragtune")
def cli() -> None:
    """ragtune: a versioned knowledge base with cited answers, offline on CPU.

    \b
    Quick start:
      ragtune init
      ragtune ingest docs/
      ragtune ask "How much is the Team plan?"
      ragtune kb log
    """


for command in (
    kb_cmds.init,
    kb_cmds.ingest,
    kb_cmds.rm,
    kb_cmds.watch,
    kb_cmds.kb,
    query.search,
    query.ask,
    serve.serve,
    models.models,
    data_cmds.data,
    data_cmds.eval_group,
    tune_cmds.train,
    tune_cmds.runs,
    tune_cmds.sweep,
    compare_cmd.compare,
    report_cmd.report,
    advise_cmd.advise,
):
    cli.add_command(command)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except RagtuneError as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
