"""The comparison's learning-curve stage: real fine-tuning runs on growing shares, each scored closed book.

The base model is ``--curve-base`` or the base of the ``ft`` model; the training settings are the
``[train]`` section / ``--train-config`` (:func:`ragtune.tune.training.config.load_train_config`). Each share is one
tracked training run (MLflow tag ``learning-curve``; not registered), then the fine-tuned model answers the
eval set closed book and is scored like any strategy. The reference is the best retrieval strategy's quality.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragtune.config import LLMSettings
from ragtune.errors import ConfigError
from ragtune.evaluate.metrics.style import StyleReference
from ragtune.evaluate.run.learning_curve import learning_curve
from ragtune.evaluate.run.runner import run_strategy, score_records
from ragtune.rag.strategies import DECODING_KEYS, Strategy, StrategySpec, with_model_defaults

if TYPE_CHECKING:
    from ragtune.evaluate.evalset import EvalItem
    from ragtune.evaluate.run.compare import CompareOptions
    from ragtune.knowledge_base import KnowledgeBase
    from ragtune.llm.prompts import PromptTemplates


def curve_base(kb: KnowledgeBase, opts: CompareOptions) -> str:
    """The base model the curve trains: ``--curve-base``, else the ``--ft`` model's base."""
    if opts.curve_base:
        return opts.curve_base
    if opts.ft:
        from ragtune.tune.registry import ModelRegistry

        with ModelRegistry.open(kb.path) as registry:
            return registry.get(opts.ft).base
    raise ConfigError("the learning curve needs a base model: pass --curve-base hf:PATH_OR_ID (or --ft NAME)")


def reference_quality(results: dict[str, dict[str, Any]]) -> tuple[str, float] | None:
    """The retrieval strategy with the best measured quality (the level fine-tuning has to reach)."""
    rag = [
        (name, r["quality"])
        for name, r in results.items()
        if r.get("status") == "ok" and r.get("kind") == "rag" and r.get("quality") is not None
    ]
    return max(rag, key=lambda x: x[1]) if rag else None


def _ft_run_reusable(kb: KnowledgeBase, opts: CompareOptions, config: Any) -> float | None:
    """The ``--ft`` model's training seconds when it was trained on exactly ``--train-data`` (same sha256) with
    exactly the curve's settings, so its run is the curve's 100% point; else None (the point is trained)."""
    import hashlib
    import json

    from ragtune.tune.registry import ModelRegistry

    if not opts.ft or opts.train_data is None:
        return None
    try:
        with ModelRegistry.open(kb.path) as registry:
            model = registry.get(opts.ft)
        run = kb.path / "runs" / str(model.run_id)
        trained = json.loads((run / "config.json").read_text()).get("train")
        info = json.loads((run / "run.json").read_text())
    except Exception:  # no such model or run files: train the point
        return None
    same_data = model.data_sha256 == hashlib.sha256(Path(opts.train_data).read_bytes()).hexdigest()
    if not same_data or trained != config.to_dict() or info.get("status") != "finished":
        return None
    return float(info["finished_at"] - info["created_at"])


def run_learning_curve(
    kb: KnowledgeBase,
    items: Sequence[EvalItem],
    opts: CompareOptions,
    results: dict[str, dict[str, Any]],
    quality_metric: str,
    style: StyleReference | None,
    phrases: Sequence[str],
    templates: PromptTemplates,
    say: Callable[[str], None],
    ft_records: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    from ragtune.tune.data.dataset import read_chat_jsonl
    from ragtune.tune.training.config import load_train_config
    from ragtune.tune.training.train import train

    assert opts.train_data is not None
    base = curve_base(kb, opts)
    config = opts.curve_config or load_train_config()
    examples = [ex.as_dict() for ex in read_chat_jsonl(opts.train_data)]

    reuse = _ft_run_reusable(kb, opts, config) if ft_records is not None else None

    def train_and_score(subset: list[Any], share: float) -> tuple[list[float | None], float]:
        if reuse is not None and ft_records is not None and len(subset) == len(examples):
            # All the data, same settings and seed: what made the `ft` model (the order differs only by a shuffle).
            say(f"learning curve: {len(subset)} examples ({share:.0%}) : the ft model's data and settings, reused")
            return [r["metrics"]["quality"] for r in ft_records], reuse
        say(f"learning curve: training on {len(subset)} examples ({share:.0%})")
        t = time.perf_counter()
        result = train(subset, base, config, kb_dir=kb.path, quiet=True, register=False, tags=["learning-curve"])
        seconds = time.perf_counter() - t
        decoding = {k: v for k, v in with_model_defaults(result.base, {}, {}).items() if k in DECODING_KEYS}
        llm = LLMSettings.from_config().strategy_defaults()
        spec = StrategySpec.from_table(
            f"ft@{share:g}",
            {**decoding, **llm, "generator": result.base, "retrieve": False,
             "adapter": str(result.adapter_path) if result.adapter_path else None},
        )  # fmt: skip
        if result.adapter_path is None:  # full fine-tuning: the trained model itself
            spec.generator, spec.adapter = f"hf:{result.path}", None
        records = run_strategy(Strategy(spec, kb, templates), items, at=opts.at, progress=opts.progress)
        score_records(
            records, embed=kb.embedder.embed, style=style, decline_phrases=phrases, quality_metric=quality_metric
        )
        return [r["metrics"]["quality"] for r in records], seconds

    curve = learning_curve(
        examples,
        train_and_score,
        shares=opts.curve_shares,
        seed=opts.seed,
        reference=reference_quality(results),
        n_resamples=opts.n_resamples,
    )
    return {
        "strategy": "ft",
        "metric": "quality",
        "quality_metric": quality_metric,
        "base": base,
        "train_data": str(opts.train_data),
        **curve,
    }
