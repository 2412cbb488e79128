"""Training settings: :class:`TrainConfig`, a dataclass whose fields carry their help text (as TRL's ``SFTConfig``).

Sources, later wins: the defaults below < the ``[train]`` section of ``ragtune.toml`` < a ``--config tune.toml``
file (top-level keys, or a ``[train]`` table) < CLI flags (one ``--flag`` per field, generated from this class).
Sweeps use short aliases (``lr``, ``rank``, ...) for the common fields, see :data:`ALIASES`.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragtune.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

METHODS = ("lora", "full")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda")
EVAL_STRATEGIES = ("epoch", "steps", "no")

# Short names accepted by sweeps and config files for the fields people tune most.
ALIASES = {
    "lr": "learning_rate",
    "rank": "lora_rank",
    "r": "lora_rank",
    "alpha": "lora_alpha",
    "dropout": "lora_dropout",
    "epochs": "num_epochs",
    "batch": "batch_size",
}


@dataclass
class TrainConfig:
    """Every setting of one training run (LoRA or full fine-tuning with TRL's SFTTrainer)."""

    method: str = field(default="lora", metadata={"help": "lora (PEFT adapter) | full (all weights; small models)"})
    num_epochs: float = field(default=3.0, metadata={"help": "passes over the training data"})
    max_steps: int = field(default=-1, metadata={"help": "stop after this many optimizer steps (-1: use epochs)"})
    learning_rate: float = field(default=2e-4, metadata={"help": "peak learning rate (AdamW)"})
    lr_scheduler: str = field(default="linear", metadata={"help": "linear | cosine | constant | ... (transformers)"})
    warmup_ratio: float = field(default=0.0, metadata={"help": "share of steps spent warming up the learning rate"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping norm"})
    batch_size: int = field(default=4, metadata={"help": "examples per device step"})
    grad_accum: int = field(default=1, metadata={"help": "gradient accumulation steps per optimizer step"})
    max_length: int = field(
        default=512, metadata={"help": "tokens per example; longer ones are cut, or left out if the prompt fills it"}
    )
    lora_rank: int = field(default=8, metadata={"help": "LoRA rank r"})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA alpha (scale = alpha / r)"})
    lora_dropout: float = field(default=0.05, metadata={"help": "dropout on the LoRA path"})
    target_modules: str = field(
        default="all-linear", metadata={"help": "LoRA targets: all-linear, or comma-separated module names"}
    )
    val_share: float = field(
        default=0.1, metadata={"help": "share of the data held out for validation when no --val file is given"}
    )
    eval_strategy: str = field(
        default="epoch", metadata={"help": "when to compute validation loss: epoch | steps | no"}
    )
    eval_steps: int = field(default=50, metadata={"help": "steps between validations with eval_strategy=steps"})
    early_stopping_patience: int = field(
        default=0, metadata={"help": "stop after this many validations without improvement, keep the best (0: off)"}
    )
    save_steps: int = field(default=50, metadata={"help": "steps between checkpoints (what --resume continues from)"})
    save_total_limit: int = field(default=2, metadata={"help": "checkpoints kept"})
    logging_steps: int = field(default=1, metadata={"help": "steps between logged metrics"})
    seed: int = field(default=42, metadata={"help": "random seed (same seed + data → same loss trajectory)"})
    precision: str = field(
        default="auto",
        metadata={"help": "auto (bf16 on CUDA or CPUs with native bf16, else fp32) | fp32 | bf16 | fp16"},
    )
    device: str = field(default="auto", metadata={"help": "auto (CUDA when available) | cpu | cuda"})
    qlora: bool = field(default=False, metadata={"help": "load the base model in 4 bits (needs CUDA + bitsandbytes)"})
    threads: int = field(default=0, metadata={"help": "torch CPU threads (0: torch's default)"})

    def validate(self, origin: str = "config") -> TrainConfig:
        """Raise ConfigError for a value out of range; return self."""
        checks = [
            (self.method in METHODS, "method", f"one of {', '.join(METHODS)}"),
            (self.precision in PRECISIONS, "precision", f"one of {', '.join(PRECISIONS)}"),
            (self.device in DEVICES, "device", f"one of {', '.join(DEVICES)}"),
            (self.eval_strategy in EVAL_STRATEGIES, "eval_strategy", f"one of {', '.join(EVAL_STRATEGIES)}"),
            (self.learning_rate > 0, "learning_rate", "> 0"),
            (self.batch_size >= 1, "batch_size", "≥ 1"),
            (self.grad_accum >= 1, "grad_accum", "≥ 1"),
            (self.max_length >= 8, "max_length", "≥ 8"),
            (self.lora_rank >= 1, "lora_rank", "≥ 1"),
            (0 <= self.lora_dropout < 1, "lora_dropout", "in [0, 1)"),
            (0 <= self.val_share < 1, "val_share", "in [0, 1)"),
            (self.num_epochs > 0 or self.max_steps > 0, "num_epochs", "> 0 (or max_steps > 0)"),
            (self.save_steps >= 1, "save_steps", "≥ 1"),
            (self.early_stopping_patience >= 0, "early_stopping_patience", "≥ 0"),
        ]
        for ok, name, expected in checks:
            if not ok:
                raise ConfigError(f"{origin}: {name} = {getattr(self, name)!r}: expected {expected}")
        if self.early_stopping_patience and self.eval_strategy == "no":
            raise ConfigError(f"{origin}: early_stopping_patience needs validation (eval_strategy epoch or steps)")
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for logging and for the ``config.json`` of a run."""
        return dataclasses.asdict(self)

    def replace(self, **values: Any) -> TrainConfig:
        """A copy with some fields changed (aliases allowed, values coerced and checked)."""
        return apply_values(self, values, "override")


def field_help() -> dict[str, str]:
    """Field name → help text (used to generate CLI flags)."""
    return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(TrainConfig)}


def field_types() -> dict[str, str]:
    """Field name → type name (``int``, ``float``, ``str``, ``bool``)."""
    return {f.name: str(f.type) for f in dataclasses.fields(TrainConfig)}


def _coerce(name: str, value: Any, kind: str, origin: str) -> Any:
    try:
        if kind == "bool":
            if isinstance(value, str):
                if value.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                    raise ValueError
                return value.lower() in ("1", "true", "yes", "on")
            if not isinstance(value, bool):
                raise ValueError
            return value
        if kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if isinstance(value, list):  # target_modules = ["q_proj", "v_proj"]
            return ",".join(str(v) for v in value)
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{origin}: {name} = {value!r}: expected {kind}") from None


def apply_values(config: TrainConfig, values: dict[str, Any], origin: str) -> TrainConfig:
    """``config`` with ``values`` (field names or :data:`ALIASES`) applied; unknown keys raise ConfigError."""
    types = field_types()
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        name = ALIASES.get(key, key).replace("-", "_")
        if name not in types:
            raise ConfigError(f"{origin}: unknown training setting {key!r}; known: {', '.join(types)}")
        changes[name] = _coerce(key, value, types[name], origin)
    return dataclasses.replace(config, **changes).validate(origin)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def load_train_config(
    config_file: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    project: dict[str, Any] | None = None,
) -> TrainConfig:
    """Defaults < ``[train]`` of ragtune.toml (``project``: the parsed file, default :func:`raw_config`) <
    ``config_file`` (top-level keys or a ``[train]`` table) < ``overrides`` (None values are ignored)."""
    from ragtune.config import raw_config

    config = TrainConfig()
    project = raw_config() if project is None else project
    section = project.get("train")
    if section is not None:
        if not isinstance(section, dict):
            raise ConfigError("ragtune.toml: [train] must be a table")
        config = apply_values(config, section, "ragtune.toml [train]")
    if config_file is not None:
        path = Path(config_file)
        data = _read_toml(path)
        table = data.get("train", data)
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [train] must be a table")
        config = apply_values(config, table, str(path))
    return apply_values(config, overrides or {}, "flags")


def config_from_json(path: str | Path) -> TrainConfig:
    """The TrainConfig a run saved in its ``config.json``."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return apply_values(TrainConfig(), data.get("train", data), str(path))
