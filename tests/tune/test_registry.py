"""The model registry: durable entries with lineage, tags, ``ft:NAME`` through strategies, and merging."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ragtune.cli.main import cli
from ragtune.errors import ConfigError, NotFoundError
from ragtune.llm.hf import HFGenerator
from ragtune.rag.strategies import load_strategies
from ragtune.tune.registry import ModelRegistry, RegisteredModel, resolve_ft
from ragtune.tune.training.merge import merge_model


def test_entries_survive_reopening_and_tags_and_removal(tmp_path: Path) -> None:
    with ModelRegistry.open(tmp_path) as reg:
        reg.register(RegisteredModel("a", "hf:base", "lora", str(tmp_path / "a"), data_sha256="x", kb_version=2))
        reg.register(RegisteredModel("b", "hf:base", "full", str(tmp_path / "b"), metrics={"eval_loss": 1.5}))
        with pytest.raises(ConfigError, match="already registered"):
            reg.register(RegisteredModel("a", "hf:other", "lora", "p"))
        with pytest.raises(ConfigError, match="model name"):
            reg.register(RegisteredModel("bad name!", "hf:base", "lora", "p"))
    with ModelRegistry.open(tmp_path) as reg:  # a restart: everything read back from disk
        a = reg.get("ft:a")
        assert (a.base, a.method, a.data_sha256, a.kb_version, a.adapter) == ("hf:base", "lora", "x", 2, a.path)
        assert reg.get("b").generator_spec() == ("hf:" + str(tmp_path / "b"), None)
        assert [m.name for m in reg.list()] == ["b", "a"]
        reg.tag("a", "best")
        reg.tag("b", "best", exclusive_among=["a", "b"])
        assert reg.get("a").tags == [] and reg.get("b").tags == ["best"]
        with pytest.raises(NotFoundError, match="known: b, a"):
            reg.get("nope")
        (tmp_path / "b").mkdir()
        reg.remove("b", delete_files=True)
        assert not (tmp_path / "b").exists() and [m.name for m in reg.list()] == ["a"]


def test_trained_model_lineage_after_restart(lora_run: Any) -> None:
    r = lora_run.result
    with ModelRegistry.open(lora_run.kb_dir) as reg:
        m = reg.get("fmt-lora")
    assert m.run_id == r.run_id and m.method == "lora" and m.path == str(r.path)
    assert m.base == f"hf:{lora_run.base.resolve()}"
    assert m.data_sha256 == hashlib.sha256(lora_run.data.read_bytes()).hexdigest()
    assert m.data_path == str(lora_run.data.resolve())
    assert m.kb_version == 3
    assert set(m.metrics) == {"train_loss", "eval_loss"}
    assert resolve_ft("ft:fmt-lora", lora_run.kb_dir) == (m.base, m.path)


def test_models_cli(lora_run: Any) -> None:
    kb = str(lora_run.kb_dir)
    runner = CliRunner()
    out = runner.invoke(cli, ["models", "list", "--json", "--kb", kb], catch_exceptions=False)
    assert "fmt-lora" in [m["name"] for m in json.loads(out.output)]
    out = runner.invoke(cli, ["models", "show", "fmt-lora", "--json", "--kb", kb], catch_exceptions=False)
    assert json.loads(out.output)["kb_version"] == 3
    out = runner.invoke(cli, ["models", "tag", "fmt-lora", "candidate", "--kb", kb], catch_exceptions=False)
    assert "candidate" in out.output
    runner.invoke(cli, ["models", "tag", "fmt-lora", "candidate", "--remove", "--kb", kb], catch_exceptions=False)
    out = runner.invoke(cli, ["models", "show", "nope", "--kb", kb])
    assert out.exit_code != 0


def test_ft_spec_through_knowledge_base_and_config(lora_run: Any, hermetic: Path, open_kb: Any) -> None:
    kb = open_kb(lora_run.kb_dir)
    answer = kb.ask("How do I invite a colleague?", strategy="base", model="ft:fmt-lora")
    assert isinstance(answer.text, str) and answer.tokens_out > 0
    generator = kb.strategies(model="ft:fmt-lora")["base"].pipeline.generator
    assert generator.adapter == str(lora_run.result.path)
    config = {"strategies": {"voice": {"generator": "ft:fmt-lora", "retrieve": False}}}
    strategy = load_strategies(kb, config=config)["voice"]
    assert strategy.pipeline.generator.adapter == str(lora_run.result.path)
    missing = load_strategies(kb, config={"strategies": {"x": {"generator": "ft:missing", "retrieve": False}}})
    with pytest.raises(NotFoundError, match="fmt-lora"):
        missing["x"].ask("hi")


def test_merged_checkpoint_generates_like_base_plus_adapter(lora_run: Any, tmp_path: Path) -> None:
    with ModelRegistry.open(lora_run.kb_dir) as reg:
        model = reg.get("fmt-lora")
    out = merge_model(model, tmp_path / "merged")
    assert (out / "config.json").exists() and not (out / "adapter_config.json").exists()
    merged = HFGenerator(f"hf:{out}", device="cpu")
    adapted = HFGenerator(model.base, adapter=model.path, device="cpu")
    for q in ("How do I reset my password?", "What does the Team plan cost?", "Can I restore a deleted file?"):
        msgs = [{"role": "user", "content": q}]
        assert merged.generate(msgs, max_new_tokens=24).text == adapted.generate(msgs, max_new_tokens=24).text
    with pytest.raises(ConfigError, match="not empty"):
        merge_model(model, out)
