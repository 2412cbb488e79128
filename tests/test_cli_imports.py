"""A CLI answers fast: importing it must not load the heavy libraries only some commands need."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "transformers", "mlflow", "matplotlib", "trl", "peft", "datasets", "onnxruntime",
         "sentence_transformers")  # fmt: skip


def test_importing_the_cli_loads_no_heavy_library() -> None:
    code = f"import sys, ragtune.cli.main; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [], f"`import ragtune.cli.main` loads {', '.join(out)}: import it inside the command that needs it"


def test_importing_ragtune_loads_no_store_or_loader() -> None:
    # `import ragtune` gives the version and the errors; the classes load on first use (PEP 562).
    code = "import sys, ragtune; print(' '.join(sorted(m for m in sys.modules if m.startswith(('numpy', 'ragtune.')))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["ragtune.errors"], out
    code = "import ragtune; print(ragtune.KnowledgeBase.__module__, ragtune.Answer.__module__)"
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert got == ["ragtune.knowledge_base", "ragtune.rag.pipeline"]


def test_the_help_listing_matches_each_commands_own_help() -> None:
    # `ragtune --help` lists commands from a table, without importing them: the table must not drift.
    import click

    from ragtune.cli.main import COMMANDS, cli

    ctx = click.Context(cli)
    for name, (_, _, short) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name
        assert command.get_short_help_str(1000) == short, f"update COMMANDS[{name!r}] in ragtune/cli/main.py"


def test_help_lists_every_command_and_runs_one() -> None:
    from click.testing import CliRunner

    from ragtune.cli.main import COMMANDS, cli

    out = CliRunner().invoke(cli, ["--help"]).output
    for name in COMMANDS:
        assert f"\n  {name} " in out
    result = CliRunner().invoke(cli, ["nosuch"])
    assert result.exit_code != 0 and "No such command 'nosuch'" in result.output
    assert "Rank passages for QUERY" in CliRunner().invoke(cli, ["search", "--help"]).output
