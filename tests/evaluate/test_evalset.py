"""Eval sets: reading (with file:line errors), writing, unanswerable items, and ``eval build`` kept apart
from training data."""

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
from ragtune.errors import DatasetError
from ragtune.evaluate.evalset import EvalItem, build_eval_set, read_eval_set, write_eval_set
from ragtune.knowledge_base import KnowledgeBase
from ragtune.tune.data.check import check_dataset
from ragtune.tune.data.dataset import read_chat_jsonl

HELPCENTER = Path(__file__).resolve().parents[2] / "examples" / "helpcenter"
DOCS = ("files/version-history-and-trash.md", "billing/free-trial.md", "account/two-factor-authentication.md")


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[KnowledgeBase]:
    root = tmp_path_factory.mktemp("evalkb")
    for doc in DOCS:
        (root / "docs" / doc).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(HELPCENTER / "docs" / doc, root / "docs" / doc)
    kb = KnowledgeBase.open(root / ".ragtune", create=True, settings=Settings(), embedder=embedder)
    kb.ingest([root / "docs"])
    yield kb
    kb.close()


def test_helpcenter_eval_set_and_unanswerable() -> None:
    items = read_eval_set(HELPCENTER / "eval.jsonl")
    assert len(items) == 102
    unanswerable = {i.id for i in items if i.unanswerable}
    assert unanswerable == {f"q{n:03d}" for n in range(93, 103)}
    assert EvalItem("x", "q?", "I could not find the answer in the documents.").unanswerable
    assert not EvalItem("x", "q?", "It does not say much, but 4 hours.", sources=["sla.pdf"]).unanswerable


def test_round_trip(tmp_path: Path) -> None:
    items = [EvalItem("a", "Q?", "A.", ["d.md"], ["t"], {"chunk_id": "c"}), EvalItem("b", "Q2?", "", [], [])]
    path = tmp_path / "e.jsonl"
    assert write_eval_set(path, items) == 2
    assert read_eval_set(path) == items


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "invalid JSON"),
        ('{"question": "q?"}', "missing or empty 'id'"),
        ('{"id": "z", "question": ""}', "missing or empty 'question'"),
        ('{"id": "z", "question": "q?", "sources": "a.md"}', "'sources' must be a list of strings"),
        ('{"id": "z", "question": "q?", "tags": [1]}', "'tags' must be a list of strings"),
        ('{"id": "z", "question": "q?", "answer": 3}', "'answer' must be a string"),
        ('{"id": "a", "question": "again?"}', "id 'a' repeats line 1"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, line: str, reason: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "question": "q?", "answer": "x"}\n\n' + line + "\n")
    with pytest.raises(DatasetError) as info:
        read_eval_set(path)
    assert info.value.line == 3 and reason in info.value.reason and str(path) in str(info.value)


def test_build_is_seeded_and_sourced(kb: KnowledgeBase) -> None:
    a = build_eval_set(kb, n=8, seed=2)
    b = build_eval_set(kb, n=8, seed=2)
    assert [i.as_dict() for i in a.items] == [i.as_dict() for i in b.items] and len(a.items) == 8
    assert {i.sources[0] for i in a.items} == set(DOCS)  # spread over every document
    assert all("synthetic" in i.tags and not i.unanswerable for i in a.items)


def test_eval_build_exclude_then_check_finds_no_leakage(kb: KnowledgeBase, hermetic: Path) -> None:
    runner = CliRunner()
    train, leaky, clean = hermetic / "train.jsonl", hermetic / "leaky.jsonl", hermetic / "eval.jsonl"
    kb_arg = ["--kb", str(kb.path)]
    # One pair per chunk for training leaves the chunks' other questions for evaluation.
    assert runner.invoke(cli, ["data", "build", "--out", str(train), "--max-per-chunk", "1", *kb_arg]).exit_code == 0
    # Without --exclude, an eval set from the same KB shares questions with the training data ...
    res = runner.invoke(cli, ["eval", "build", "--out", str(leaky), "--n", "20", *kb_arg])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["data", "check", str(train), "--eval", str(leaky), "--json"])
    assert res.exit_code == 1 and json.loads(res.output)["counts"]["leakage"] >= 10
    # ... with --exclude it shares none, by the same test `data check --eval` applies.
    res = runner.invoke(
        cli, ["eval", "build", "--out", str(clean), "--n", "20", "--exclude", str(train), *kb_arg, "--json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["excluded_as_leakage"] > 0
    res = runner.invoke(cli, ["data", "check", str(train), "--eval", str(clean), "--json"])
    report = json.loads(res.output)
    assert res.exit_code == 0 and "leakage" not in report["counts"], res.output
    assert report["eval"] == str(clean)


def test_exclusion_with_a_partial_training_set(kb: KnowledgeBase, tmp_path: Path) -> None:
    """Hold out half the synthesized questions for training; the eval set is built from the rest."""
    from ragtune.tune.data.dataset import write_chat_jsonl
    from ragtune.tune.data.synth import pair_examples, synthesize

    pairs = synthesize(kb).pairs
    train = tmp_path / "train.jsonl"
    write_chat_jsonl(train, pair_examples(pairs[::2]))
    built = build_eval_set(kb, n=100, exclude=read_chat_jsonl(train))
    assert built.items and built.excluded >= len(pairs[::2])
    questions = [(i.id, i.question) for i in built.items]
    assert check_dataset(train, eval_questions=questions).counts().get("leakage") is None
