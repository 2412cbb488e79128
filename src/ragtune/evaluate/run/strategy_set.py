"""Which strategies a comparison runs, and why the others cannot run.

The built-ins compared are ``base`` (the model closed book), ``rag`` (the model over retrieved passages),
``ft`` (a registered fine-tuned model, closed book), ``hybrid`` (a fine-tuned model over retrieved passages:
the RAFT-trained one when given, else the ``ft`` model) and ``rag-extractive`` (no model), plus every
``[strategies.NAME]`` of ragtune.toml. A strategy that needs something the user has not given (a model, a
fine-tuned model) is reported as not run with the reason; nothing is substituted for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ragtune.config import LLMSettings
from ragtune.errors import ConfigError
from ragtune.llm.spec import ModelSpec
from ragtune.rag.strategies import (
    DECODING_KEYS,
    DEFAULT_STRATEGY,
    Strategy,
    StrategySpec,
    base_model_of,
    strategy_specs,
    with_model_defaults,
)

if TYPE_CHECKING:
    from ragtune.knowledge_base import KnowledgeBase
    from ragtune.llm.prompts import PromptTemplates

BUILT_IN = ("base", "rag", "ft", "hybrid", DEFAULT_STRATEGY)
FT_PREFIX = "ft:"


@dataclass
class Planned:
    """A strategy to run (``strategy``) or not (``reason``), with its kind: base, rag, ft or hybrid."""

    name: str
    kind: str
    strategy: Strategy | None = None
    reason: str | None = None
    info: dict[str, Any] = field(default_factory=dict)


def kind_of(spec: StrategySpec) -> str:
    """``rag`` / ``base`` for a plain model, ``hybrid`` / ``ft`` for a fine-tuned one (by retrieval)."""
    tuned = ModelSpec.parse(spec.generator).scheme == "ft" or spec.adapter is not None
    if spec.retrieve:
        return "hybrid" if tuned else "rag"
    return "ft" if tuned else "base"


def plan_strategies(
    kb: KnowledgeBase,
    config: dict[str, Any],
    templates: PromptTemplates,
    *,
    names: list[str] | None = None,
    model: str | None = None,
    ft: str | None = None,
    hybrid: str | None = None,
) -> list[Planned]:
    """The strategies to compare, in a stable order; unknown names are an error."""
    specs = strategy_specs(config, model=model, kb_dir=kb.path)
    llm = LLMSettings.from_config(config).strategy_defaults()
    if ft:
        table = with_model_defaults(base_model_of(FT_PREFIX + ft, kb.path), config, {})
        table = {k: v for k, v in table.items() if k in DECODING_KEYS}
        specs["ft"] = StrategySpec.from_table(
            "ft",
            {**table, **llm, "generator": FT_PREFIX + ft, "retrieve": False},
        )
        specs["ft"].description = f"fine-tuned {ft}, closed book"
    hybrid_model = hybrid or ft
    if hybrid_model:
        how = "RAFT-trained" if hybrid else "fine-tuned (not RAFT-trained)"
        table = with_model_defaults(base_model_of(FT_PREFIX + hybrid_model, kb.path), config, {})
        specs["hybrid"] = StrategySpec.from_table(
            "hybrid", {**table, **llm, "generator": FT_PREFIX + hybrid_model, "retrieve": True}
        )
        specs["hybrid"].description = f"{how} {hybrid_model} + retrieval"
    configured = [n for n in specs if n not in BUILT_IN]
    wanted = names or [*BUILT_IN, *configured]
    unknown = [n for n in wanted if n not in BUILT_IN and n not in specs]
    if unknown:
        raise ConfigError(f"unknown strategies {', '.join(unknown)}; available: {', '.join([*BUILT_IN, *configured])}")
    planned = []
    for name in wanted:
        spec = specs.get(name)
        if spec is None:
            planned.append(Planned(name, _builtin_kind(name), reason=_why_not(name)))
            continue
        planned.append(
            Planned(
                name,
                kind_of(spec),
                Strategy(spec, kb, templates),
                info={
                    "description": spec.description or "",
                    "generator": spec.generator,
                    "adapter": spec.adapter,
                    "retrieve": spec.retrieve,
                },
            )
        )
    return planned


def _builtin_kind(name: str) -> str:
    return {"base": "base", "rag": "rag", "ft": "ft", "hybrid": "hybrid"}.get(name, "rag")


def _why_not(name: str) -> str:
    if name in ("base", "rag"):
        return "needs a language model: pass --model hf:PATH_OR_ID or openai:MODEL (or set [llm] model)"
    if name == "ft":
        return "needs a fine-tuned model: train one with `ragtune train ... --name NAME`, then pass --ft NAME"
    if name == "hybrid":
        return (
            "needs a fine-tuned model to answer from retrieved passages: pass --hybrid NAME (trained on "
            "`ragtune data build --raft` data) or --ft NAME"
        )
    return "not configured"
