"""Chat JSONL: reading with file:line errors, writing, and questions inside RAG prompts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragtune.errors import DatasetError
from ragtune.llm.prompts import PromptTemplates, Source, rag_messages
from ragtune.tune.data.dataset import ChatExample, read_chat_jsonl, user_question, write_chat_jsonl

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "helpcenter"


def test_round_trip_keeps_messages_and_metadata(tmp_path: Path) -> None:
    items = [
        ChatExample(
            [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello. ✓"}], {"doc_id": "a"}
        ),
        ChatExample(
            [
                {"role": "system", "content": "S"},
                {"role": "user", "content": "Q"},
                {"role": "assistant", "content": "A"},
            ]
        ),
    ]
    path = tmp_path / "x.jsonl"
    assert write_chat_jsonl(path, items) == 2
    back = read_chat_jsonl(path)
    assert [(e.messages, e.metadata) for e in back] == [(e.messages, e.metadata) for e in items]
    assert [e.line for e in back] == [1, 2]
    assert "metadata" not in json.loads(path.read_text().splitlines()[1])


def test_helpcenter_style_file_reads() -> None:
    items = read_chat_jsonl(EXAMPLES / "style.jsonl")
    assert len(items) == 148 and all(e.messages[-1]["role"] == "assistant" for e in items)


def test_errors_name_file_line_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    good = json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]})
    path.write_text(good + "\n" + json.dumps({"messages": [{"role": "user", "content": "q"}]}) + "\n")
    with pytest.raises(DatasetError, match=r"bad\.jsonl:2: .*end with an assistant turn") as info:
        read_chat_jsonl(path)
    assert info.value.line == 2
    with pytest.raises(DatasetError, match="cannot read"):
        read_chat_jsonl(tmp_path / "missing.jsonl")


def test_user_question_unwraps_rag_prompts() -> None:
    user = rag_messages("How long is the trial?", [Source("14 days.", "Trial")])[1]["content"]
    assert user_question(user) == "How long is the trial?"
    assert user_question("Just a question?") == "Just a question?"
    custom = PromptTemplates(rag_user="{question}\n---\n{sources}")
    wrapped = rag_messages("Q1?", [Source("x")], templates=custom)[1]["content"]
    assert user_question(wrapped, custom) == "Q1?"
