"""Every ``ragtune`` command documents itself in ``--help``, and docs/cli.md is that help, current.

In-process (CliRunner), no subprocess per command: the whole file runs in a few seconds.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from ragtune.cli.main import cli

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "gen_cli_docs.py"


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_cli_docs", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_command_has_a_docstring_and_help(gen: ModuleType) -> None:
    commands = list(gen.walk(cli))
    assert len(commands) > 20  # the walk reaches the subcommands, not only the top level
    missing = []
    for path, command in commands:
        name = " ".join(("ragtune", *path))
        summary = (command.help or "").strip()
        if not summary:
            missing.append(f"{name}: no docstring")
            continue
        text = " ".join(gen.help_text(cli, path).split())  # help wraps long lines
        if " ".join(summary.splitlines()[0].split()) not in text:
            missing.append(f"{name}: --help lacks its docstring")
    assert not missing, "\n".join(missing)


def test_docs_cli_md_is_current(gen: ModuleType) -> None:
    # A fresh process: click caches each command's help option on first use, so rendering inside a test session
    # that already invoked commands can differ from what the script writes.
    done = subprocess.run([sys.executable, str(gen.__file__), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, f"docs/cli.md is stale: run python scripts/gen_cli_docs.py\n{done.stdout}{done.stderr}"
