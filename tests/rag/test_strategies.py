"""Strategies by name: built-ins come from a registry a plugin can extend; a strategy declares what it accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ragtune.config import Settings
from ragtune.knowledge_base import KnowledgeBase
from ragtune.rag.strategies import (
    DEFAULT_STRATEGY,
    Strategy,
    StrategyContext,
    StrategySpec,
    load_strategies,
    register_strategy,
    strategy_specs,
    unregister_strategy,
)


def test_builtins_by_name_depend_on_the_configured_model(hermetic: Path) -> None:
    assert list(strategy_specs({})) == [DEFAULT_STRATEGY]
    specs = strategy_specs({"llm": {"model": "hf:some/model", "temperature": 0.2}})
    assert list(specs) == [DEFAULT_STRATEGY, "base", "rag"]
    assert not specs["base"].retrieve and specs["rag"].retrieve
    assert specs["rag"].generator == "hf:some/model" and specs["rag"].temperature == 0.2


def test_a_registered_strategy_is_listed_and_the_config_still_wins(hermetic: Path) -> None:
    seen: list[StrategyContext] = []

    def wide(ctx: StrategyContext) -> StrategySpec | None:
        seen.append(ctx)
        return StrategySpec("rag-wide", "extractive", k=20, description="more passages")

    register_strategy("rag-wide", wide)
    register_strategy("needs-model", lambda ctx: None if not ctx.model else StrategySpec("needs-model", ctx.model))
    try:
        specs = strategy_specs({})
        assert specs["rag-wide"].k == 20 and "needs-model" not in specs
        assert seen[0].model is None
        overridden = strategy_specs({"strategies": {"rag-wide": {"generator": "extractive", "k": 7}}})
        assert overridden["rag-wide"].k == 7
        assert "needs-model" in strategy_specs({}, model="hf:m")
    finally:
        unregister_strategy("rag-wide")
        unregister_strategy("needs-model")
    assert list(strategy_specs({})) == [DEFAULT_STRATEGY]
    unregister_strategy(DEFAULT_STRATEGY)  # a built-in comes back
    assert list(strategy_specs({})) == [DEFAULT_STRATEGY]


def test_a_strategy_declares_what_it_takes(hash_embedder: Any, hermetic: Path) -> None:
    kb = KnowledgeBase.open(hermetic / "kb", create=True, settings=Settings(), embedder=hash_embedder)
    strategies = load_strategies(kb, model="hf:not/loaded", config={})
    for name, strategy in strategies.items():
        assert isinstance(strategy, Strategy) and strategy.name == name
        assert strategy.accepts == frozenset({"k", "mode"})
    assert strategies["rag"].uses_retrieval and not strategies["base"].uses_retrieval
    with pytest.raises(TypeError, match="unknown query field"):
        strategies[DEFAULT_STRATEGY].ask("hi", top_k=3)
    kb.close()


def test_a_configured_strategy_starts_from_its_generators_measured_defaults(hermetic: Path) -> None:
    """``[strategies.NAME] generator = "smollm2"`` gets what ``--model smollm2`` gives the built-in rag (its
    measured prompt layout, source budget, k), closed book only the decoding defaults; the table's keys win."""
    from ragtune.llm.defaults import defaults_for

    measured = defaults_for("smollm2")
    table = {"rag-small": {"generator": "smollm2"}, "closed": {"generator": "smollm2", "retrieve": False}}
    table["wide"] = {"generator": "smollm2", "k": 9}
    specs = strategy_specs({"strategies": table})
    builtin = strategy_specs({}, model="smollm2")["rag"]
    for key in ("k", "template", "source_tokens", "max_new_tokens"):
        if key in measured:
            assert getattr(specs["rag-small"], key) == getattr(builtin, key) == measured[key]
    assert specs["wide"].k == 9
    assert specs["closed"].template is None and specs["closed"].source_tokens is None
    assert specs["closed"].max_new_tokens == measured.get("max_new_tokens", 256)
