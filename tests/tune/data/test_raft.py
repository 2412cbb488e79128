"""RAFT examples: the oracle share, distractors, citations, and the exact prompt the RAG pipeline sends."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ragtune.cli.main import cli
from ragtune.config import Settings
from ragtune.embed import Embedder
from ragtune.knowledge_base import KnowledgeBase
from ragtune.llm.base import Generation, GenerationOptions, Message
from ragtune.llm.citations import parse_citations
from ragtune.llm.prompts import NOT_IN_SOURCES, PromptTemplates
from ragtune.rag import RagPipeline
from ragtune.search.passage import Passage
from ragtune.search.query import Query, SearchResult
from ragtune.tune.data.check import check_dataset
from ragtune.tune.data.raft import build_raft, cite, oracle_share_of, raft_example
from ragtune.tune.data.synth import synthesize

HELPCENTER = Path(__file__).resolve().parents[3] / "examples" / "helpcenter" / "docs"
DOCS = ("files/version-history-and-trash.md", "billing/free-trial.md", "files/sharing-and-guest-links.md")


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[KnowledgeBase]:
    root = tmp_path_factory.mktemp("raftkb")
    for doc in DOCS:
        (root / "docs" / doc).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(HELPCENTER / doc, root / "docs" / doc)
    kb = KnowledgeBase.open(root / ".ragtune", create=True, settings=Settings(), embedder=embedder)
    kb.ingest([root / "docs"])
    yield kb
    kb.close()


@pytest.fixture(scope="module")
def pairs(kb: KnowledgeBase) -> list[Any]:
    return synthesize(kb).pairs


class RecordingGenerator:
    """Records the prompt it is given (the pipeline's output is what is under test, not a model)."""

    name = "recording"
    context_window = 100_000

    def __init__(self) -> None:
        self.prompts: list[list[Message]] = []

    def generate(self, messages: list[Message], options: GenerationOptions | None = None, **kw: object) -> Generation:
        self.prompts.append(messages)
        return Generation("ok [1]", 0, 0, 0.0)

    def stream(self, messages: list[Message], options: GenerationOptions | None = None, **kw: object):  # type: ignore[no-untyped-def]
        yield self.generate(messages, options)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


class FixedRetriever:
    """Returns given passages in a given order, as a retriever that ranked them so would."""

    def __init__(self, kb: KnowledgeBase, passages: list[Passage]) -> None:
        self.store = kb.store
        self.settings = kb.retriever.settings
        self.passages = passages

    def search(self, query: str, k: int = 10, **kw: Any) -> list[Passage]:
        return self.passages[:k]

    def retrieve(self, query: Query) -> SearchResult:
        return SearchResult(query, self.store.head(), self.search(query.text, query.k or 10))


def test_oracle_share_distractors_and_citations(kb: KnowledgeBase, pairs: list[Any]) -> None:
    assert len(pairs) >= 20
    examples = build_raft(kb, pairs, k=3, oracle_share=0.7, seed=1)
    assert len(examples) == len(pairs)
    assert abs(oracle_share_of(examples) - 0.7) <= 1 / len(pairs)
    for ex, pair in zip(examples, pairs, strict=True):
        meta = ex.metadata
        shown = meta["passages"]
        assert pair.chunk_id not in [
            c for i, c in enumerate(shown, 1) if i != meta["oracle"]
        ]  # no distractor is the oracle
        cited = parse_citations(ex.messages[-1]["content"], len(shown)).cited
        if meta["oracle"] is None:
            assert pair.chunk_id not in shown and len(shown) == 4  # one more distractor takes the oracle's place
            assert ex.messages[-1]["content"] == pair.answer.strip() and cited == []
        else:
            assert shown[meta["oracle"] - 1] == pair.chunk_id and len(shown) == 4
            assert cited == [meta["oracle"]]
        assert meta["doc_id"] == pair.doc_id and meta["kind"] == "raft" and meta["kb_version"] == kb.head


def test_oracle_position_varies_and_seed_repeats(kb: KnowledgeBase, pairs: list[Any]) -> None:
    a = build_raft(kb, pairs[:20], k=3, seed=5)
    b = build_raft(kb, pairs[:20], k=3, seed=5)
    assert [e.as_dict() for e in a] == [e.as_dict() for e in b]
    assert len({e.metadata["oracle"] for e in a if e.metadata["oracle"]}) > 1
    assert oracle_share_of(build_raft(kb, pairs[:20], k=2, oracle_share=0.0)) == 0.0
    assert oracle_share_of(build_raft(kb, pairs[:20], k=2, oracle_share=1.0)) == 1.0


def test_prompt_is_what_the_rag_pipeline_sends(kb: KnowledgeBase, pairs: list[Any]) -> None:
    templates = PromptTemplates(rag_system="Custom system.", rag_user="Q: {question}\n\nDocs:\n{sources}\nA:")
    [example] = build_raft(kb, pairs[:1], k=3, templates=templates, oracle_share=1.0)
    # Rebuild the same passages, in the same order, and let the real pipeline make its prompt.
    passages = {(p.chunk_id): p for p in kb.search(pairs[0].question, k=50)}
    from ragtune.tune.data.synth import kb_chunks

    chunks = {c.chunk_id: c for c in kb_chunks(kb)[1]}
    shown = [passages[c] if c in passages else chunks[c].as_passage() for c in example.metadata["passages"]]
    gen = RecordingGenerator()
    pipeline = RagPipeline(gen, FixedRetriever(kb, shown), k=len(shown), templates=templates)  # type: ignore[arg-type]
    pipeline.ask(pairs[0].question)
    assert gen.prompts[0] == example.messages[:-1]
    assert example.messages[0]["content"] == "Custom system."


def test_withheld_decline_and_cite_format() -> None:
    p = Passage(1, 1.0, "d.md", "c1", "Trash keeps files 30 days.", "Trash", "d.md", [], None, 0, 10, 1, 1)
    q = Passage(2, 0.5, "e.md", "c2", "Guest links expire.", "Links", "e.md", [], None, 0, 10, 2, 1)
    messages, number, shown = raft_example("How long?", "30 days.", None, [q], rng=random.Random(0), withheld="decline")
    assert number is None and messages[-1]["content"] == NOT_IN_SOURCES and shown == [q]
    messages, number, _ = raft_example("How long?", "30 days.", p, [q], rng=random.Random(0))
    assert messages[-1]["content"] == f"30 days [{number}]."
    assert (
        cite("1. Open Trash.\n2. Click Restore\n\n| a | b |", 2)
        == "1. Open Trash [2].\n2. Click Restore [2]\n\n| a | b |"
    )
    # With a token budget, distractors go first and the oracle stays.
    _, number, shown = raft_example(
        "How long?", "30 days.", p, [q, q, q], rng=random.Random(0), count_tokens=lambda s: len(s.split()), budget=90
    )
    assert p in shown and number is not None and len(shown) < 4


def test_cli_raft_build_passes_check(
    kb: KnowledgeBase, hermetic: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same real model the session already loaded, instead of loading it a second time.
    monkeypatch.setattr("ragtune.knowledge_base.load_embedder", lambda *a, **kw: embedder)
    out = hermetic / "raft.jsonl"
    args = [
        "data",
        "build",
        "--kb",
        str(kb.path),
        "--out",
        str(out),
        "--raft",
        "--k",
        "2",
        "--oracle-share",
        "0.5",
        "--withheld",
        "decline",
        "--json",
    ]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["raft"] is True
    report = check_dataset(out)
    assert report.ok, report.render()
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    declined = [r for r in rows if r["metadata"]["oracle"] is None]
    assert declined and all(r["messages"][-1]["content"] == NOT_IN_SOURCES for r in declined)
