"""Building TRL's ``SFTTrainer`` for a :class:`TrainConfig`: device and precision, the base model (optionally
4-bit), the LoRA config, the ``SFTConfig`` and the prompt/completion datasets (loss on the completion only).

Kept apart from :mod:`ragtune.tune.training.train` (which runs, tracks and registers) so tests and other callers
can build the exact trainer a run uses, e.g. to inspect its labels.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from ragtune.errors import ConfigError, ModelError
from ragtune.hardware import (
    auto_precision,
    cuda_available,
    load_causal_lm,
    load_tokenizer,
    set_torch_threads,
    torch_dtype,
)
from ragtune.tune.data.dataset import ChatExample
from ragtune.tune.data.trainset import to_rows
from ragtune.tune.training.config import TrainConfig


def resolve_precision(config: TrainConfig) -> tuple[str, str]:
    """(device, precision) for ``config`` on this machine: CUDA when available; bf16 only where native."""
    cuda = cuda_available()
    device = ("cuda" if cuda else "cpu") if config.device == "auto" else config.device
    if device == "cuda" and not cuda:
        raise ConfigError("device = cuda, but no CUDA device is available")
    precision = config.precision
    if precision == "auto":
        precision = auto_precision(device)
    if precision == "fp16" and device == "cpu":
        raise ConfigError("precision fp16 needs CUDA; on CPU use fp32 or bf16")
    if config.qlora:
        if config.method != "lora":
            raise ConfigError("qlora needs method = lora")
        if device != "cuda" or importlib.util.find_spec("bitsandbytes") is None:
            raise ConfigError("qlora (4-bit) needs a CUDA device and the bitsandbytes package")
    return device, precision


def load_base(base: str, config: TrainConfig, device: str, precision: str) -> tuple[Any, Any]:
    from ragtune.llm.bundled import resolve_model
    from ragtune.llm.hf import FALLBACK_CHAT_TEMPLATE

    ident = resolve_model(base)[3:]
    kw: dict[str, Any] = {"dtype": "fp32"}
    if config.qlora:
        from transformers import BitsAndBytesConfig

        compute = torch_dtype("bf16" if precision == "bf16" else "fp16")
        kw = {
            "dtype": compute,
            "quantization_config": BitsAndBytesConfig(
                load_in_4bit=True,
                bnb_4bit_quant_type="nf4",
                bnb_4bit_compute_dtype=compute,
                bnb_4bit_use_double_quant=True,
            ),
        }
    try:
        tokenizer = load_tokenizer(ident)
        model = load_causal_lm(ident, **kw)
    except (OSError, ValueError) as exc:
        raise ModelError(f"{base}: cannot load the base model: {exc}") from exc
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = FALLBACK_CHAT_TEMPLATE
    if config.qlora:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    return model, tokenizer


def make_trainer(
    config: TrainConfig,
    base: str,
    train_ex: list[ChatExample],
    val_ex: list[ChatExample],
    output_dir: str | Path,
    *,
    quiet: bool = True,
) -> tuple[Any, Any]:
    """(SFTTrainer, tokenizer) for ``config`` on ``base`` (an ``hf:`` spec); checkpoints go to ``output_dir``."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    device, precision = resolve_precision(config)
    set_torch_threads(config.threads)
    model, tokenizer = load_base(base, config, device, precision)
    peft_config = None
    if config.method == "lora":
        from peft import LoraConfig

        targets: str | list[str] = config.target_modules
        if targets != "all-linear":
            targets = [t.strip() for t in config.target_modules.split(",") if t.strip()]
        peft_config = LoraConfig(
            r=config.lora_rank,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=targets,
            task_type="CAUSAL_LM",
        )
    has_val = bool(val_ex)
    args = SFTConfig(
        output_dir=str(output_dir),
        num_train_epochs=config.num_epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_ratio,  # a float below 1 is a share of the steps
        weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm,
        logging_steps=config.logging_steps,
        eval_strategy=config.eval_strategy if has_val else "no",
        eval_steps=config.eval_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        seed=config.seed,
        data_seed=config.seed,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=device == "cpu",
        activation_checkpointing=False,
        report_to="none",
        disable_tqdm=quiet,
        max_length=config.max_length,
        packing=False,
        completion_only_loss=True,
        include_num_input_tokens_seen="non_padding",
        dataloader_num_workers=0,
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(to_rows(train_ex)),
        eval_dataset=Dataset.from_list(to_rows(val_ex)) if has_val else None,
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    if quiet:
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    return trainer, tokenizer


def longest_example(tokenizer: Any, examples: list[ChatExample]) -> int:
    """Tokens in the longest example, as the chat template renders the whole conversation."""
    longest = 0
    for example in examples:
        msgs = [{"role": m["role"], "content": m["content"]} for m in example.messages]
        text = tokenizer.apply_chat_template(msgs, tokenize=False)
        longest = max(longest, len(tokenizer(text, add_special_tokens=False)["input_ids"]))
    return longest


def dropped_too_long(trainer: Any, train_ex: list[ChatExample], val_ex: list[ChatExample]) -> tuple[int, int]:
    """(train, validation) examples that TRL dropped because truncating them to ``max_length`` left no answer
    token to learn from (the prompt alone fills ``max_length``); it drops them silently."""
    kept_val = len(trainer.eval_dataset) if val_ex and trainer.eval_dataset is not None else 0
    return len(train_ex) - len(trainer.train_dataset), (len(val_ex) - kept_val if val_ex else 0)
