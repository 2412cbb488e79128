"""The world the browser tests (and ``scripts/ui_screenshots.py``) run against: real knowledge bases, a real
training run, a real comparison, built from ``examples/helpcenter`` in a few seconds.

- collection ``help``: the billing and security articles; version 1, then version 2 after the change set
  "Team plan price increase" (so the diff page has a real text diff); a LoRA adapter ``style`` trained on the
  tiny model and registered in it (a run with a loss curve, a model with lineage and staleness), and one
  ``ragtune compare`` results folder (``results/help-compare``).
- collection ``team``: the account articles (uploads and rollbacks happen here, not in ``help``), plus
  ``hr/payroll.md``, readable only by the access group ``hr`` (``acl: [hr]`` front matter; :data:`RESTRICTED`).

Strategies: ``rag-extractive`` (no model), ``base`` and ``rag`` (the tiny model), ``ft`` (the tiny model +
the ``style`` adapter, from ``ragtune.toml`` in ``root``).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragtune.config import Settings
from ragtune.knowledge_base import KnowledgeBase

REPO = Path(__file__).resolve().parents[2]
HELPCENTER = REPO / "examples" / "helpcenter"
CHANGE = HELPCENTER / "changes" / "01-team-price-increase"

# A document of the ``team`` collection that only the group ``hr`` (and admins) may read; SECRETS are strings of
# it that appear nowhere else, so a page showing any of them has leaked it.
RESTRICTED = "hr/payroll.md"
RESTRICTED_TEXT = """---
acl: [hr]
---
# Payroll calendar

Payroll runs on the 25th of each month through Quillbank. Salary changes approved after the 18th are paid
the following month. The payroll export is protected by the passphrase OTTERFALL-7, rotated every quarter.
"""
SECRETS = ("Payroll calendar", "payroll.md", "Quillbank", "OTTERFALL-7", "25th of each month")


@dataclass
class World:
    root: Path  # holds ragtune.toml: run (and start the server) from here
    help: KnowledgeBase
    team: KnowledgeBase
    results: Path
    model: str  # the tiny model, as a model spec
    restricted: str = RESTRICTED  # team's document for the group hr only
    secrets: tuple[str, ...] = SECRETS  # strings only that document holds

    def collections(self) -> dict[str, KnowledgeBase]:
        return {"help": self.help, "team": self.team}

    def close(self) -> None:
        self.help.close()
        self.team.close()


def _copy(sections: list[str], dest: Path) -> None:
    for section in sections:
        shutil.copytree(HELPCENTER / "docs" / section, dest / section)


def _eval_set(path: Path, sections: list[str], n: int) -> Path:
    rows = [json.loads(line) for line in (HELPCENTER / "eval.jsonl").read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r["sources"] and r["sources"][0].split("/")[0] in sections][:n]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def train_style(
    kb_dir: Path,
    model: str,
    work: Path,
    *,
    name: str = "style",
    max_steps: int = 12,
    learning_rate: float = 5e-3,
    threads: int = 1,
) -> None:
    """A short LoRA run on ``model`` (a model spec; answers in the help center's voice), registered as ``name``."""
    from ragtune.tune.training.config import TrainConfig
    from ragtune.tune.training.train import train

    rows = [json.loads(line) for line in (HELPCENTER / "style.jsonl").read_text().splitlines() if line.strip()]
    data = work / f"{name}.jsonl"
    data.write_text(
        "".join(json.dumps({**r, "metadata": {**r.get("metadata", {}), "kb_version": 1}}) + "\n" for r in rows[:32])
    )
    config = TrainConfig().replace(
        max_steps=max_steps,
        batch_size=8,
        max_length=128,
        learning_rate=learning_rate,
        threads=threads,
        save_steps=1000,
        lora_dropout=0.0,
    )
    train(data, model, config, name=name, kb_dir=kb_dir, quiet=True)


def _compare(kb_dir: Path, model: str, eval_path: Path, out: Path) -> None:
    from click.testing import CliRunner

    from ragtune.cli.main import cli

    args = ["compare", "--eval", str(eval_path), "--out", str(out), "--strategies", "base,rag,ft,rag-extractive"]
    args += ["--model", model, "--ft", "style", "--resamples", "200", "--kb", str(kb_dir)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    if result.exit_code != 0:
        raise RuntimeError(f"ragtune compare failed ({result.exit_code}):\n{result.output}")


def build(root: Path, *, embedder: Any, tiny_model: Path) -> World:
    """Build the world in ``root`` (empty). Takes ~20 s on two cores."""
    model = f"hf:{tiny_model}"
    root.mkdir(parents=True, exist_ok=True)
    (root / "ragtune.toml").write_text(
        '[strategies.ft]\ngenerator = "ft:style"\n'
        'description = "the tiny model fine-tuned on the help center\'s voice"\n'
    )
    help_docs = root / "help" / "docs"
    _copy(["billing", "security"], help_docs)
    help_kb = KnowledgeBase.open(root / "help" / ".ragtune", create=True, settings=Settings(), embedder=embedder)
    help_kb.ingest([help_docs], message="billing and security articles")
    train_style(Path(help_kb.path), model, root)
    shutil.copytree(CHANGE / "docs", help_docs, dirs_exist_ok=True)
    help_kb.ingest([help_docs], message="Team plan price increase")

    team_docs = root / "team" / "docs"
    _copy(["account"], team_docs)
    (team_docs / RESTRICTED).parent.mkdir(parents=True)
    (team_docs / RESTRICTED).write_text(RESTRICTED_TEXT)
    team_kb = KnowledgeBase.open(root / "team" / ".ragtune", create=True, settings=Settings(), embedder=embedder)
    team_kb.ingest([team_docs], message="account articles")

    results = root / "results"
    _compare(
        Path(help_kb.path), model, _eval_set(root / "eval.jsonl", ["billing", "security"], 6), results / "help-compare"
    )
    return World(root, help_kb, team_kb, results, model)
