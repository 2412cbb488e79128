"""OpenAI's own Python client talks to ``ragtune serve``'s app over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from openai import OpenAI

from ragtune.knowledge_base import KnowledgeBase
from ragtune.rag.strategies import load_strategies
from ragtune.serve import create_app, serve_in_thread

KEY = "sk-ragtune-test"
MESSAGES = [{"role": "user", "content": "How much does the Team plan cost?"}]


@pytest.fixture(scope="module")
def base_url(served_kb: KnowledgeBase) -> Iterator[str]:
    app = create_app(load_strategies(served_kb, config={}), kb=served_kb, api_key=KEY)
    with serve_in_thread(app) as url:
        yield url + "/v1"


@pytest.fixture(scope="module")
def client(base_url: str) -> Iterator[OpenAI]:
    with OpenAI(base_url=base_url, api_key=KEY, max_retries=0, timeout=60) as c:
        yield c


def test_models_list(client: OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert "rag-extractive" in ids


def test_chat_completion(client: OpenAI) -> None:
    r = client.chat.completions.create(model="rag-extractive", messages=MESSAGES)
    assert r.object == "chat.completion" and r.model == "rag-extractive"
    assert r.choices[0].finish_reason == "stop" and r.choices[0].message.role == "assistant"
    assert "49" in (r.choices[0].message.content or "")
    assert r.usage is not None and r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    extra = r.model_extra or {}
    assert extra["kb_version"] == 1 and extra["citations"][0]["doc_id"] == "plans.md"


def test_streaming_matches_the_plain_answer(client: OpenAI) -> None:
    plain = client.chat.completions.create(model="rag-extractive", messages=MESSAGES)
    stream = client.chat.completions.create(
        model="rag-extractive",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].choices == []


def test_errors_become_the_sdks_exceptions(client: OpenAI, base_url: str) -> None:
    with pytest.raises(openai.NotFoundError, match=r"does not exist"):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    with pytest.raises(openai.BadRequestError, match="messages"):
        client.chat.completions.create(model="rag-extractive", messages=[])
    with (
        OpenAI(base_url=base_url, api_key="wrong", max_retries=0) as anonymous,
        pytest.raises(openai.AuthenticationError, match="incorrect API key"),
    ):
        anonymous.models.list()
