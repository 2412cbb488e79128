"""Examples longer than max_length: a clear error when none fits, a count (and a CLI warning) when some are left out."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from ragtune.cli.main import cli
from ragtune.errors import ConfigError
from ragtune.tune.training.train import train

LONG_PROMPT = "Where can I find the sharing settings for a folder that my whole team uses every day? " * 12


def _example(question: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": "In Settings."}]}


def _write(path: Path, questions: list[str]) -> Path:
    path.write_text("".join(json.dumps(_example(q)) + "\n" for q in questions))
    return path


def test_no_example_fits_is_a_config_error(tiny_model: Path, tmp_path: Path, helpers: SimpleNamespace) -> None:
    data = _write(tmp_path / "long.jsonl", [LONG_PROMPT] * 4)
    with pytest.raises(ConfigError) as info:
        train(
            data,
            f"hf:{tiny_model}",
            helpers.quick_config(max_length=32, val_share=0.0),
            kb_dir=tmp_path / ".ragtune",
            quiet=True,
            track=False,
            register=False,
        )
    message = str(info.value)
    assert str(data.resolve()) in message
    assert "all 4 training examples are too long for max_length 32" in message
    longest = int(message.split("the longest example is ")[1].split()[0])
    assert longest > 32
    assert "--max-length" in message and "ragtune data build --raft --base MODEL" in message


def test_some_too_long_are_counted_and_warned(tiny_model: Path, tmp_path: Path) -> None:
    data = _write(tmp_path / "mixed.jsonl", ["How do I share a folder?"] * 6 + [LONG_PROMPT] * 2)
    args = ["train", "--data", str(data), "--base", f"hf:{tiny_model}", "--kb", str(tmp_path / ".ragtune")]
    args += ["--max-length", "48", "--max-steps", "1", "--batch-size", "4", "--val-share", "0", "--threads", "1"]
    result = CliRunner().invoke(cli, [*args, "--quiet"])
    assert result.exit_code == 0, result.output
    assert "warning: 2 training examples were left out as too long" in result.stderr
    assert "Trained " in result.stdout
