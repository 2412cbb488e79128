"""Stale fine-tuned models: what changed in the KB since a registered model's training data was built from it.

A real SQLite KB with the session's embedder; training data built from it with the structural synthesizer, and a
model *registered* at version 1 without training (staleness reads only the registry, the data file and the
store). Answering is exercised through ``Strategy.pipeline`` with the model-free generator in place of the
fine-tuned one, so no model is loaded.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ragtune.advise import Constraints, advise, load_measurements
from ragtune.cli.main import cli
from ragtune.evaluate.run.compare import _staleness
from ragtune.evaluate.run.strategy_set import plan_strategies
from ragtune.kb.document import Document
from ragtune.knowledge_base import KnowledgeBase
from ragtune.llm.prompts import PromptTemplates
from ragtune.rag import strategies
from ragtune.tune import staleness
from ragtune.tune.data.dataset import write_chat_jsonl
from ragtune.tune.data.synth import pair_examples, synthesize
from ragtune.tune.registry import ModelRegistry, RegisteredModel
from ragtune.tune.staleness import check_model, check_registered, warn_if_stale

pytestmark = pytest.mark.usefixtures("hermetic")

TRIAL = (
    "## When does the trial end?\n\n"
    "The free trial lasts thirty days from the day the workspace was created. During the trial every feature of "
    "the Team plan is available, including shared folders, version history and the admin console. When the "
    "trial ends the workspace switches to the Free plan unless a payment method has been added by an owner. "
    "Files stay where they are, but members beyond the Free plan's three seats become read-only until the "
    "workspace upgrades again, and version history older than seven days is hidden from everyone.\n"
)
PRICE = (
    "## How much is the Team plan?\n\n"
    "The Team plan costs {price} dollars per user per month when billed monthly. Annual billing lowers the price "
    "by two months a year, and invoices are sent to the billing contact on the first day of each period. Taxes "
    "are added where the law requires them and are listed on every invoice. Seats can be added at any time "
    "and are charged for the rest of the period; removing a seat takes effect at the next renewal, and unused "
    "seats are never refunded part way through a month or a year.\n"
)
REFUNDS = (
    "# Refunds\n\n## How long do refunds take?\n\n"
    "Refunds are issued within 14 days of a cancelled subscription and go back to the card that paid.\n"
)
SETUP = "# Setup\n\n## How do I install the agent?\n\nInstall the desktop agent, then sign in with your address.\n"


def plans(price: int) -> Document:
    return Document("billing/plans.md", "Plans", "# Plans\n\n" + TRIAL + "\n" + PRICE.format(price=price))


@dataclass
class Trained:
    kb: KnowledgeBase
    data: Path
    model: RegisteredModel
    lines: dict[str, list[int]]  # chunk id → lines of the examples built from it


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test is a new process as far as the once-per-process warning goes."""
    monkeypatch.setattr(staleness, "_warned", set())


@pytest.fixture
def trained(open_kb: Callable[[Path], KnowledgeBase], tmp_path: Path) -> Trained:
    """KB v1 (plans with two sections, refunds, setup), training data built from it, a model registered at v1."""
    kb = open_kb(tmp_path / "kb")
    docs = [plans(12), Document("billing/refunds.md", "Refunds", REFUNDS), Document("guides/setup.md", "Setup", SETUP)]
    assert kb.ingest_documents(docs).version is not None
    examples = pair_examples(synthesize(kb).pairs)
    data = tmp_path / "train.jsonl"
    write_chat_jsonl(data, examples)
    lines: dict[str, list[int]] = {}
    for number, example in enumerate(examples, start=1):
        lines.setdefault(example.metadata["chunk_id"], []).append(number)
    model = RegisteredModel(
        "voice",
        "hf:base",
        "lora",
        str(tmp_path / "adapter"),
        data_sha256=hashlib.sha256(data.read_bytes()).hexdigest(),
        data_path=str(data),
        kb_version=1,
    )
    with ModelRegistry.open(kb.path) as registry:
        registry.register(model)
    return Trained(kb, data, model, lines)


def chunks_of(kb: KnowledgeBase, doc_id: str, at: int | None = None) -> set[str]:
    return {p["chunk_id"] for p in kb.document(doc_id, at)[1]}


def edit_price(t: Trained) -> set[str]:
    """Version 2: the Team plan's price changes; the chunk ids that vanished from plans.md."""
    before = chunks_of(t.kb, "billing/plans.md")
    assert t.kb.ingest_documents([plans(15)]).version is not None
    return before - chunks_of(t.kb, "billing/plans.md")


def test_an_edited_document_makes_the_examples_from_its_changed_chunk_stale(trained: Trained) -> None:
    gone = edit_price(trained)
    kept = chunks_of(trained.kb, "billing/plans.md", 1) - gone
    assert gone and kept, "the plans page must be two chunks, only one of them edited"
    report = check_model(trained.kb, trained.model)
    assert (report.trained_version, report.head) == (1, 2)
    assert (report.added, report.updated, report.removed) == ([], ["billing/plans.md"], [])
    expected = sorted(line for c in gone for line in trained.lines.get(c, []))
    assert expected, "the edited section yields training examples"
    assert sorted(a.line for a in report.affected) == expected  # not the trial section's: it did not change
    assert {a.reason for a in report.affected} == {"chunk changed"}
    assert any("Team plan" in a.question for a in report.affected)
    assert report.stale and report.verdict == "stale" and report.data_status == "ok"
    assert f"{len(expected)} of {report.examples} training examples" in report.retrain
    assert "retrain" in report.retrain

    trained.kb.remove("guides/setup.md")
    report = check_model(trained.kb.store, trained.model)  # the store alone works too
    assert report.removed == ["guides/setup.md"]
    assert {a.reason for a in report.affected if a.doc_id == "guides/setup.md"} == {"document removed"}
    from_setup = [line for c in chunks_of(trained.kb, "guides/setup.md", 1) for line in trained.lines.get(c, [])]
    assert report.as_dict()["affected_count"] == len(report.affected) == len(expected) + len(from_setup)


def test_unchanged_kb_is_fresh_and_added_documents_are_noted(trained: Trained) -> None:
    report = check_model(trained.kb, trained.model)
    assert report.verdict == "fresh" and not report.stale and report.docs_changed == 0
    assert report.examples == sum(len(v) for v in trained.lines.values()) and not report.affected
    assert "no document changed since KB v1" in report.retrain

    api = Document("api.md", "API", "# API\n\n## What is the rate limit?\n\nThe API allows 600 requests a minute.\n")
    trained.kb.ingest_documents([api])
    report = check_model(trained.kb, trained.model)
    assert report.verdict == "fresh" and report.added == ["api.md"]
    assert "1 document(s) added since are unknown to it" in report.retrain


def test_missing_or_changed_data_is_reported_not_a_crash(trained: Trained) -> None:
    edit_price(trained)
    trained.data.write_text(trained.data.read_text() + "\n")  # same examples, different bytes
    report = check_model(trained.kb, trained.model)
    assert report.data_status == "changed" and report.stale and report.affected
    assert any("changed since training" in n for n in report.notes)

    trained.data.unlink()
    report = check_model(trained.kb, trained.model)
    assert report.data_status == "missing" and report.examples == 0 and not report.affected
    assert any("no longer exists" in n for n in report.notes)
    assert report.stale and "without the training data" in report.retrain  # a document changed: assume the worst


def test_untraceable_models_are_unknown_not_errors(trained: Trained) -> None:
    for version, why in ((None, "records no KB version"), (7, "does not have")):
        model = RegisteredModel("other", "hf:base", "lora", "x", data_path=str(trained.data), kb_version=version)
        report = check_model(trained.kb, model)
        assert report.verdict == "unknown" and not report.stale and why in report.retrain


def test_examples_traced_by_document_only(trained: Trained, tmp_path: Path) -> None:
    rows = [
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": "A."}], "metadata": meta}
        for q, meta in (
            ("Price?", {"doc_id": "billing/plans.md", "kb_version": 1}),
            ("Refund?", {"doc_id": "billing/refunds.md", "kb_version": 1}),
            ("Hello?", {}),
        )
    ]
    data = tmp_path / "style.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    model = RegisteredModel("style", "hf:base", "lora", "x", data_path=str(data), kb_version=1)
    edit_price(trained)
    report = check_model(trained.kb, model)
    assert [(a.line, a.reason) for a in report.affected] == [(1, "document updated")]
    assert report.untraced == 1 and report.stale


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_models_check_cli_json_text_and_exit_codes(trained: Trained) -> None:
    kb = str(trained.kb.path)
    out = run_cli("models", "check", "voice", "--json", "--kb", kb)
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert (data["verdict"], data["stale"], data["docs_changed"], data["trained_version"]) == ("fresh", False, 0, 1)

    edit_price(trained)
    out = run_cli("models", "check", "ft:voice", "--json", "--kb", kb)
    assert out.exit_code == 1
    data = json.loads(out.output)
    assert data["stale"] and data["updated"] == ["billing/plans.md"] and data["affected_count"] > 0
    assert {"line", "doc_id", "chunk_id", "kind", "question", "reason"} <= set(data["affected"][0])

    out = run_cli("models", "check", "voice", "--kb", kb)
    assert out.exit_code == 1
    assert "~ billing/plans.md" in out.output and "Training examples affected:" in out.output
    assert "STALE:" in out.output and "(chunk changed)" in out.output

    with ModelRegistry.open(trained.kb.path) as registry:
        registry.register(RegisteredModel("plain", "hf:base", "lora", "x"))
    out = run_cli("models", "check", "plain", "--kb", kb)
    assert out.exit_code == 0 and "UNKNOWN:" in out.output


def test_many_changes_are_listed_ten_then_counted(trained: Trained) -> None:
    extra = [Document(f"extra/{i:02}.md", f"Extra {i}", f"# E{i}\n\nFact {i}.\n") for i in range(12)]
    trained.kb.ingest_documents(extra)
    out = run_cli("models", "check", "voice", "--kb", str(trained.kb.path))
    assert out.exit_code == 0 and "FRESH:" in out.output
    assert "+ extra/09.md" in out.output and "extra/10.md" not in out.output and "... and 2 more" in out.output


@pytest.fixture
def answering(monkeypatch: pytest.MonkeyPatch) -> None:
    """``ft:`` models answer with the model-free generator: the staleness hook runs, no model is loaded."""
    real = strategies.load_generator

    def load(spec: str, *, adapter: str | None = None, embed: Any = None, **settings: Any) -> Any:
        return real("extractive", embed=embed)

    monkeypatch.setattr(strategies, "load_generator", load)


def stale_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == staleness.__name__ and r.levelno == logging.WARNING]


@pytest.mark.usefixtures("answering")
def test_answering_with_a_stale_model_warns_once_per_process(
    trained: Trained, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    assert trained.kb.strategies(model="ft:voice")["base"].pipeline is not None  # fresh: nothing to say
    assert stale_warnings(caplog) == []
    staleness._warned.clear()

    edit_price(trained)
    for _ in range(3):  # new strategies each time (as ask, serve and compare build them): one warning in all
        answer = strategies.load_strategies(trained.kb, model="ft:voice", config={})["base"].ask("How much is it?")
        assert isinstance(answer.text, str)
    (message,) = stale_warnings(caplog)
    assert "ft:voice may be stale" in message and "ragtune models check voice" in message


@pytest.mark.usefixtures("answering")
def test_a_failing_check_never_fails_the_answer(
    trained: Trained, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_a: Any) -> Any:
        raise OSError("disk on fire")

    monkeypatch.setattr(staleness, "check_registered", broken)
    caplog.set_level(logging.DEBUG, logger=staleness.__name__)
    strategy = strategies.load_strategies(trained.kb, model="ft:voice", config={})["base"]
    assert isinstance(strategy.ask("How much is the Team plan?").text, str)
    assert any("disk on fire" in r.getMessage() for r in caplog.records)
    assert warn_if_stale(trained.kb, "ft:missing") is None  # an unknown name: nothing, not an error


def test_compare_records_staleness_and_advise_adds_the_caveat(trained: Trained) -> None:
    (plan,) = plan_strategies(trained.kb, {}, PromptTemplates(), names=["ft"], ft="voice")
    assert _staleness(trained.kb, plan) == {
        "model_stale": False,
        "docs_changed": 0,
        "staleness": "fresh: " + check_registered(trained.kb, "voice").retrain,
    }
    edit_price(trained)
    row = _staleness(trained.kb, plan)
    assert (row["model_stale"], row["docs_changed"]) == (True, 1) and row["staleness"].startswith("stale: ")

    def summary(stale: bool) -> dict[str, Any]:
        ft = {"quality": 0.8, "quality_ci": [0.7, 0.9], "model_stale": stale, "docs_changed": 1}
        return {"strategies": {"rag": {"quality": 0.6, "quality_ci": [0.5, 0.65]}, "ft": ft}}

    fired = advise(Constraints(), load_measurements(summary(True)))
    assert fired.strategy == "ft"  # a caveat, not a rule-out: the measurements still choose
    (caveat,) = [f for f in fired.reasons if f.rule == "stale_fine_tuned_model"]
    assert "ft (1 documents changed since its training data)" in caveat.message
    assert "upper bound" in caveat.message and "retrain" in caveat.message and not caveat.excluded
    quiet = advise(Constraints(), load_measurements(summary(False)))
    assert "stale_fine_tuned_model" not in [f.rule for f in quiet.reasons]
