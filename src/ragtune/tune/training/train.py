"""Supervised fine-tuning: :func:`train` runs TRL's ``SFTTrainer`` (PEFT LoRA, or full fine-tuning) on chat
examples, tracks the run in MLflow and registers the model.

What one call does: read and hash the data; hold out a validation share (or take ``val``); load the base model
(``hf:PATH_OR_ID``) on CUDA when available, else CPU — bf16 where the hardware runs it natively, else fp32;
4-bit QLoRA with ``qlora`` on CUDA + bitsandbytes; train with loss on the last assistant turn only (see
:mod:`ragtune.tune.data.trainset`), validation each epoch, optional early stopping that keeps the best weights,
checkpoints every ``save_steps`` (``resume`` continues an interrupted run from its last one); save the adapter
(or full model) under ``<kb>/runs/<run_id>/``; log params, per-step metrics and artifacts; register the model.

Heavy imports (torch, transformers, TRL, MLflow) happen inside :func:`train`, so importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragtune.errors import ConfigError
from ragtune.tune.data.dataset import ChatExample
from ragtune.tune.data.trainset import TrainSet, load_trainset, split
from ragtune.tune.registry import ModelRegistry, RegisteredModel, check_name
from ragtune.tune.training.config import TrainConfig
from ragtune.tune.training.rundir import (
    RUNS,
    find_resumable,
    kb_root,
    last_checkpoint,
    new_run_id,
    read_run,
    write_json,
)

Data = str | Path | Sequence[ChatExample | dict[str, Any]]


@dataclass
class TrainResult:
    """What a finished run produced. ``path`` is the adapter (lora) or the full checkpoint (full)."""

    run_id: str
    model_name: str | None
    run_dir: Path
    path: Path
    method: str
    base: str
    metrics: dict[str, float]
    train_seconds: float
    tokens_seen: int
    tokens_per_s: float
    global_step: int
    resumed_from_step: int | None
    data_sha256: str
    kb_version: int | None
    mlflow_run_id: str | None
    steps_run: int = 0
    stopped_early: bool = False
    dropped_too_long: int = 0  # training examples left out: the prompt alone filled max_length
    loss_history: list[tuple[int, float]] = field(default_factory=list)
    eval_history: list[tuple[int, float]] = field(default_factory=list)
    model: Any = field(default=None, repr=False)

    @property
    def adapter_path(self) -> Path | None:
        return self.path if self.method == "lora" else None

    def as_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "model"}
        out.update(run_dir=str(self.run_dir), path=str(self.path))
        return out


def normalize_base(base: str) -> str:
    """``hf:`` spec for a model: local paths become absolute (so ``ft:NAME`` works from any directory); a bundled
    model keeps its short name (``smollm2``), resolved to its cache directory wherever it is loaded."""
    if base.startswith("ft:"):
        raise ConfigError(f"--base {base}: train on a base model; to continue from it, merge it first (models merge)")
    from ragtune.llm.bundled import bundled_name

    if (short := bundled_name(base)) is not None:
        return short
    ident = base[3:] if base.startswith("hf:") else base
    p = Path(ident).expanduser()
    return "hf:" + (str(p.resolve()) if p.exists() else ident)


def train(
    data: Data,
    base: str,
    config: TrainConfig | None = None,
    *,
    val: Data | None = None,
    name: str | None = None,
    kb_dir: str | Path | None = None,
    resume: bool | str = False,
    quiet: bool = False,
    track: bool = True,
    register: bool = True,
    replace: bool = False,
    tags: Sequence[str] = (),
    parent_run_id: str | None = None,
    return_model: bool = False,
) -> TrainResult:
    """Fine-tune ``base`` (``hf:PATH_OR_ID``) on ``data`` (chat JSONL path or examples) and return the result.

    ``resume``: True continues the newest interrupted run on the same data and base, a string names the run;
    the run's saved config is used. ``track``: log to MLflow. ``register``: add the model to the registry as
    ``name`` (default: derived from the data and run id; ``replace`` overwrites an existing name).
    ``parent_run_id``: an MLflow run to nest under (sweeps). ``quiet``: no progress bar or library chatter.
    ``return_model``: keep the trained model (a PeftModel for LoRA, in eval mode) in ``result.model``.
    """
    root = kb_root(kb_dir)
    trainset = load_trainset(data)
    base = normalize_base(base)
    resumed: Path | None = None
    if resume:
        from ragtune.tune.training.config import config_from_json

        resumed = find_resumable(root, resume, trainset.sha256, base)
        info = read_run(resumed)
        config = config_from_json(resumed / "config.json")
        name = name or info.get("name")
        run_id, run_dir = resumed.name, resumed
    else:
        config = (config or TrainConfig()).validate()
        run_id = new_run_id()
        run_dir = root / RUNS / run_id
        info = {}
    valset = load_trainset(val) if val is not None else None
    train_ex, val_ex = (
        (trainset.examples, valset.examples) if valset else split(trainset.examples, config.val_share, config.seed)
    )
    if config.eval_strategy == "no":
        val_ex = []
    if config.early_stopping_patience and not val_ex:
        raise ConfigError("early stopping needs validation data (--val FILE or --val-share > 0 with ≥ 4 examples)")
    name = check_name(name) if name else _derived_name(trainset, run_id)
    if register and not replace and not resumed:
        with ModelRegistry.open(root) as reg:
            if reg.exists(name):
                raise ConfigError(f"a model named {name!r} is already registered; choose another --name or --replace")

    info = {
        **info,
        "run_id": run_id,
        "status": "running",
        "name": name,
        "base": base,
        "data_path": trainset.path,
        "data_sha256": trainset.sha256,
        "val_path": valset.path if valset else None,
        "kb_version": trainset.kb_version,
        "created_at": info.get("created_at", time.time()),
    }
    write_json(run_dir / "config.json", {"train": config.to_dict()})
    tracker, mlflow_id = _start_tracking(root, info, config, len(train_ex), len(val_ex), track, parent_run_id)
    info["mlflow_run_id"] = mlflow_id
    write_json(run_dir / "run.json", info)
    try:
        with _quiet(quiet):
            result = _fit(config, info, run_dir, train_ex, val_ex, resumed, quiet, tracker, mlflow_id, return_model)
    except BaseException:
        if tracker is not None and mlflow_id is not None:
            with contextlib.suppress(Exception):
                tracker.end(mlflow_id, status="FAILED")
        raise
    write_json(run_dir / "metrics.json", result.as_dict())
    if tracker is not None and mlflow_id is not None:
        final = {**result.metrics, "train_seconds": result.train_seconds, "tokens_per_s": result.tokens_per_s}
        tracker.log_metrics(mlflow_id, final, step=result.global_step)
        tracker.log_artifact(mlflow_id, run_dir / "config.json")
        tracker.log_artifact(mlflow_id, result.path, artifact_path=result.path.name)
        tracker.set_tags(mlflow_id, {"ragtune_model": name})
        tracker.end(mlflow_id)
    if register:
        with ModelRegistry.open(root) as reg:
            reg.register(
                RegisteredModel(
                    name=name,
                    base=base,
                    method=config.method,
                    path=str(result.path),
                    data_sha256=trainset.sha256,
                    data_path=trainset.path,
                    kb_version=trainset.kb_version,
                    metrics={k: v for k, v in result.metrics.items() if k in ("train_loss", "eval_loss")},
                    run_id=run_id,
                    tags=list(tags),
                ),
                replace=replace or resumed is not None,
            )
        result.model_name = name
    write_json(run_dir / "run.json", {**info, "status": "finished", "finished_at": time.time()})
    return result


def _derived_name(trainset: TrainSet, run_id: str) -> str:
    stem = Path(trainset.path).stem if trainset.path else "model"
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-._") or "model"
    return f"{stem}-{run_id.replace('-', '')[-8:]}"


def _start_tracking(
    root: Path, info: dict[str, Any], config: TrainConfig, n_train: int, n_val: int, track: bool, parent: str | None
) -> tuple[Any, str | None]:
    if not track:
        return None, None
    from ragtune.tune.training.tracking import Tracker

    tracker = Tracker(root)
    mlflow_id = info.get("mlflow_run_id")
    if mlflow_id:
        tracker.reopen(mlflow_id)
    else:
        mlflow_id = tracker.start(info["run_id"], {"ragtune_kind": "train"}, parent=parent)
    params = {
        **config.to_dict(),
        "base": info["base"],
        "data_path": info["data_path"] or "<in memory>",
        "data_sha256": info["data_sha256"],
        "val_path": info["val_path"] or "",
        "kb_version": info["kb_version"],
        "train_examples": n_train,
        "val_examples": n_val,
        "model_name": info["name"],
    }
    tracker.log_params(mlflow_id, params)
    return tracker, mlflow_id


@contextlib.contextmanager
def _quiet(quiet: bool) -> Iterator[None]:
    """Silence transformers/TRL/datasets chatter (always the dataset progress bars; all of it when quiet)."""
    import datasets
    import transformers

    datasets.disable_progress_bars()
    old = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    bars = transformers.utils.logging.is_progress_bar_enabled()
    if quiet:
        transformers.utils.logging.disable_progress_bar()
    trl_logger = logging.getLogger("trl")
    old_trl = trl_logger.level
    trl_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            # Deprecation notices from inside transformers/TRL/PEFT (not about anything the user chose).
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        transformers.logging.set_verbosity(old)
        if bars:
            transformers.utils.logging.enable_progress_bar()
        trl_logger.setLevel(old_trl)


def _check_lengths(
    trainer: Any,
    tokenizer: Any,
    config: TrainConfig,
    info: dict[str, Any],
    train_ex: list[ChatExample],
    val_ex: list[ChatExample],
) -> int:
    """How many training examples TRL dropped as too long; ConfigError when it dropped all of a data set
    (otherwise transformers fails later with "num_samples should be a positive integer value")."""
    from ragtune.tune.training.sft import dropped_too_long, longest_example

    dropped, dropped_val = dropped_too_long(trainer, train_ex, val_ex)
    for n, examples, label, path in (
        (dropped, train_ex, "training", info["data_path"]),
        (dropped_val, val_ex, "validation", info["val_path"] or info["data_path"]),
    ):
        if examples and n == len(examples):
            raise ConfigError(
                f"{path or '<in-memory data>'}: all {n} {label} examples are too long for max_length "
                f"{config.max_length} (the prompt alone fills it; the longest example is "
                f"{longest_example(tokenizer, examples)} tokens). Raise --max-length, or shorten the examples; "
                "for RAFT data, build it for this model: ragtune data build --raft --base MODEL"
            )
    return dropped


def _fit(
    config: TrainConfig,
    info: dict[str, Any],
    run_dir: Path,
    train_ex: list[ChatExample],
    val_ex: list[ChatExample],
    resumed: Path | None,
    quiet: bool,
    tracker: Any,
    mlflow_id: str | None,
    return_model: bool,
) -> TrainResult:
    from ragtune.tune.training.callbacks import BestWeights, StepCounter, TrackingCallback
    from ragtune.tune.training.sft import make_trainer

    trainer, tokenizer = make_trainer(config, info["base"], train_ex, val_ex, run_dir / "checkpoints", quiet=quiet)
    dropped = _check_lengths(trainer, tokenizer, config, info, train_ex, val_ex)
    has_val = bool(val_ex)
    best = BestWeights(run_dir / "best", config.early_stopping_patience)
    counter = StepCounter()
    trainer.add_callback(counter)
    trainer.add_callback(TrackingCallback(tracker, mlflow_id))
    trainer.add_callback(best)
    checkpoint = last_checkpoint(run_dir) if resumed else None
    start_step = int(checkpoint.name.split("-")[1]) if checkpoint else None
    started = time.perf_counter()
    out = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    seconds = time.perf_counter() - started
    state = trainer.state
    tokens_total = int(state.num_input_tokens_seen)
    tokens_session = tokens_total - int(getattr(trainer, "_initial_num_input_tokens_seen", 0) or 0)
    metrics: dict[str, float] = {"train_loss": float(out.training_loss)}
    if config.early_stopping_patience:
        best.restore(trainer.model)
    if has_val:
        metrics["eval_loss"] = float(trainer.evaluate()["eval_loss"])
        if best.best_step is not None:
            metrics["best_eval_loss"], metrics["best_step"] = best.best_loss, float(best.best_step)
    losses = [(int(h["step"]), float(h["loss"])) for h in state.log_history if "loss" in h]
    evals = [(int(h["step"]), float(h["eval_loss"])) for h in state.log_history if "eval_loss" in h]
    if losses:
        metrics["final_step_loss"] = losses[-1][1]
    target = run_dir / ("adapter" if config.method == "lora" else "model")
    # Mixed precision wraps forward() in autocast; the model handed back computes like the saved one reloaded.
    trained: Any = trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
    trained.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return TrainResult(
        run_id=info["run_id"],
        model_name=None,
        run_dir=run_dir,
        path=target,
        method=config.method,
        base=info["base"],
        metrics=metrics,
        train_seconds=round(seconds, 3),
        tokens_seen=tokens_total,
        tokens_per_s=round(tokens_session / seconds, 1) if seconds > 0 else 0.0,
        global_step=int(state.global_step),
        resumed_from_step=start_step,
        data_sha256=info["data_sha256"],
        kb_version=info["kb_version"],
        mlflow_run_id=mlflow_id,
        steps_run=counter.steps,
        stopped_early=best.stopped_early,
        dropped_too_long=dropped,
        loss_history=losses,
        eval_history=evals,
        model=trained.eval() if return_model else None,
    )
