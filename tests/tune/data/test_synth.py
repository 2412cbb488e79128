"""``data build``: structural pairs on fixed texts and on a real KB, prompted pairs with a parser and a tiny model."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ragtune.cli.main import cli
from ragtune.config import Settings
from ragtune.embed import Embedder
from ragtune.knowledge_base import KnowledgeBase
from ragtune.llm.base import Generation, GenerationOptions, Message
from ragtune.tune.data.check import check_dataset
from ragtune.tune.data.dataset import read_chat_jsonl
from ragtune.tune.data.prompted import GeneratedPair, acceptable, generate_pairs, parse_qa
from ragtune.tune.data.structure import structural_pairs
from ragtune.tune.data.synth import kb_chunks, pair_examples, synthesize

HELPCENTER = Path(__file__).resolve().parents[3] / "examples" / "helpcenter" / "docs"
DOCS = (
    "files/version-history-and-trash.md",
    "billing/free-trial.md",
    "troubleshooting/error-codes.html",
    "legal/service-level-agreement.pdf",
)


@pytest.fixture(scope="module")
def kb_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Path]:
    """A KB over a few help-center pages (Markdown, HTML and PDF)."""
    root = tmp_path_factory.mktemp("synthkb")
    for doc in DOCS:
        (root / "docs" / doc).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(HELPCENTER / doc, root / "docs" / doc)
    kb = KnowledgeBase.open(root / ".ragtune", create=True, settings=Settings(), embedder=embedder)
    kb.ingest([root / "docs"])
    kb.close()
    yield root


@pytest.fixture
def kb(kb_dir: Path, embedder: Embedder) -> Iterator[KnowledgeBase]:
    kb = KnowledgeBase.open(kb_dir / ".ragtune", settings=Settings(), embedder=embedder)
    yield kb
    kb.close()


def questions(text: str) -> dict[str, str]:
    return {p.question: p.kind for p in structural_pairs(text)}


def test_structure_rules_on_a_corpus_of_another_kind() -> None:
    text = """# Lab safety manual

## Put on protective equipment

1. Wear goggles.
2. Wear gloves.

## Waste disposal

1. Separate solvents from water-based waste.
2. Label every container.

A fume hood is a ventilated enclosure that removes vapours from the bench.
**Flash point** means the lowest temperature at which a liquid gives off enough vapour to ignite.

## When a spill happens

Cover the spill with absorbent and call the safety officer on extension 4400.

## Frequently asked questions

**Can I eat in the lab?**
No. Food and drink stay outside.

Q: Who checks the eyewash stations?
A: The safety officer checks them every week.
"""
    found = questions(text)
    assert found == {
        "How do I put on protective equipment?": "howto",
        "What are the steps for waste disposal?": "steps",
        "What is a fume hood?": "definition",
        "What does Flash point mean?": "definition",
        "What happens when a spill happens?": "section",
        "Can I eat in the lab?": "faq",
        "Who checks the eyewash stations?": "faq",
    }
    pairs = {p.question: p.answer for p in structural_pairs(text)}
    assert pairs["Who checks the eyewash stations?"] == "The safety officer checks them every week."
    assert pairs["How do I put on protective equipment?"] == "1. Wear goggles.\n2. Wear gloves."


def test_structure_skips_what_is_not_a_pair() -> None:
    text = """Intro text before any heading. It is what it is. There is a lot here.

## Restore a deleted file

1. Open Trash.
2. Click Restore.

*Happy reading!*

## Notes
"""
    found = questions(text)
    assert found == {"How do I restore a deleted file?": "howto"}
    answer = structural_pairs(text, boilerplate={"happy reading"})[0].answer
    assert "Happy reading" not in answer and answer.startswith("1. Open Trash.")


def test_kb_chunks_carry_provenance(kb: KnowledgeBase) -> None:
    version, chunks = kb_chunks(kb)
    assert version == kb.head == 1 and chunks
    assert {c.doc_id for c in chunks} == set(DOCS)
    passage = kb.search("restore a deleted file", k=1)[0]
    same = next(c for c in chunks if c.chunk_id == passage.chunk_id and c.doc_id == passage.doc_id)
    assert same.as_passage().citation_source == passage.citation_source and same.text == passage.text


def test_helpcenter_build_passes_check(kb_dir: Path, hermetic: Path, embedder: Embedder) -> None:
    out = hermetic / "train.jsonl"
    args = ["data", "build", "--kb", str(kb_dir / ".ragtune"), "--out", str(out), "--system", "Be kind.", "--json"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["examples"] >= 15 and summary["kb_version"] == 1
    assert {"faq", "howto", "definition"} <= set(summary["kinds"])
    report = check_dataset(out)
    assert report.ok, report.render()
    examples = read_chat_jsonl(out)
    kb = KnowledgeBase.open(kb_dir / ".ragtune", settings=Settings(), embedder=embedder)
    live = {(c.doc_id, c.chunk_id) for c in kb_chunks(kb)[1]}
    kb.close()
    for e in examples:
        assert set(e.metadata) == {"doc_id", "chunk_id", "kb_version", "kind"}
        assert (e.metadata["doc_id"], e.metadata["chunk_id"]) in live
        assert e.messages[0] == {"role": "system", "content": "Be kind."}
    by_q = {e.messages[1]["content"]: e for e in examples}
    restore = by_q["How do I restore a deleted file?"]
    assert restore.metadata["doc_id"] == "files/version-history-and-trash.md"
    assert "Click **Restore**" in restore.messages[2]["content"]
    assert "What does Monthly Uptime Percentage mean?" in by_q  # from the PDF
    assert all("Happy nesting" not in e.messages[-1]["content"] for e in examples)  # boilerplate sign-off


def test_parse_qa_formats() -> None:
    text = (
        "Sure! Here you go:\n1. Q: How long is the trial?\nA: 14 days.\n\n**Question:** Who can start it?\n"
        "**Answer:** The Owner or an Admin,\nnot Members.\nQ: dangling question without answer"
    )
    assert parse_qa(text) == [
        GeneratedPair("How long is the trial?", "14 days."),
        GeneratedPair("Who can start it?", "The Owner or an Admin, not Members."),
    ]
    as_json = 'Output: [{"question": "What is RTO?", "answer": "4 hours."}, {"question": 3}]'
    assert parse_qa(as_json) == [GeneratedPair("What is RTO?", "4 hours.")]
    assert parse_qa("<s> the the of lorem ipsum ]]") == []


def test_acceptable_needs_a_question_and_a_grounded_answer() -> None:
    passage = "The trial lasts 14 days and needs no credit card."
    assert acceptable(GeneratedPair("How long is the trial?", "The trial lasts 14 days."), passage) is None
    assert acceptable(GeneratedPair("Trial length", "14 days."), passage) == "not a question"
    assert acceptable(GeneratedPair("How long is the trial?", "Thirty weeks on Mars."), passage) is not None


class ScriptedGenerator:
    """A generator that replies with fixed texts in turn (stands in for a remote model's replies)."""

    name = "scripted"
    context_window = 4096

    def __init__(self, replies: list[str]) -> None:
        self.replies = replies
        self.calls = 0

    def generate(self, messages: list[Message], options: GenerationOptions | None = None, **kw: object) -> Generation:
        text = self.replies[self.calls % len(self.replies)]
        self.calls += 1
        return Generation(text, 0, 0, 0.0)

    def stream(self, messages: list[Message], options: GenerationOptions | None = None, **kw: object):  # type: ignore[no-untyped-def]
        yield self.generate(messages, options)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def test_prompted_build_counts_unparseable_and_rejected(kb: KnowledgeBase) -> None:
    gen = ScriptedGenerator(
        [
            "garbage without any pairs",
            "Q: What is the RTO?\nA: Purple elephants dance.",
            "Q: How long does a trial last?\nA: The trial lasts 14 days.",
        ]
    )
    result = synthesize(kb, generator=gen, method="scripted", max_per_chunk=2)
    assert gen.calls == result.chunks
    assert result.unparseable == sum(1 for i in range(gen.calls) if i % 3 == 0)
    assert result.rejected >= 1  # the ungrounded answer
    assert all(p.kind == "generated" for p in result.pairs)


@pytest.mark.slow
def test_tiny_model_junk_is_skipped_and_counted(kb: KnowledgeBase, tmp_path: Path) -> None:
    from ragtune.llm.registry import load_generator
    from ragtune.llm.tiny import build_tiny_model

    path = build_tiny_model(tmp_path / "tiny", context_window=2048)
    gen = load_generator(f"hf:{path}")
    _, chunks = kb_chunks(kb)
    results = [generate_pairs(gen, c.text, c.title, 2, GenerationOptions(max_new_tokens=24)) for c in chunks[:3]]
    assert all(r.pairs == [] for r in results)  # random weights write nothing usable
    assert sum(1 for r in results if not r.parsed) + sum(r.rejected for r in results) >= 3


def test_pair_examples_without_system() -> None:
    from ragtune.tune.data.synth import QAPair

    [e] = pair_examples([QAPair("Q?", "A.", "faq", "d.md", "abc", 3)])
    assert [m["role"] for m in e.messages] == ["user", "assistant"]
    assert e.metadata == {"doc_id": "d.md", "chunk_id": "abc", "kb_version": 3, "kind": "faq"}
