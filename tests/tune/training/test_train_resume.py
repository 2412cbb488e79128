"""``ragtune train --resume`` after the training process is killed continues from its last checkpoint."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from ragtune.cli.main import cli
from ragtune.tune.registry import ModelRegistry
from ragtune.tune.training.rundir import last_checkpoint, read_run


@pytest.mark.slow
def test_resume_after_sigkill_continues_from_the_checkpoint(
    tiny_model: Path, format_file: Path, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    kb = tmp_path / ".ragtune"
    args = ["train", "--data", str(format_file), "--base", f"hf:{tiny_model}", "--kb", str(kb), "--name", "resumed"]
    args += ["--max-steps", "40", "--save-steps", "5", "--batch-size", "4", "--max-length", "96", "--threads", "1"]
    child = subprocess.Popen(
        [sys.executable, "-m", "ragtune.cli.main", *args, "--quiet"],
        env=subprocess_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        run_dir = None
        while time.monotonic() < deadline and child.poll() is None:
            runs = list((kb / "runs").glob("*")) if (kb / "runs").exists() else []
            if runs and last_checkpoint(runs[0]) is not None:
                run_dir = runs[0]
                break
            time.sleep(0.05)
        assert run_dir is not None, child.stderr.read().decode() if child.stderr else "no checkpoint"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    checkpoint = last_checkpoint(run_dir)
    assert checkpoint is not None
    killed_at = int(checkpoint.name.split("-")[1])
    assert 5 <= killed_at < 40 and read_run(run_dir)["status"] == "running"

    result = CliRunner().invoke(cli, [*args, "--resume", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    import json

    out = json.loads(result.output)
    assert out["run_id"] == run_dir.name
    assert out["resumed_from_step"] == killed_at
    assert out["global_step"] == 40
    assert out["steps_run"] == 40 - killed_at  # not 40: the first steps were not repeated
    assert read_run(run_dir)["status"] == "finished"
    with ModelRegistry.open(kb) as registry:
        assert registry.get("resumed").run_id == run_dir.name
