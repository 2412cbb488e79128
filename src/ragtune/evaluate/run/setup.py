"""What each strategy cost to set up, and what it holds in memory.

- **Retrieval** (rag, rag-extractive, the retrieval half of hybrid): building the index is embedding every
  live chunk. It is measured, not guessed: a sample of the KB's own chunks is embedded with the KB's embedder
  and the rate is applied to the chunk count (the rest of ingest — parsing, SQLite writes — is small beside it
  on CPU; ``docs/benchmarks.md`` has the full-ingest figures).
- **Fine-tuning** (ft, hybrid): the registered model's training run, as measured by ``ragtune train``
  (``<kb>/runs/<run_id>/run.json``), and the examples it used. The same seconds are the time to learn a changed
  fact by retraining (the freshness probe's figure for closed-book fine-tuned models).
- **A tuned retriever** (``+tuned-retriever``: ``ragtune tune-retriever``; ``+rerank``: ``ragtune tune-reranker``):
  its registered training run's seconds and pairs, plus, for a tuned embedder, re-embedding every chunk with it
  (``kb reembed``; the same architecture as the KB's embedder, so the measured rate applies).
- **base**: nothing to set up.

Dollars come from the price sheet's ``training_per_hour`` (:func:`ragtune.advise.cost.setup_cost`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragtune.advise.cost import PriceSheet, setup_cost
from ragtune.llm.spec import ModelSpec

if TYPE_CHECKING:
    from ragtune.evaluate.run.strategy_set import Planned
    from ragtune.knowledge_base import KnowledgeBase

SAMPLE_CHUNKS = 64


def index_build_seconds(kb: KnowledgeBase, sample: int = SAMPLE_CHUNKS) -> tuple[float, int, float]:
    """``(estimated seconds to embed every live chunk, chunks, measured chunks/s)`` from a timed sample."""
    texts = kb.store.sample_texts(sample)
    chunks = int(kb.status().get("chunks") or 0)
    if not texts or not chunks:
        return 0.0, chunks, 0.0
    kb.embedder.embed(texts[:4])  # warm
    t = time.perf_counter()
    kb.embedder.embed(texts)
    rate = len(texts) / max(time.perf_counter() - t, 1e-9)
    return chunks / rate, chunks, rate


def training_facts(kb: KnowledgeBase, spec: str) -> dict[str, Any] | None:
    """Training seconds, examples and tokens/s of the registered model behind ``ft:NAME`` (None otherwise)."""
    parsed = ModelSpec.parse(spec)
    if parsed.scheme != "ft":
        return None
    found = _registered_run(kb, parsed.name)
    if found is None:
        return None
    model, result = found
    return {
        "model": model.name,
        "base": model.base,
        "run_id": model.run_id,
        "data_path": model.data_path,
        "kb_version": model.kb_version,
        "train_seconds": result.get("train_seconds"),
        "examples": _count_lines(model.data_path),
        "tokens_per_s": result.get("tokens_per_s"),
    }


def retriever_facts(kb: KnowledgeBase, name: str) -> dict[str, Any] | None:
    """Training seconds and pairs of the registered retriever model ``name`` (a ``tune-retriever`` embedder or a
    ``tune-reranker`` cross-encoder); None when the registry has no such model (e.g. ``cross-encoder:PATH``)."""
    found = _registered_run(kb, name)
    if found is None:
        return None
    model, result = found
    return {
        "model": model.name,
        "kind": model.kind,
        "base": model.base,
        "run_id": model.run_id,
        "kb_version": model.kb_version,
        "train_seconds": result.get("train_seconds"),
        "examples": int(result.get("pairs") or _count_lines(model.data_path)),
    }


def _registered_run(kb: KnowledgeBase, name: str) -> tuple[Any, dict[str, Any]] | None:
    """The registered model ``name`` and its finished run's ``metrics.json`` (train_seconds, ...; {} when the run
    left none); None when the registry has no such model."""
    from ragtune.tune.registry import ModelRegistry

    with ModelRegistry.open(kb.path) as registry:
        if not registry.exists(name):
            return None
        model = registry.get(name)
    metrics = Path(kb.path) / "runs" / model.run_id / "metrics.json" if model.run_id else None
    result = json.loads(metrics.read_text(encoding="utf-8")) if metrics is not None and metrics.exists() else {}
    return model, result


def _count_lines(path: str | None) -> int:
    if not path or not Path(path).is_file():
        return 0
    with open(path, encoding="utf-8") as f:
        return sum(1 for line in f if line.strip())


def measure_setup(kb: KnowledgeBase, planned: list[Planned], sheet: PriceSheet) -> dict[str, dict[str, Any]]:
    """Per planned strategy: ``setup_cost``, ``setup_seconds``, ``setup_method``, ``examples_used``, lineage."""
    index: tuple[float, int, float] | None = None
    out: dict[str, dict[str, Any]] = {}
    for plan in planned:
        if plan.strategy is None:
            continue
        spec = plan.strategy.spec
        seconds, examples, parts = 0.0, 0, []
        row: dict[str, Any] = {}
        if spec.retrieve:
            index = index or index_build_seconds(kb)
            seconds += index[0]
            parts.append(f"embedding {index[1]} chunks at {index[2]:.1f} chunks/s (measured on a sample)")
        for what, name in (("embedder", spec.embedder), ("reranker", spec.rerank)):
            tuned = retriever_facts(kb, name) if name and name != "none" else None
            if tuned is None:
                continue
            row.setdefault("retriever_lineage", {})[what] = tuned
            if tuned["train_seconds"] is not None:
                seconds += float(tuned["train_seconds"])
                parts.append(f"{what} training {tuned['train_seconds']:.1f} s on {tuned['examples']} pairs (measured)")
            else:
                parts.append(f"{what} training time unknown (not recorded by the run)")
            examples += tuned["examples"]
            if what == "embedder" and index is not None:
                seconds += index[0]
                parts.append(f"re-embedding {index[1]} chunks with {name} (estimated at the same rate)")
        facts = training_facts(kb, spec.generator)
        if facts is not None:
            row["lineage"] = facts
            if facts["train_seconds"] is not None:
                seconds += float(facts["train_seconds"])
                parts.append(f"training {facts['train_seconds']:.1f} s on {facts['examples']} examples (measured)")
                row["retrain_method"] = "retraining, measured (the registered run's training time)"
            else:
                parts.append("training time unknown (not recorded by the run)")
            examples += int(facts["examples"] or 0)
        cost = setup_cost(seconds, examples, sheet=sheet)
        row.update(
            setup_cost=cost.dollars,
            setup_seconds=round(cost.seconds, 3),
            setup_method="; ".join(parts) + f" at ${cost.per_hour:.2f}/h" if parts else "nothing to set up",
            examples_used=examples,
        )
        out[plan.name] = row
    return out


def memory_bytes(plan: Planned) -> int | None:
    """Bytes held by the strategy's model weights (None when it has none loaded: extractive, remote API)."""
    if plan.strategy is None:
        return None
    generator = plan.strategy.pipeline.generator
    model = getattr(generator, "model", None)
    if model is None or not hasattr(model, "parameters"):
        return None
    return int(sum(p.numel() * p.element_size() for p in model.parameters()))


def cost_method(sheet: PriceSheet, generator: str) -> str:
    """How cost per query was computed for ``generator``, in words."""
    price = sheet.price_for(generator)
    if price.is_api:
        return f"API tokens: ${price.input_per_million}/M in, ${price.output_per_million}/M out + retrieval compute"
    return (
        f"self-hosted: ${price.per_hour:.2f}/h × generation seconds / concurrency {price.concurrency:g} "
        f"+ retrieval at ${sheet.retrieval_per_hour:.2f}/h"
    )
