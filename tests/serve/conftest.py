"""Fixtures for the HTTP API: a deterministic fake strategy and one small real knowledge base per session."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from ragtune.config import Settings
from ragtune.embed import Embedder
from ragtune.errors import NotFoundError
from ragtune.knowledge_base import KnowledgeBase
from ragtune.llm.base import GenerationOptions, apply_stop
from ragtune.rag import Answer, Citation

CORPUS = {
    "plans.md": "# Plans\n\nThe Team plan costs 49 dollars per month and includes ten seats.\n",
    "refunds.md": "# Refunds\n\nRefunds are issued within 14 days of a cancelled subscription.\n",
    "sso.md": "# Single sign-on\n\nSingle sign-on supports SAML and OpenID Connect identity providers.\n",
}


class EchoStrategy:
    """Answers "You asked: QUESTION" word by word; counts its calls; fails on request."""

    name = "echo"
    description = "repeats the question (a test double)"

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def _answer(self, messages: Sequence[dict[str, str]], options: GenerationOptions | None, at: int | None) -> Answer:
        question = [m["content"] for m in messages if m["role"] == "user"][-1]
        if question == "boom":
            raise RuntimeError("secret internal detail")
        if at is not None and at > 3:
            raise NotFoundError(f"no version {at} (head is 3)")
        text, _ = apply_stop(f"You asked: {question}", (options.stop if options else []))
        return Answer(
            question=question,
            text=text,
            citations=[Citation(n=1, doc_id="plans", chunk_id="c1", source="plans.md", text="The Team plan…")],
            version=at or 3,
            answered=True,
            tokens_in=len(question.split()),
            tokens_out=len(text.split()),
            finish_reason="stop",
        )

    def answer(
        self,
        messages: Sequence[dict[str, str]],
        *,
        options: GenerationOptions | None = None,
        at: int | None = None,
        filters: dict[str, Any] | None = None,
        **fields: Any,
    ) -> Answer:
        self.calls.append({"messages": list(messages), "options": options, "at": at, "filters": filters})
        return self._answer(messages, options, at)

    def stream(
        self,
        messages: Sequence[dict[str, str]],
        *,
        options: GenerationOptions | None = None,
        at: int | None = None,
        filters: dict[str, Any] | None = None,
        **fields: Any,
    ) -> Iterator[str | Answer]:
        self.calls.append({"messages": list(messages), "options": options, "at": at, "filters": filters})
        answer = self._answer(messages, options, at)
        words = answer.text.split(" ")
        for i, word in enumerate(words):
            if word == "midstream":
                raise RuntimeError("secret internal detail")
            yield word if i == 0 else " " + word
        yield answer


@pytest.fixture
def echo() -> EchoStrategy:
    return EchoStrategy()


@pytest.fixture(scope="session")
def served_kb(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[KnowledgeBase]:
    """A real three-document knowledge base at version 1 (shared: tests must not write to it)."""
    root = tmp_path_factory.mktemp("served")
    docs = root / "docs"
    docs.mkdir()
    for name, text in CORPUS.items():
        (docs / name).write_text(text, encoding="utf-8")
    kb = KnowledgeBase.open(root / ".ragtune", create=True, settings=Settings(), embedder=embedder)
    kb.ingest([docs])
    yield kb
    kb.close()


@pytest.fixture(scope="session")
def served_kb_dir(served_kb: KnowledgeBase) -> Path:
    return Path(served_kb.path)
