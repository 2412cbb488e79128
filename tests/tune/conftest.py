"""Fixtures for the training tests: format-following chat data, and one LoRA training run (on the session's tiny
model, ``tests/conftest.py``) shared by the tests that inspect its weights, registry entry and tracked run."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from ragtune.tune.training.config import TrainConfig
from ragtune.tune.training.train import TrainResult, train

REPO = Path(__file__).resolve().parents[2]
HELPCENTER = REPO / "examples" / "helpcenter"
OPENING = "Short answer:"

# Tiny models gain nothing from a second intra-op thread, and the test machine's cores are shared.
torch.set_num_threads(1)


def format_example(row: dict[str, Any], kb_version: int = 3) -> dict[str, Any]:
    """One eval question answered in a fixed format: an opening, five words of the answer, a Sources: line."""
    short = " ".join(row["answer"].split()[:5])
    return {
        "messages": [
            {"role": "user", "content": row["question"]},
            {"role": "assistant", "content": f"{OPENING} {short}\nSources: {row['sources'][0]}"},
        ],
        "metadata": {"kb_version": kb_version, "doc_id": row["sources"][0]},
    }


def follows_format(text: str) -> bool:
    return text.startswith(OPENING) and "Sources:" in text


@pytest.fixture(scope="session")
def eval_rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (HELPCENTER / "eval.jsonl").read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def format_file(tmp_path_factory: pytest.TempPathFactory, eval_rows: list[dict[str, Any]]) -> Path:
    """48 format-following examples (questions q001-q048) as chat JSONL, with metadata.kb_version = 3."""
    path = tmp_path_factory.mktemp("data") / "format.jsonl"
    path.write_text("".join(json.dumps(format_example(r)) + "\n" for r in eval_rows[:48]))
    return path


def quick_config(**kw: Any) -> TrainConfig:
    """Small, fast settings for tests (single thread, short sequences, no checkpoints unless asked)."""
    base: dict[str, Any] = {
        "max_steps": 6,
        "batch_size": 8,
        "max_length": 128,
        "learning_rate": 5e-3,
        "threads": 1,
        "save_steps": 1000,
        "lora_dropout": 0.0,
    }
    return TrainConfig().replace(**{**base, **kw})


@pytest.fixture(scope="session")
def helpers() -> SimpleNamespace:
    """The helper functions above, for test modules (importlib import mode: conftest is not importable)."""
    return SimpleNamespace(quick_config=quick_config, follows_format=follows_format, format_example=format_example)


@dataclass
class TrainedRun:
    result: TrainResult
    kb_dir: Path
    data: Path
    base: Path


@pytest.fixture(scope="session")
def lora_run(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, format_file: Path) -> TrainedRun:
    """One tracked, registered LoRA run of 20 steps (validation each epoch), model kept in memory."""
    kb_dir = tmp_path_factory.mktemp("kb") / ".ragtune"
    result = train(
        format_file,
        f"hf:{tiny_model}",
        quick_config(max_steps=20, val_share=0.1),
        name="fmt-lora",
        kb_dir=kb_dir,
        quiet=True,
        return_model=True,
    )
    return TrainedRun(result, kb_dir, format_file, tiny_model)
