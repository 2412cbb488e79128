"""``ragtune compare``: run every strategy on one eval set and measure what the RAG-vs-fine-tuning choice needs.

Stages (each timed into ``summary["stages"]``): plan the strategies; run each over the eval set
(:mod:`ragtune.evaluate.run.runner`) and score the answers; summarise metrics with bootstrap intervals and paired
differences; system measurements (latency per stage, tokens, cost per query, setup cost, index and model
memory); the freshness probe (:mod:`ragtune.evaluate.run.freshness`) when a change set is given; the learning
curve (:mod:`ragtune.evaluate.run.learning_curve`) when training data is given; then ``summary.json``. The report
(``report.md``, ``report.html``) is rendered from the results directory alone, so ``ragtune report DIR``
rebuilds it without re-running anything. The results format is documented in ``docs/compare.md``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ragtune import __version__
from ragtune.advise.cost import PriceSheet, load_price_sheet
from ragtune.config import LLMSettings, raw_config
from ragtune.evaluate.evalset import read_eval_set
from ragtune.evaluate.metrics.bootstrap import paired_bootstrap, summarize_metrics
from ragtune.evaluate.metrics.style import StyleReference, load_style, read_style_examples
from ragtune.evaluate.run.runner import QUALITY_METRICS, run_strategy, score_records
from ragtune.evaluate.run.scoring import decline_phrases_from_config
from ragtune.evaluate.run.setup import cost_method, measure_setup, memory_bytes
from ragtune.evaluate.run.strategy_set import Planned, plan_strategies
from ragtune.jsonl import write_jsonl
from ragtune.llm.prompts import PromptTemplates
from ragtune.llm.spec import ModelSpec

if TYPE_CHECKING:
    from ragtune.knowledge_base import KnowledgeBase

FORMAT = 1
# Paired differences are computed for the two axes of the choice — correctness (quality, and the stricter facts
# check when quality is another metric) and voice (style).
HEADLINE = ("quality", "facts", "style_similarity")


@dataclass
class CompareOptions:
    """What to compare and how. Paths are as given by the user (relative to the cwd)."""

    eval_path: Path
    out_dir: Path
    strategies: list[str] | None = None
    model: str | None = None
    ft: str | None = None
    hybrid: str | None = None
    judge: str | None = None
    style: Path | None = None
    changes: Path | None = None
    train_data: Path | None = None
    curve_base: str | None = None
    curve_shares: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0)
    curve_config: Any = None
    quality_metric: str | None = None
    at: int | None = None
    limit: int | None = None
    seed: int = 0
    n_resamples: int = 2000
    prices: dict[str, Any] = field(default_factory=dict)
    command: str = ""
    progress: bool = True


def run_comparison(
    kb: KnowledgeBase, opts: CompareOptions, *, log: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Run the comparison, write ``DIR/<strategy>.jsonl`` and ``DIR/summary.json``, and return the summary."""
    say = log or (lambda _m: None)
    config = raw_config()
    stages: dict[str, float] = {}
    t0 = time.perf_counter()
    items = read_eval_set(opts.eval_path)
    if opts.limit:
        items = items[: opts.limit]
    sheet = load_price_sheet(config, opts.prices)
    templates = PromptTemplates.from_config(config.get("prompts"))
    planned = plan_strategies(
        kb, config, templates, names=opts.strategies, model=opts.model, ft=opts.ft, hybrid=opts.hybrid
    )
    judge = _load_judge(opts.judge, config)
    quality_metric = opts.quality_metric or ("judge" if judge else "semantic")
    if quality_metric not in QUALITY_METRICS:
        raise ValueError(f"quality metric must be one of {QUALITY_METRICS}, not {quality_metric!r}")
    style = _style(kb, config, opts.style)
    phrases = decline_phrases_from_config(config)
    opts.out_dir.mkdir(parents=True, exist_ok=True)
    stages["load"] = time.perf_counter() - t0

    results: dict[str, dict[str, Any]] = {}
    records_by: dict[str, list[dict[str, Any]]] = {}
    for plan in planned:
        if plan.strategy is None:
            results[plan.name] = _not_run(plan, "not_run", plan.reason or "")
            say(f"{plan.name}: not run ({plan.reason})")
            continue
        say(f"{plan.name}: answering {len(items)} questions")
        t = time.perf_counter()
        try:
            records = run_strategy(plan.strategy, items, at=opts.at, sheet=sheet, progress=opts.progress)
        except Exception as exc:
            results[plan.name] = _not_run(plan, "failed", f"{type(exc).__name__}: {exc}")
            say(f"{plan.name}: failed ({exc})")
            continue
        stages[f"run:{plan.name}"] = time.perf_counter() - t
        t = time.perf_counter()
        score_records(
            records,
            embed=kb.embedder.embed,
            style=style,
            judge=judge,
            decline_phrases=phrases,
            quality_metric=quality_metric,
        )
        write_jsonl(opts.out_dir / f"{plan.name}.jsonl", records)
        records_by[plan.name] = records
        stages[f"score:{plan.name}"] = time.perf_counter() - t

    t = time.perf_counter()
    setups = measure_setup(kb, planned, sheet)
    for plan in planned:
        if plan.name in records_by:
            results[plan.name] = _summarise(plan, records_by[plan.name], setups[plan.name], sheet, opts)
            results[plan.name].update(_staleness(kb, plan))
    comparisons = _comparisons(records_by, opts, quality_metric)
    stages["summary"] = time.perf_counter() - t

    freshness = None
    if opts.changes is not None:
        t = time.perf_counter()
        freshness = _freshness(kb, opts.changes, planned, records_by, setups, say)
        for name, row in freshness["per_strategy"].items():
            results[name].update(
                freshness_seconds=row["seconds_to_reflect"],
                stale_rate=row["stale_rate"],
                freshness_method=row["method"],
            )
        stages["freshness"] = time.perf_counter() - t

    curve = None
    if opts.train_data is not None:
        from ragtune.evaluate.run.curve_runner import run_learning_curve

        t = time.perf_counter()
        curve = run_learning_curve(
            kb, items, opts, results, quality_metric, style, phrases, templates, say, ft_records=records_by.get("ft")
        )
        stages["learning_curve"] = time.perf_counter() - t

    summary = {
        "format": FORMAT,
        "created": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ragtune_version": __version__,
        "command": opts.command,
        "machine": machine_facts(),
        "kb": _kb_facts(kb),
        "eval": _eval_facts(opts.eval_path, items),
        "quality_metric": quality_metric,
        "prices": sheet.as_dict(),
        "stages": {k: round(v, 3) for k, v in stages.items()},
        "strategies": results,
        "comparisons": comparisons,
        "freshness": freshness,
        "learning_curve": curve,
        "examples_needed": (curve or {}).get("examples_to_match"),
        "advice": None,
    }
    summary["advice"] = _advice(summary)
    write_summary(opts.out_dir, summary)
    return summary


def _advice(summary: dict[str, Any]) -> dict[str, Any] | None:
    """``ragtune advise`` on these measurements with no constraints stated (the user adds theirs later)."""
    from ragtune.advise import Constraints, advise
    from ragtune.advise.decision import load_comparisons
    from ragtune.advise.inputs import load_measurements

    measured = load_measurements(summary)
    if not measured:
        return None
    out = advise(Constraints(), measured, comparisons=load_comparisons(summary)).as_dict()
    out["constraints"] = "none stated: run `ragtune advise --results DIR` with your budget, volume, change rate"
    return out


def write_summary(out_dir: Path, summary: dict[str, Any]) -> Path:
    path = out_dir / "summary.json"
    tmp = path.with_name("summary.json.tmp")
    tmp.write_text(json.dumps(summary, indent=2, ensure_ascii=False, default=_jsonable) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def _not_run(plan: Planned, status: str, reason: str) -> dict[str, Any]:
    return {"name": plan.name, "kind": plan.kind, "status": status, "reason": reason, **_kind_flags(plan), **plan.info}


def _kind_flags(plan: Planned) -> dict[str, bool]:
    """What ``advise`` needs to know of any strategy, built-in or configured."""
    spec = plan.strategy.spec if plan.strategy is not None else None
    retriever_tuned = bool(spec and spec.retrieve and (spec.embedder or (spec.rerank and spec.rerank != "none")))
    return {
        "retrieval": plan.kind in ("rag", "hybrid"),
        "tuned": plan.kind in ("ft", "hybrid"),
        "retriever_tuned": retriever_tuned,
    }


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "mean": None}
    arr = np.asarray(values, dtype=np.float64)
    return {
        "p50": round(float(np.percentile(arr, 50)), 2),
        "p95": round(float(np.percentile(arr, 95)), 2),
        "mean": round(float(arr.mean()), 2),
    }


def _summarise(
    plan: Planned, records: list[dict[str, Any]], setup: dict[str, Any], sheet: PriceSheet, opts: CompareOptions
) -> dict[str, Any]:
    ok = [r for r in records if r["error"] is None]
    rows = [{k: v for k, v in r["metrics"].items() if k not in ("failed_rules", "judge_reply")} for r in records]
    intervals = summarize_metrics(rows, n_resamples=opts.n_resamples, seed=opts.seed)
    metrics = {
        name: {"mean": iv.estimate, "ci_low": iv.low, "ci_high": iv.high, "n": iv.n}
        for name, iv in intervals.items()
        if iv.n
    }
    # Latency: from the questions asked one at a time when the run batched (see runner), else every answer.
    timed = [r["latency_ms"] for r in ok if r.get("latency_measured")] or [r["timings_ms"] for r in ok]
    latency = {
        stage: _percentiles([t[stage] for t in timed if stage in t]) for stage in ("retrieve", "generate", "total")
    }
    quality = metrics.get("quality", {})
    facts = metrics.get("facts", {})
    costs = [r["cost"] for r in ok if r["cost"] is not None]
    style = metrics.get("style_similarity", {}).get("mean")
    return {
        "name": plan.name,
        "kind": plan.kind,
        "status": "ok",
        "reason": None,
        **_kind_flags(plan),
        **plan.info,
        "n": len(records),
        "errors": len(records) - len(ok),
        "metrics": metrics,
        "quality": quality.get("mean"),
        "quality_ci": [quality.get("ci_low"), quality.get("ci_high")],
        "facts": facts.get("mean"),
        "facts_ci": [facts.get("ci_low"), facts.get("ci_high")] if facts else None,
        "latency_ms": latency,
        "latency_p50_ms": latency["total"]["p50"],
        "latency_p95_ms": latency["total"]["p95"],
        "latency_samples_ms": [t.get("total") for t in timed],
        "latency_method": (
            f"{len(timed)} questions asked one at a time (warm); answers were generated in batches"
            if any(r.get("latency_measured") for r in ok)
            else "every question, one at a time (warm)"
        ),
        "compute_ms_per_answer": _percentiles([r["timings_ms"].get("total", 0.0) for r in ok])["mean"],
        "tokens_in_mean": float(np.mean([r["tokens_in"] for r in ok])) if ok else None,
        "tokens_out_mean": float(np.mean([r["tokens_out"] for r in ok])) if ok else None,
        "cost_per_query": float(np.mean(costs)) if costs else None,
        "cost_method": cost_method(sheet, plan.info.get("generator", "")),
        **setup,
        "freshness_seconds": None,
        "stale_rate": None,
        "freshness_method": "not probed (pass --changes DIR)",
        "style_score": style,
        "citation_precision": metrics.get("citation_precision", {}).get("mean"),
        "citation_recall": metrics.get("citation_recall", {}).get("mean"),
        "groundedness": metrics.get("groundedness", {}).get("mean"),
        "retrieval_recall": metrics.get("recall@5", {}).get("mean"),
        "memory_bytes": memory_bytes(plan),
    }


def _staleness(kb: KnowledgeBase, plan: Planned) -> dict[str, Any]:
    """For a strategy on a registered ``ft:NAME`` model: whether the model is stale (``ragtune models check``) and
    how many documents changed since its training version (``model_stale`` None: not known). Never fails the run."""
    generator = plan.strategy.spec.generator if plan.strategy is not None else ""
    if ModelSpec.parse(generator).scheme != "ft":
        return {}
    from ragtune.tune.staleness import UNKNOWN, check_registered

    try:
        report = check_registered(kb, generator)
    except Exception as exc:
        return {"model_stale": None, "docs_changed": None, "staleness": f"not checked: {type(exc).__name__}: {exc}"}
    known = report.verdict != UNKNOWN
    return {
        "model_stale": report.stale if known else None,
        "docs_changed": report.docs_changed if known else None,
        "staleness": f"{report.verdict}: {report.retrain}",
    }


def _comparisons(
    records_by: dict[str, list[dict[str, Any]]], opts: CompareOptions, quality_metric: str
) -> list[dict[str, Any]]:
    out = []
    headline = [m for m in HEADLINE if m != quality_metric]  # quality already is that metric
    for a, b in itertools.combinations(records_by, 2):
        for metric in headline:
            xa = [r["metrics"].get(metric) for r in records_by[a]]
            xb = [r["metrics"].get(metric) for r in records_by[b]]
            d = paired_bootstrap(xa, xb, names=(a, b), n_resamples=opts.n_resamples, seed=opts.seed)
            if d.n:
                out.append(
                    {
                        "a": a,
                        "b": b,
                        "metric": metric,
                        "diff": d.diff,
                        "ci_low": d.low,
                        "ci_high": d.high,
                        "p_value": d.p_value,
                        "significant": d.significant,
                        "n": d.n,
                    }
                )
    return out


def _freshness(
    kb: KnowledgeBase,
    changes: Path,
    planned: list[Planned],
    records_by: dict[str, list[dict[str, Any]]],
    setups: dict[str, dict[str, Any]],
    say: Callable[[str], None],
) -> dict[str, Any]:
    from ragtune.evaluate.run.freshness import ChangeSet, probe_freshness

    change = ChangeSet.read(changes)
    strategies = {p.name: p.strategy for p in planned if p.strategy is not None and p.name in records_by}
    retrain = {}
    for p in planned:
        if p.name in strategies and p.kind == "ft":
            seconds = setups[p.name].get("setup_seconds")
            retrain[p.name] = (seconds, setups[p.name].get("retrain_method", "retraining"))
    say(f"freshness probe: {change.name} ({len(change.questions)} questions)")
    return probe_freshness(kb, change, strategies, retrain_seconds=retrain)


def _load_judge(spec: str | None, config: dict[str, Any]) -> Any:
    """The judge model; an endpoint backend (``openai:``) gets ``[llm]``'s base_url, key and timeout."""
    if not spec:
        return None
    from ragtune.llm.registry import backend_settings, load_generator

    return load_generator(spec, **backend_settings(spec, LLMSettings.from_config(config).endpoint()))


def _style(kb: KnowledgeBase, config: dict[str, Any], path: Path | None) -> StyleReference | None:
    if path is not None:
        base = load_style(kb.embedder.embed, config)
        rules = base.rules if base else []
        return StyleReference(read_style_examples(path), kb.embedder.embed, rules=rules)
    return load_style(kb.embedder.embed, config)


def machine_facts() -> dict[str, Any]:
    import os

    import torch

    mem = None
    try:
        with open("/proc/meminfo") as f:
            mem = round(int(f.readline().split()[1]) / 1024**2, 1)
    except OSError:
        pass
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": mem,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def _kb_facts(kb: KnowledgeBase) -> dict[str, Any]:
    status = kb.status()
    return {
        "path": str(kb.path),
        "version": kb.head,
        "documents": status.get("documents"),
        "chunks": status.get("chunks"),
        "db_bytes": kb.store.size_bytes(),
        "index_bytes": kb.retriever.index.dense.nbytes,
    }


def _eval_facts(path: Path, items: list[Any]) -> dict[str, Any]:
    unanswerable = sum(1 for i in items if i.unanswerable)
    return {
        "path": str(path),
        "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest(),
        "n": len(items),
        "answerable": len(items) - unanswerable,
        "unanswerable": unanswerable,
    }
