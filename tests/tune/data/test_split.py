"""``data split``: deterministic with the seed, and source-disjoint with --by-source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ragtune.cli.main import cli
from ragtune.errors import DatasetError
from ragtune.tune.data.dataset import ChatExample, read_chat_jsonl, write_chat_jsonl
from ragtune.tune.data.split import split_examples


def examples(n: int = 60, docs: int = 12) -> list[ChatExample]:
    return [
        ChatExample(
            [{"role": "user", "content": f"question {i}?"}, {"role": "assistant", "content": f"answer {i}."}],
            {"doc_id": f"doc{i % docs}.md", "chunk_id": f"c{i}"},
            line=i + 1,
        )
        for i in range(n)
    ]


def contents(items: list[ChatExample]) -> list[str]:
    return [e.messages[0]["content"] for e in items]


def test_same_seed_same_split_other_seed_other_split() -> None:
    a = split_examples(examples(), val=0.2, seed=3)
    b = split_examples(examples(), val=0.2, seed=3)
    c = split_examples(examples(), val=0.2, seed=4)
    assert contents(a.val) == contents(b.val) and contents(a.train) == contents(b.train)
    assert contents(a.val) != contents(c.val)
    assert len(a.val) == 12 and len(a.train) == 48
    assert sorted(contents(a.train) + contents(a.val)) == sorted(contents(examples()))


def test_by_source_keeps_documents_on_one_side() -> None:
    for seed in range(5):
        s = split_examples(examples(), val=0.25, seed=seed, by_source=True)
        train_docs = {e.metadata["doc_id"] for e in s.train}
        val_docs = {e.metadata["doc_id"] for e in s.val}
        assert train_docs and val_docs and not train_docs & val_docs
        assert 0.1 <= len(s.val) / 60 <= 0.4
        assert s.val_groups == len(val_docs) and s.train_groups == len(train_docs)


def test_by_source_needs_doc_ids() -> None:
    items = examples(10)
    items[4].metadata.pop("doc_id")
    with pytest.raises(DatasetError, match=r"train.jsonl:5: .*metadata.doc_id"):
        split_examples(items, by_source=True, path="train.jsonl")
    with pytest.raises(DatasetError, match="at least 2 source documents"):
        split_examples(examples(10, docs=1), by_source=True)


def test_cli_split(tmp_path: Path) -> None:
    src = tmp_path / "all.jsonl"
    write_chat_jsonl(src, examples())
    runner = CliRunner()
    args = ["data", "split", str(src), "--val", "0.2", "--seed", "1", "--by-source", "--out-dir", str(tmp_path / "o")]
    res = runner.invoke(cli, [*args, "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    train, val = read_chat_jsonl(tmp_path / "o" / "train.jsonl"), read_chat_jsonl(tmp_path / "o" / "val.jsonl")
    assert (summary["train"], summary["val"]) == (len(train), len(val))
    assert not {e.metadata["doc_id"] for e in train} & {e.metadata["doc_id"] for e in val}
    first = (tmp_path / "o" / "val.jsonl").read_text()
    assert runner.invoke(cli, args).exit_code == 0
    assert (tmp_path / "o" / "val.jsonl").read_text() == first
    assert runner.invoke(cli, ["data", "split", str(src)]).exit_code != 0  # no output paths
