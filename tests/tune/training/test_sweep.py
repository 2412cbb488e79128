"""Sweeps: grid and seeded random trials, nested tracking, and the best trial tagged in the registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ragtune.cli.main import cli
from ragtune.errors import ConfigError
from ragtune.tune.registry import ModelRegistry
from ragtune.tune.training.sweep import grid_trials, parse_grid, parse_space, random_trials
from ragtune.tune.training.tracking import Tracker


def test_grid_and_space_parsing() -> None:
    grid = parse_grid(["lr=1e-4,3e-4", "rank=8,16"])
    assert grid == {"learning_rate": ["1e-4", "3e-4"], "lora_rank": ["8", "16"]}
    assert len(grid_trials(grid)) == 4
    space = parse_space(["lr=loguniform:1e-5:1e-3", "rank=choice:4,8,16", "dropout=uniform:0:0.2"])
    a, b = random_trials(space, 5, seed=3), random_trials(space, 5, seed=3)
    assert a == b and a != random_trials(space, 5, seed=4)
    assert all(1e-5 <= t["learning_rate"] <= 1e-3 and t["lora_rank"] in ("4", "8", "16") for t in a)
    for bad in (["lr"], ["nope=1,2"]):
        with pytest.raises(ConfigError):
            parse_grid(bad)
    with pytest.raises(ConfigError, match="distribution"):
        parse_space(["lr=gauss:1:2"])


def test_grid_sweep_tags_the_best(tiny_model: Path, format_file: Path, tmp_path: Path) -> None:
    kb = tmp_path / ".ragtune"
    args = ["sweep", "--data", str(format_file), "--base", f"hf:{tiny_model}", "--kb", str(kb), "--name", "sw"]
    args += ["--max-steps", "3", "--batch-size", "8", "--max-length", "96", "--threads", "1", "--val-share", "0.2"]
    args += ["--save-steps", "1000", "--grid", "lr=1e-4,1e-2", "--json"]
    out = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    assert [t["params"] for t in result["trials"]] == [{"learning_rate": "1e-4"}, {"learning_rate": "1e-2"}]
    values = [t["value"] for t in result["trials"]]
    assert result["metric"] == "eval_loss" and result["best"]["value"] == min(values)
    with ModelRegistry.open(kb) as registry:
        best = registry.list(tag="best")
        assert [m.name for m in best] == [result["best"]["model"]]
        assert {m.name for m in registry.list()} == {"sw-t1", "sw-t2"}
    runs = Tracker(kb).runs()
    parent = next(r for r in runs if r["kind"] == "sweep")
    trials = [r for r in runs if r["kind"] == "train"]
    assert len(trials) == 2 and all(r["parent"] == parent["mlflow_run_id"] for r in trials)


def test_random_sweep_runs_seeded_trials(tiny_model: Path, format_file: Path, tmp_path: Path, helpers: Any) -> None:
    from ragtune.tune.training.sweep import sweep

    space = parse_space(["rank=choice:2,4"])
    trials = random_trials(space, 2, seed=0)
    result = sweep(
        format_file,
        f"hf:{tiny_model}",
        trials,
        helpers.quick_config(max_steps=2, val_share=0.0),
        kb_dir=tmp_path,
        metric="eval_loss",
        mode="max",
        track=False,
    )
    assert result.metric == "train_loss"  # no validation data: falls back to the training loss
    assert result.best is not None and result.best.value == max(t.value for t in result.trials)
