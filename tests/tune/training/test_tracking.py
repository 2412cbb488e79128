"""Tracked runs in the MLflow store under .ragtune/: params, per-step metrics, artifacts, and the runs CLI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from ragtune.cli.main import cli
from ragtune.tune.training.tracking import Tracker, compare, ui_command


def test_run_is_tracked_and_survives_a_restart(lora_run: Any) -> None:
    r = lora_run.result
    tracked = Tracker(lora_run.kb_dir).run(r.run_id)  # a fresh client on the same SQLite store
    assert tracked["status"] == "FINISHED" and tracked["mlflow_run_id"] == r.mlflow_run_id
    params = tracked["params"]
    assert params["data_sha256"] == hashlib.sha256(lora_run.data.read_bytes()).hexdigest()
    assert params["base"] == f"hf:{lora_run.base.resolve()}" and params["learning_rate"] == "0.005"
    assert params["lora_rank"] == "8" and params["kb_version"] == "3"
    history = tracked["history"]
    assert [s for s, _ in history["loss"]] == list(range(1, 21))
    assert history["learning_rate"] and history["grad_norm"] and history["eval_loss"]
    assert tracked["metrics"]["tokens_per_s"] > 0 and tracked["metrics"]["train_seconds"] > 0
    artifacts = lora_run.kb_dir / "mlartifacts"
    assert list(artifacts.rglob("config.json")) and list(artifacts.rglob("adapter_model.safetensors"))
    assert "mlflow ui --backend-store-uri sqlite:///" in ui_command(lora_run.kb_dir)


def test_runs_cli(lora_run: Any, tiny_model: Path, format_file: Path, helpers: Any) -> None:
    from ragtune.tune.training.train import train

    other = train(
        format_file,
        f"hf:{tiny_model}",
        helpers.quick_config(max_steps=2, lora_rank=4, val_share=0.0),
        kb_dir=lora_run.kb_dir,
        quiet=True,
        register=False,
    )
    kb = str(lora_run.kb_dir)
    runner = CliRunner()
    listed = json.loads(runner.invoke(cli, ["runs", "list", "--json", "--kb", kb], catch_exceptions=False).output)
    assert {lora_run.result.run_id, other.run_id} <= {r["run_id"] for r in listed}
    shown = runner.invoke(cli, ["runs", "show", other.run_id, "--kb", kb], catch_exceptions=False).output
    assert "lora_rank = 4" in shown and "loss by step" in shown
    out = runner.invoke(cli, ["runs", "compare", lora_run.result.run_id, other.run_id, "--json", "--kb", kb])
    diff = json.loads(out.output)
    assert diff["params_differ"]["lora_rank"] == ["8", "4"] and diff["params_differ"]["max_steps"] == ["20", "2"]
    assert "train_loss" in diff["metrics"]
    a, b = Tracker(lora_run.kb_dir).run(lora_run.result.run_id), Tracker(lora_run.kb_dir).run(other.run_id)
    assert compare(a, b)["runs"] == [lora_run.result.run_id, other.run_id]
