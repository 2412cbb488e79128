"""Training on tiny real models: what the loss covers, what LoRA changes, reproducibility, and a learned format."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from ragtune.errors import ConfigError
from ragtune.llm.hf import HFGenerator
from ragtune.tune.data.dataset import ChatExample
from ragtune.tune.training.config import TrainConfig, load_train_config
from ragtune.tune.training.sft import make_trainer
from ragtune.tune.training.train import train

STYLE = Path(__file__).resolve().parents[3] / "examples" / "helpcenter" / "style.jsonl"


def test_labels_cover_only_the_last_assistant_turn(tiny_model: Path, tmp_path: Path, helpers: SimpleNamespace) -> None:
    examples = [
        ChatExample(
            [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "How do I restore a file?"},
                {"role": "assistant", "content": "Open Deleted files and click Restore."},
            ]
        ),
        ChatExample(
            [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello there."},
                {"role": "user", "content": "Bye"},
                {"role": "assistant", "content": "See you soon."},
            ]
        ),
    ]
    trainer, tokenizer = make_trainer(helpers.quick_config(), f"hf:{tiny_model}", examples, [], tmp_path / "ck")
    rows = trainer.train_dataset
    for row, last in zip(rows, ["Open Deleted files and click Restore.", "See you soon."], strict=True):
        ids, labels = row["input_ids"], row["labels"]
        trained = [i for i, lab in zip(ids, labels, strict=True) if lab != -100]
        assert all(lab in (-100, i) for i, lab in zip(ids, labels, strict=True))
        # Exactly the final assistant turn and its end-of-turn tokens; no system/user/earlier-assistant token.
        assert tokenizer.decode(trained) == last + tokenizer.eos_token + "\n"
        first = labels.index(next(lab for lab in labels if lab != -100))
        assert tokenizer.decode(ids[:first]).endswith("<|assistant|>\n")


def test_lora_changes_only_the_adapter_and_reloads_exactly(lora_run: Any) -> None:
    r = lora_run.result
    losses = [loss for _, loss in r.loss_history]
    assert len(losses) == 20 and sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 - 0.3
    assert r.eval_history and r.metrics["eval_loss"] < 6.0
    assert r.tokens_seen > 0 and r.tokens_per_s > 0

    trained = r.model
    fresh = AutoModelForCausalLM.from_pretrained(lora_run.base, dtype=torch.float32)
    base_params = dict(fresh.named_parameters())
    lora_b = 0
    for name, p in trained.named_parameters():
        if "lora_" in name:
            if "lora_B" in name:  # initialised to zeros: non-zero means training moved it
                lora_b += 1
                assert p.abs().sum() > 0, name
            continue
        plain = name.replace("base_model.model.", "").replace(".base_layer", "")
        assert torch.equal(p.detach(), base_params[plain].detach()), f"base weight changed: {plain}"
    assert lora_b > 0

    from peft import PeftModel

    reloaded = PeftModel.from_pretrained(fresh, str(r.path)).eval()
    ids = AutoTokenizer.from_pretrained(lora_run.base)("How do I share a folder?", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.equal(trained(input_ids=ids).logits, reloaded(input_ids=ids).logits)


def test_same_seed_same_loss_trajectory(
    tiny_model: Path, format_file: Path, tmp_path: Path, helpers: SimpleNamespace
) -> None:
    def run(seed: int) -> list[tuple[int, float]]:
        config = helpers.quick_config(max_steps=4, seed=seed, val_share=0.0)
        r = train(format_file, f"hf:{tiny_model}", config, kb_dir=tmp_path, quiet=True, track=False, register=False)
        return r.loss_history

    first = run(7)
    assert first == run(7)
    assert first != run(8)


def test_a_format_is_learned(
    tiny_model: Path, eval_rows: list[dict[str, Any]], tmp_path: Path, helpers: SimpleNamespace
) -> None:
    """48 examples in one answer format; greedy answers to 12 unseen questions follow it before vs after.

    Full fine-tuning: on a 64-wide, 2-layer model LoRA at a stable learning rate needs hundreds of steps to move
    the first tokens (measured: 0/12 after 60 steps at lr 1e-2), while full fine-tuning learns it in 40."""
    data = [helpers.format_example(r) for r in eval_rows[:48]]
    questions = [r["question"] for r in eval_rows[80:92]]
    config = helpers.quick_config(
        method="full", max_steps=40, learning_rate=3e-3, val_share=0.0, lr_scheduler="constant"
    )
    r = train(data, f"hf:{tiny_model}", config, kb_dir=tmp_path, quiet=True, track=False, register=False)

    def share(generator: HFGenerator) -> float:
        outs = [generator.generate([{"role": "user", "content": q}], max_new_tokens=40).text for q in questions]
        return sum(helpers.follows_format(o) for o in outs) / len(outs)

    before = share(HFGenerator(tiny_model, device="cpu"))
    after = share(HFGenerator(r.path, device="cpu"))
    assert before <= 0.1
    assert after >= 0.5, after


def test_qlora_needs_cuda_and_bitsandbytes(
    tiny_model: Path, format_file: Path, tmp_path: Path, helpers: SimpleNamespace
) -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA present: the error path is for CPU-only machines")
    with pytest.raises(ConfigError, match="bitsandbytes"):
        train(
            format_file,
            f"hf:{tiny_model}",
            helpers.quick_config(qlora=True),
            kb_dir=tmp_path,
            track=False,
            register=False,
        )


def test_config_sources_and_errors(tmp_path: Path) -> None:
    project = {"train": {"learning_rate": 1e-3, "lora_rank": 4, "seed": 1}}
    tune_toml = tmp_path / "tune.toml"
    tune_toml.write_text('[train]\nrank = 16\nnum_epochs = 2\ntarget_modules = ["q_proj", "v_proj"]\n')
    config = load_train_config(tune_toml, {"seed": 9, "batch_size": None}, project=project)
    assert (config.learning_rate, config.lora_rank, config.num_epochs, config.seed) == (1e-3, 16, 2.0, 9)
    assert config.target_modules == "q_proj,v_proj" and config.batch_size == TrainConfig().batch_size
    tune_toml.write_text("[train]\nlearnig_rate = 1\n")
    with pytest.raises(ConfigError, match=r"tune.toml: unknown training setting 'learnig_rate'"):
        load_train_config(tune_toml, project={})
    with pytest.raises(ConfigError, match="lora_dropout"):
        TrainConfig(lora_dropout=1.5).validate()
    with pytest.raises(ConfigError, match="expected int"):
        load_train_config(None, {"lora_rank": "many"}, project={})


def test_early_stopping_restores_the_best_weights(
    tiny_model: Path, format_file: Path, tmp_path: Path, helpers: SimpleNamespace
) -> None:
    # Validation on another distribution (the help center's voice) while training on the answer format: its loss
    # rises after the first steps, so patience 2 stops the run and the best (earliest) weights come back.
    style = [json.loads(line) for line in STYLE.read_text().splitlines()[:10]]
    config = helpers.quick_config(
        max_steps=30, learning_rate=2e-2, eval_strategy="steps", eval_steps=2, early_stopping_patience=2
    )
    r = train(
        format_file, f"hf:{tiny_model}", config, val=style, kb_dir=tmp_path, quiet=True, track=False, register=False
    )
    assert r.stopped_early and r.global_step < 30
    assert r.metrics["eval_loss"] == pytest.approx(r.metrics["best_eval_loss"], abs=1e-5)
    assert r.metrics["best_eval_loss"] < max(loss for _, loss in r.eval_history[:-1])
