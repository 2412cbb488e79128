"""The freshness probe: a strategy that keeps the old fact is caught, one that picks up the new fact passes."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from ragtune.errors import ConfigError, NotFoundError
from ragtune.evaluate.run.freshness import ChangeSet, probe_freshness, verdict
from ragtune.llm.base import Generation, GenerationOptions, Message
from ragtune.llm.prompts import PromptTemplates
from ragtune.rag import RagPipeline
from ragtune.rag.strategies import Strategy, StrategySpec

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "helpcenter"
CHANGE = EXAMPLE / "changes" / "01-team-price-increase"


class MemorizedModel:
    """A closed-book model that learned the old prices (stands in for a model fine-tuned before the change)."""

    name = "memorized"

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers

    def generate(self, messages: Sequence[Message], options: GenerationOptions | None = None, **_: Any) -> Generation:
        question = messages[-1]["content"]
        return Generation(self.answers.get(question, "I am not sure."), 10, 8, 0.001)

    def stream(self, messages: Sequence[Message], options: GenerationOptions | None = None, **kw: Any) -> Any:
        yield self.generate(messages, options)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("The Team plan costs $14 per user per month.", "fresh"),
        ("Team is $12 per user per month billed monthly.", "old-fact"),
        ("Team: $14 monthly, or $12 per month ($144 a year) billed annually.", "fresh"),
        ("The help center does not say.", "stale"),
    ],
)
def test_verdict(answer: str, expected: str) -> None:
    old = "The Team plan costs $12 per user per month when billed monthly."
    new = "The Team plan costs $14 per user per month when billed monthly."
    assert verdict(answer, old, new) == expected


def test_change_set_errors(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"change\.json"):
        ChangeSet.read(tmp_path)
    (tmp_path / "change.json").write_text('{"name": "x", "files": []}')
    with pytest.raises(ConfigError, match="affected_questions"):
        ChangeSet.read(tmp_path)


def test_probe_catches_old_facts_and_passes_fresh_answers(tmp_path: Path, open_kb: Any) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(EXAMPLE / "docs" / "billing", docs / "billing")
    kb = open_kb(tmp_path / "kb")
    kb.ingest([docs])
    head = kb.head
    change = ChangeSet.read(CHANGE)
    templates = PromptTemplates()
    rag = Strategy(StrategySpec("rag-extractive", "extractive"), kb, templates)
    old_model = Strategy(StrategySpec("ft", "hf:memorized", retrieve=False), kb, templates)
    old_model._pipeline = RagPipeline(
        MemorizedModel({q.question: q.old_answer for q in change.questions}), None, name="ft"
    )

    def rebind(strategy: Strategy, scratch: Any) -> Strategy:
        if strategy.name == "ft":
            return strategy  # the memorized model does not read the KB
        return Strategy(strategy.spec, scratch, strategy.templates)

    result = probe_freshness(
        kb, change, {"rag-extractive": rag, "ft": old_model}, retrain_seconds={"ft": (120.0, "retraining")},
        make_strategy=rebind,
    )  # fmt: skip
    ft = result["per_strategy"]["ft"]
    assert ft["stale_rate"] == 1.0 and ft["old_fact_rate"] == 1.0
    assert ft["seconds_to_reflect"] == 120.0
    fresh = result["per_strategy"]["rag-extractive"]
    # The first question's answer sentence carries the monthly price: before the change it is the old one.
    q001 = fresh["answers"][0]
    assert q001["verdict_before"] == "old-fact" and q001["verdict"] == "fresh", q001
    assert fresh["stale_rate"] < ft["stale_rate"]
    assert 0 < fresh["seconds_to_reflect"] == result["reingest_seconds"] < 30
    # The user's knowledge base is untouched: the change went into a copy.
    assert kb.head == head


def test_probe_refuses_a_change_to_unknown_documents(tmp_path: Path, open_kb: Any) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(EXAMPLE / "docs" / "billing", docs)  # ids lack the billing/ prefix
    kb = open_kb(tmp_path / "kb")
    kb.ingest([docs])
    with pytest.raises(ConfigError, match="does not hold"):
        probe_freshness(kb, ChangeSet.read(CHANGE), {})


class EchoSources:
    """A model that answers with the sources it was given (stands in for a fine-tuned model that quotes them)."""

    name = "echo"
    context_window = 100_000

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def generate(self, messages: Sequence[Message], options: GenerationOptions | None = None, **_: Any) -> Generation:
        return Generation(" ".join(m["content"] for m in messages if m["role"] != "system"), 10, 8, 0.001)

    def stream(self, messages: Sequence[Message], options: GenerationOptions | None = None, **kw: Any) -> Any:
        yield self.generate(messages, options)


def test_probe_keeps_each_strategys_loaded_model_and_counts_failures(tmp_path: Path, open_kb: Any) -> None:
    # A registered fine-tuned model lives in the user's registry, which the scratch copy does not hold: the probe
    # must ask the model already loaded (retrieving from the copy), not resolve ``ft:NAME`` again there.
    docs = tmp_path / "docs"
    shutil.copytree(EXAMPLE / "docs" / "billing", docs / "billing")
    kb = open_kb(tmp_path / "kb")
    kb.ingest([docs])
    change = ChangeSet.read(CHANGE)
    templates = PromptTemplates()
    hybrid = Strategy(StrategySpec("hybrid", "ft:registered-in-the-original"), kb, templates)
    hybrid._pipeline = RagPipeline(EchoSources(), kb.retriever, k=1, name="hybrid")
    broken = Strategy(StrategySpec("broken", "ft:nowhere", retrieve=False), kb, templates)
    result = probe_freshness(kb, change, {"hybrid": hybrid, "broken": broken})
    fresh = result["per_strategy"]["hybrid"]
    assert fresh["errors"] == 0, fresh["answers"]
    assert fresh["answers"][0]["verdict"] == "fresh" and fresh["stale_rate"] < 1.0
    assert fresh["seconds_to_reflect"] == result["reingest_seconds"]
    failed = result["per_strategy"]["broken"]
    assert failed["errors"] == len(change.questions)
    assert failed["stale_rate"] is None and failed["seconds_to_reflect"] is None
    assert failed["method"].startswith("not measured: the answers failed ([error: ")
