"""``ragtune sweep --rag``: choose a model's RAG settings on a dev split of the team's own eval set.

The eval set is split once, by a seeded hash of each item's id, into a *dev* share (where the settings are
chosen) and the rest (held out: compare strategies there, so the choice is not graded on the questions that made
it). Every trial is a ``rag`` strategy with one combination of settings (:data:`SETTINGS`), answering the dev
questions with batched generation, scored like ``ragtune compare`` does (quality with a bootstrap interval,
groundedness, citation recall); each is one MLflow run nested under a sweep run, like training trials. The best
trial by mean quality wins; its settings are printed as a ``[strategies.NAME]`` table for ragtune.toml.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragtune.config import LLMSettings
from ragtune.errors import ConfigError
from ragtune.evaluate.evalset import EvalItem, read_eval_set
from ragtune.evaluate.metrics.bootstrap import summarize_metrics
from ragtune.evaluate.run.runner import run_strategy, score_records
from ragtune.rag.strategies import Strategy, StrategySpec, with_model_defaults

if TYPE_CHECKING:
    from ragtune.knowledge_base import KnowledgeBase
    from ragtune.llm.prompts import PromptTemplates

# What a RAG sweep may vary (StrategySpec fields), with short aliases.
SETTINGS = (
    "k",
    "context",
    "template",
    "source_tokens",
    "mode",
    "max_new_tokens",
    "no_repeat_ngram_size",
    "repetition_penalty",
    "temperature",
)
ALIASES = {"no_repeat": "no_repeat_ngram_size", "rep": "repetition_penalty", "passage_budget": "source_tokens"}
REPORTED = ("quality", "f1", "groundedness", "citation_recall", "recall@5")


def split_eval(items: Sequence[EvalItem], dev_share: float, seed: int = 0) -> tuple[list[EvalItem], list[EvalItem]]:
    """(dev, held out): items ordered by a seeded hash of their id; the first ``dev_share`` are dev. Stable when
    items are added (an item's side depends only on its id), order kept within each part."""
    if not 0 < dev_share < 1:
        raise ConfigError(f"--dev-share must be between 0 and 1, not {dev_share}")
    ranked = sorted(items, key=lambda i: hashlib.sha256(f"{seed}:{i.id}".encode()).hexdigest())
    chosen = {i.id for i in ranked[: max(1, round(dev_share * len(items)))]}
    return [i for i in items if i.id in chosen], [i for i in items if i.id not in chosen]


def parse_rag_grid(items: Sequence[str]) -> dict[str, list[Any]]:
    """``["k=1,2,3", "template=fenced,compact"]`` → field → typed values."""
    types = {f.name: f.type for f in fields(StrategySpec)}
    grid: dict[str, list[Any]] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--grid {item!r}: expected NAME=V1,V2")
        key, _, raw = item.partition("=")
        key = ALIASES.get(key.strip(), key.strip()).replace("-", "_")
        if key not in SETTINGS:
            raise ConfigError(f"--grid {key!r}: a RAG sweep varies {', '.join(SETTINGS)}")
        values = [v.strip() for v in raw.split(",") if v.strip()]
        if not values:
            raise ConfigError(f"--grid {item!r}: no values")
        grid[key] = [_typed(key, v, str(types[key])) for v in values]
    if not grid:
        raise ConfigError("a RAG sweep needs --grid NAME=V1,V2 ... (e.g. k=1,2,3 template=fenced,compact)")
    return grid


def _typed(key: str, value: str, kind: str) -> Any:
    try:
        if "int" in kind:
            return int(value)
        if "float" in kind:
            return float(value)
    except ValueError:
        raise ConfigError(f"--grid {key}: {value!r} is not a number") from None
    return value


@dataclass
class RagTrial:
    """One setting combination and what it measured on the dev split."""

    number: int
    params: dict[str, Any]
    metrics: dict[str, dict[str, float | None]]
    seconds: float
    mlflow_run_id: str | None = None

    @property
    def quality(self) -> float:
        return float(self.metrics.get("quality", {}).get("mean") or 0.0)


@dataclass
class RagSweepResult:
    model: str
    dev: list[str]
    held_out: list[str]
    base_settings: dict[str, Any]
    trials: list[RagTrial] = field(default_factory=list)
    best: RagTrial | None = None
    mlflow_run_id: str | None = None

    def best_settings(self) -> dict[str, Any]:
        return {**self.base_settings, **(self.best.params if self.best else {})}

    def toml(self, name: str = "rag-tuned") -> str:
        """The winning settings as a ragtune.toml strategy table."""
        lines = [f"[strategies.{name}]", f'generator = "{self.model}"', "retrieve = true"]
        for key, value in sorted(self.best_settings().items()):
            lines.append(f'{key} = "{value}"' if isinstance(value, str) else f"{key} = {value}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        def row(t: RagTrial) -> dict[str, Any]:
            return {
                "trial": t.number,
                "params": t.params,
                "quality": t.quality,
                "metrics": t.metrics,
                "seconds": round(t.seconds, 1),
                "mlflow_run_id": t.mlflow_run_id,
            }

        return {
            "model": self.model,
            "dev_questions": len(self.dev),
            "held_out_questions": len(self.held_out),
            "dev_ids": self.dev,
            "base_settings": self.base_settings,
            "best": row(self.best) if self.best else None,
            "best_settings": self.best_settings(),
            "trials": [row(t) for t in self.trials],
            "mlflow_run_id": self.mlflow_run_id,
        }


def rag_sweep(
    kb: KnowledgeBase,
    eval_path: Path,
    model: str,
    grid: dict[str, list[Any]],
    templates: PromptTemplates,
    *,
    config: dict[str, Any] | None = None,
    dev_share: float = 1 / 3,
    seed: int = 0,
    limit: int | None = None,
    track: bool = True,
    progress: bool = True,
    on_trial: Callable[[RagTrial], None] | None = None,
) -> RagSweepResult:
    """Answer the dev split once per combination of ``grid`` and score it; the best mean quality wins."""
    items = read_eval_set(eval_path)
    dev, held = split_eval(items, dev_share, seed)
    if limit:
        dev = dev[:limit]
    llm = LLMSettings.from_config(config or {}).strategy_defaults()
    base = with_model_defaults(model, config or {}, llm)
    result = RagSweepResult(model, [i.id for i in dev], [i.id for i in held], base)
    keys = list(grid)
    combos = [dict(zip(keys, values, strict=True)) for values in itertools.product(*(grid[k] for k in keys))]
    for params in combos:  # every trial's settings checked before any model runs
        StrategySpec.from_table("rag-trial", {**base, **params, "generator": model, "retrieve": True})
    tracker = None
    if track:
        from ragtune.tune.training.rundir import new_run_id
        from ragtune.tune.training.tracking import Tracker

        tracker = Tracker(kb.path)
        result.mlflow_run_id = tracker.start(new_run_id(), {"ragtune_kind": "rag-sweep"})
        tracker.log_params(
            result.mlflow_run_id,
            {"model": model, "eval": str(eval_path), "dev": len(dev), "trials": len(combos), "grid": grid},
        )
    try:
        for number, params in enumerate(combos, start=1):
            trial = _run_trial(kb, dev, model, base, params, number, templates, progress)
            if tracker is not None and result.mlflow_run_id:
                trial.mlflow_run_id = _track(tracker, result.mlflow_run_id, trial, model, base)
            result.trials.append(trial)
            if on_trial is not None:
                on_trial(trial)
    except BaseException:
        if tracker is not None and result.mlflow_run_id:
            tracker.end(result.mlflow_run_id, status="FAILED")
        raise
    result.best = max(result.trials, key=lambda t: t.quality)
    if tracker is not None and result.mlflow_run_id:
        tracker.log_metrics(result.mlflow_run_id, {"best_quality": result.best.quality}, 0)
        tracker.set_tags(result.mlflow_run_id, {"best_trial": str(result.best.number)})
        tracker.end(result.mlflow_run_id)
    return result


def _run_trial(
    kb: KnowledgeBase,
    dev: list[EvalItem],
    model: str,
    base: dict[str, Any],
    params: dict[str, Any],
    number: int,
    templates: PromptTemplates,
    progress: bool,
) -> RagTrial:
    spec = StrategySpec.from_table(f"rag-t{number}", {**base, **params, "generator": model, "retrieve": True})
    started = time.perf_counter()
    records = run_strategy(Strategy(spec, kb, templates), dev, progress=progress, latency_sample=0)
    score_records(records, embed=kb.embedder.embed, quality_metric="semantic")
    rows = [r["metrics"] for r in records]
    intervals = summarize_metrics(rows, [m for m in REPORTED if any(r.get(m) is not None for r in rows)])
    metrics = {name: {"mean": iv.estimate, "ci_low": iv.low, "ci_high": iv.high} for name, iv in intervals.items()}
    return RagTrial(number, params, metrics, time.perf_counter() - started)


def _track(tracker: Any, parent: str, trial: RagTrial, model: str, base: dict[str, Any]) -> str:
    from ragtune.tune.training.rundir import new_run_id

    run = tracker.start(new_run_id(), {"ragtune_kind": "rag-trial"}, parent=parent)
    tracker.log_params(run, {"model": model, **base, **trial.params})
    # MLflow metric names allow no "@": recall@5 is logged as recall_at_5.
    values = {k.replace("@", "_at_"): v["mean"] for k, v in trial.metrics.items() if v.get("mean") is not None}
    tracker.log_metrics(run, {**values, "seconds": trial.seconds}, 0)
    tracker.end(run)
    return str(run)
