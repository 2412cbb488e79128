"""Entry point: ``ragtune COMMAND``. Errors print one clear line, never a stack trace."""

from __future__ import annotations

import importlib
import os
import sys

import click

from ragtune import __version__
from ragtune.errors import RagtuneError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# name → (module, attribute, one-line help). A command's module is imported only when that command runs (or its
# own --help is asked for), so `ragtune --help` and every command start without loading the others' libraries.
# The one-line help is the command's own first docstring sentence; tests/test_cli_imports.py checks they agree.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("kb_cmds", "init", "Create an empty knowledge base (.ragtune/ in the current directory by default)."),
    "ingest": (
        "kb_cmds",
        "ingest",
        "Add or update the documents in PATHS (files or folders, recursively): "
        "md, txt, html, pdf, docx, pptx, xlsx, csv, epub, eml, json(l), png/jpg/tif (OCR).",
    ),
    "rm": ("kb_cmds", "rm", "Remove documents (a new version; earlier versions still have them)."),
    "watch": (
        "kb_cmds",
        "watch",
        "Ingest PATHS, then re-ingest whenever files under them change (Ctrl-C to stop).",
    ),
    "kb": ("kb_cmds", "kb", "Inspect the knowledge base: status, history, diffs, documents; roll back; re-embed."),
    "search": ("query", "search", "Rank passages for QUERY (hybrid keyword + vector search by default)."),
    "ask": ("query", "ask", "Answer QUESTION from the knowledge base, citing sources as [n]."),
    "serve": ("serve", "serve", "Serve the knowledge base over HTTP until interrupted."),
    "mcp": ("serve", "mcp", "Serve the collections as MCP tools (search, ask) over stdio, for agent clients."),
    "keys": (
        "keys_cmd",
        "keys",
        "API keys for ragtune serve: create (printed once), list, revoke.",
    ),
    "models": (
        "models",
        "models",
        "Language models: build a tiny local one; list, inspect, tag, remove and merge fine-tuned ones.",
    ),
    "data": (
        "data_cmds",
        "data",
        "Training data: check a chat JSONL file, build one from the knowledge base, split it.",
    ),
    "eval": ("data_cmds", "eval_group", "Eval sets: synthesize one from the knowledge base."),
    "train": (
        "tune_cmds",
        "train",
        "Fine-tune BASE on chat examples (LoRA by default), track the run and register the model.",
    ),
    "tune-retriever": (
        "retriever_cmd",
        "tune_retriever",
        "Fine-tune the embedding model on the knowledge base's own questions and passages; register it.",
    ),
    "tune-reranker": (
        "retriever_cmd",
        "tune_reranker",
        "Train a cross-encoder reranker on the knowledge base's own questions and passages; register it.",
    ),
    "runs": ("tune_cmds", "runs", "Tracked training runs (MLflow store in .ragtune/mlflow.db)."),
    "sweep": (
        "tune_cmds",
        "sweep",
        "Train one model per setting (grid or random search); tag the best 'best' in the registry.",
    ),
    "compare": (
        "compare_cmd",
        "compare",
        "Run each strategy on the eval set and report quality, citations, latency, cost, freshness and more.",
    ),
    "report": (
        "report_cmd",
        "report",
        "Rebuild the comparison report in RESULTS_DIR from its summary.json, without re-running anything.",
    ),
    "advise": (
        "advise_cmd",
        "advise",
        "Recommend RAG, fine-tuning or hybrid, with the reasons and the break-even volume.",
    ),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use; the listing in --help comes from :data:`COMMANDS`."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(f"ragtune.cli.{entry[0]}")
        command = getattr(module, entry[1])
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = [(name, click.Command(name, help=COMMANDS[name][2]).get_short_help_str(limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
