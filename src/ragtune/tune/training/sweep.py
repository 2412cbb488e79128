"""Hyperparameter sweeps: a cartesian grid or a seeded random search over :class:`TrainConfig` fields.

Every trial is an ordinary tracked training run (nested under one parent MLflow run) and registered model
(``<name>-t1``, ``<name>-t2``, ...). The best trial by a metric (default ``eval_loss``, lower is better; falls
back to ``train_loss`` when there is no validation data) is tagged ``best`` in the registry.

Grid: ``lr=1e-4,3e-4 rank=8,16`` (4 trials). Random: ``lr=loguniform:1e-5:1e-3 rank=choice:4,8,16
dropout=uniform:0:0.2 epochs=int:1:3`` with ``trials`` and ``seed``. Names are TrainConfig fields or their
aliases (``lr``, ``rank``, ``alpha``, ``dropout``, ``epochs``, ``batch``).
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragtune.errors import ConfigError
from ragtune.tune.registry import ModelRegistry, check_name
from ragtune.tune.training.config import ALIASES, TrainConfig, field_types
from ragtune.tune.training.rundir import kb_root, new_run_id
from ragtune.tune.training.train import Data, TrainResult, train

DISTRIBUTIONS = ("loguniform", "uniform", "int", "choice")


def _field(name: str) -> str:
    full = ALIASES.get(name, name).replace("-", "_")
    if full not in field_types():
        raise ConfigError(
            f"sweep: unknown setting {name!r}; known: {', '.join(field_types())} (or {', '.join(ALIASES)})"
        )
    return full


def _split_pair(item: str, option: str) -> tuple[str, str]:
    if "=" not in item:
        raise ConfigError(f"{option} {item!r}: expected NAME=VALUES")
    key, value = item.split("=", 1)
    return key.strip(), value.strip()


def parse_grid(items: Sequence[str]) -> dict[str, list[str]]:
    """``["lr=1e-4,3e-4", "rank=8,16"]`` → ``{"learning_rate": [...], "lora_rank": [...]}`` (values as text)."""
    grid: dict[str, list[str]] = {}
    for item in items:
        key, value = _split_pair(item, "--grid")
        values = [v.strip() for v in value.split(",") if v.strip()]
        if not values:
            raise ConfigError(f"--grid {item!r}: no values")
        grid[_field(key)] = values
    return grid


def parse_space(items: Sequence[str]) -> dict[str, tuple[str, list[str]]]:
    """``["lr=loguniform:1e-5:1e-3", "rank=choice:4,8,16"]`` → field → (distribution, arguments)."""
    space: dict[str, tuple[str, list[str]]] = {}
    for item in items:
        key, value = _split_pair(item, "--space")
        kind, _, rest = value.partition(":")
        if kind not in DISTRIBUTIONS:
            raise ConfigError(f"--space {item!r}: distribution must be one of {', '.join(DISTRIBUTIONS)}")
        args = rest.split(",") if kind == "choice" else rest.split(":")
        args = [a.strip() for a in args if a.strip()]
        if (kind == "choice" and not args) or (kind != "choice" and len(args) != 2):
            raise ConfigError(
                f"--space {item!r}: expected {kind}:LOW:HIGH" + (" or choice:A,B,C" if kind != "choice" else "")
            )
        if kind != "choice":
            try:
                low, high = float(args[0]), float(args[1])
            except ValueError:
                raise ConfigError(f"--space {item!r}: bounds must be numbers") from None
            if low > high or (kind == "loguniform" and low <= 0):
                raise ConfigError(f"--space {item!r}: need 0 < LOW ≤ HIGH for loguniform, LOW ≤ HIGH otherwise")
        space[_field(key)] = (kind, args)
    return space


def grid_trials(grid: dict[str, list[str]]) -> list[dict[str, str]]:
    """Every combination, in the order the values were given."""
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(grid[k] for k in keys))]


def random_trials(space: dict[str, tuple[str, list[str]]], n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` seeded draws from ``space`` (same seed → same trials)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        trial: dict[str, Any] = {}
        for key, (kind, args) in space.items():
            if kind == "choice":
                trial[key] = rng.choice(args)
            elif kind == "int":
                trial[key] = rng.randint(int(float(args[0])), int(float(args[1])))
            elif kind == "uniform":
                trial[key] = round(rng.uniform(float(args[0]), float(args[1])), 6)
            else:
                lo, hi = math.log(float(args[0])), math.log(float(args[1]))
                trial[key] = float(f"{math.exp(rng.uniform(lo, hi)):.3g}")
        out.append(trial)
    return out


@dataclass
class Trial:
    """One trial: its settings, its training result and the value of the chosen metric."""

    number: int
    params: dict[str, Any]
    result: TrainResult
    value: float


@dataclass
class SweepResult:
    """All trials and the best one (by ``metric`` and ``mode``)."""

    sweep_id: str
    metric: str
    mode: str
    trials: list[Trial] = field(default_factory=list)
    best: Trial | None = None
    mlflow_run_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        def row(t: Trial) -> dict[str, Any]:
            r = t.result
            return {
                "trial": t.number,
                "params": t.params,
                "value": t.value,
                "model": r.model_name,
                "run_id": r.run_id,
                "metrics": r.metrics,
                "train_seconds": r.train_seconds,
            }

        return {
            "sweep_id": self.sweep_id,
            "metric": self.metric,
            "mode": self.mode,
            "best": row(self.best) if self.best else None,
            "trials": [row(t) for t in self.trials],
        }


def sweep(
    data: Data,
    base: str,
    trials: list[dict[str, Any]],
    config: TrainConfig | None = None,
    *,
    val: Data | None = None,
    name: str | None = None,
    metric: str = "eval_loss",
    mode: str = "min",
    kb_dir: str | Path | None = None,
    quiet: bool = True,
    track: bool = True,
    on_trial: Callable[[Trial], None] | None = None,
) -> SweepResult:
    """Train one model per trial (settings applied over ``config``), then tag the best one ``best``."""
    if mode not in ("min", "max"):
        raise ConfigError(f"--mode {mode!r}: expected min or max")
    if not trials:
        raise ConfigError("a sweep needs at least one trial (--grid or --space with --trials)")
    base_config = (config or TrainConfig()).validate()
    configs = [base_config.replace(**t) for t in trials]  # every trial's settings checked before any training
    root = kb_root(kb_dir)
    sweep_id = new_run_id()
    prefix = check_name(name or f"sweep-{sweep_id.replace('-', '')[-8:]}")
    result = SweepResult(sweep_id, metric, mode)
    tracker = None
    if track:
        from ragtune.tune.training.tracking import Tracker

        tracker = Tracker(root)
        result.mlflow_run_id = tracker.start(sweep_id, {"ragtune_kind": "sweep"})
        tracker.log_params(result.mlflow_run_id, {"base": base, "metric": metric, "mode": mode, "trials": len(trials)})
    started = time.perf_counter()
    try:
        for i, (params, cfg) in enumerate(zip(trials, configs, strict=True), start=1):
            r = train(
                data,
                base,
                cfg,
                val=val,
                name=f"{prefix}-t{i}",
                kb_dir=root,
                quiet=quiet,
                track=track,
                tags=[f"sweep:{sweep_id}"],
                parent_run_id=result.mlflow_run_id,
            )
            key = metric if metric in r.metrics else ("train_loss" if metric == "eval_loss" else metric)
            if key not in r.metrics:
                raise ConfigError(f"--metric {metric!r}: trials report {', '.join(sorted(r.metrics))}")
            if key != result.metric:
                result.metric = key
            trial = Trial(i, dict(params), r, float(r.metrics[key]))
            result.trials.append(trial)
            if on_trial is not None:
                on_trial(trial)
    except BaseException:
        if tracker is not None and result.mlflow_run_id:
            tracker.end(result.mlflow_run_id, status="FAILED")
        raise
    pick = min if mode == "min" else max
    result.best = pick(result.trials, key=lambda t: t.value)
    names = [t.result.model_name for t in result.trials if t.result.model_name]
    with ModelRegistry.open(root) as registry:
        assert result.best.result.model_name is not None
        registry.tag(result.best.result.model_name, "best", exclusive_among=names)
    if tracker is not None and result.mlflow_run_id:
        tracker.log_metrics(
            result.mlflow_run_id,
            {f"best_{result.metric}": result.best.value, "seconds": time.perf_counter() - started},
            0,
        )
        tracker.set_tags(result.mlflow_run_id, {"best_run": result.best.result.run_id, "ragtune_model": prefix})
        tracker.end(result.mlflow_run_id)
    return result
