"""``OpenAIGenerator`` against real HTTP servers on 127.0.0.1: ragtune's own API and a stub with failures."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from ragtune.errors import ModelError
from ragtune.llm.base import Generation, GenerationOptions
from ragtune.llm.openai import OpenAIGenerator
from ragtune.rag import Answer
from ragtune.serve import create_app, serve_in_thread

QUESTION = [{"role": "user", "content": "How much is the Team plan?"}]


class Echo:
    """A deterministic strategy: "You asked: QUESTION", streamed word by word; records the options it got."""

    description = "echo"

    def __init__(self) -> None:
        self.options: list[GenerationOptions | None] = []

    def answer(self, messages: Sequence[dict[str, str]], *, options: Any = None, **kw: Any) -> Answer:
        self.options.append(options)
        text = "You asked: " + messages[-1]["content"]
        return Answer(messages[-1]["content"], text, [], 1, True, tokens_in=11, tokens_out=len(text.split()))

    def stream(self, messages: Sequence[dict[str, str]], **kw: Any) -> Iterator[str | Answer]:
        answer = self.answer(messages, **kw)
        yield from (w + " " for w in answer.text.split(" ")[:-1])
        yield answer.text.split(" ")[-1]
        yield answer


@pytest.fixture(scope="module")
def echo_server() -> Iterator[tuple[str, Echo]]:
    echo = Echo()
    with serve_in_thread(create_app({"echo": echo})) as url:
        yield url + "/v1", echo


@pytest.fixture(scope="module")
def keyed_server() -> Iterator[str]:
    with serve_in_thread(create_app({"echo": Echo()}, api_key="right-key")) as url:
        yield url + "/v1"


def _completion(text: str) -> dict[str, Any]:
    return {
        "id": "x",
        "object": "chat.completion",
        "model": "stub",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    }


@pytest.fixture(scope="module")
def stub() -> Iterator[tuple[str, dict[str, int]]]:
    """Endpoints that misbehave on purpose, each under its own prefix; ``calls`` counts requests per prefix."""
    app = FastAPI()
    calls: dict[str, int] = {}

    @app.post("/{kind}/v1/chat/completions")
    async def completions(kind: str, request: Request) -> Any:
        calls[kind] = n = calls.get(kind, 0) + 1
        body = await request.json()
        if kind == "flaky" and n <= 2:
            return JSONResponse({"error": {"message": "overloaded, try again"}}, status_code=503)
        if kind == "down":
            return JSONResponse({"detail": "upstream is down"}, status_code=502)
        if kind == "limited" and n == 1:
            return JSONResponse({"error": {"message": "slow down"}}, status_code=429, headers={"Retry-After": "0"})
        if kind == "bad":
            return JSONResponse({"error": {"message": "max_tokens is too large: 99999"}}, status_code=400)
        if body.get("stream"):
            chunks = [{"choices": [{"delta": {"content": p}, "finish_reason": None}]} for p in ("Hel", "lo")]
            chunks.append({"choices": [{"delta": {}, "finish_reason": "stop"}]})  # and no usage chunk

            def events() -> Iterator[str]:
                yield ": keep-alive\n\n"
                yield from (f"data: {json.dumps(c)}\n\n" for c in chunks)
                yield "data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")
        return _completion("Hello")

    with serve_in_thread(app) as url:
        yield url, calls


def generator(base_url: str, **kw: Any) -> OpenAIGenerator:
    kw.setdefault("api_key_env", None)
    kw.setdefault("backoff_s", 0.01)
    return OpenAIGenerator(kw.pop("model", "echo"), base_url=base_url, **kw)


def test_generate_and_stream_agree(echo_server: tuple[str, Echo]) -> None:
    url, _ = echo_server
    with generator(url) as gen:
        full = gen.generate(QUESTION)
        items = list(gen.stream(QUESTION))
    assert full.text == "You asked: How much is the Team plan?"
    assert (full.tokens_in, full.tokens_out, full.finish_reason, full.model) == (11, 8, "stop", "echo")
    *pieces, final = items
    assert len(pieces) > 1 and all(isinstance(p, str) for p in pieces)
    assert isinstance(final, Generation)
    assert "".join(pieces) == final.text == full.text
    assert (final.tokens_in, final.tokens_out) == (11, 8) and "usage" not in final.extra
    assert final.extra["attempts"] == 1 and final.seconds > 0


def test_options_are_passed_through(echo_server: tuple[str, Echo]) -> None:
    url, echo = echo_server
    options = GenerationOptions(
        temperature=0.7, max_new_tokens=33, stop=["\n\n", "END"], top_p=0.9, seed=5, repetition_penalty=1.1
    )
    with generator(url) as gen:
        gen.generate(QUESTION, options)
    got = echo.options[-1]
    assert got is not None
    assert (got.temperature, got.max_new_tokens, got.stop, got.top_p, got.seed) == (0.7, 33, ["\n\n", "END"], 0.9, 5)
    assert got.repetition_penalty == 1.1


def test_retries_5xx_then_succeeds(stub: tuple[str, dict[str, int]]) -> None:
    url, calls = stub
    result = generator(f"{url}/flaky/v1", model="stub").generate(QUESTION)
    assert calls["flaky"] == 3
    assert (result.text, result.finish_reason, result.tokens_in, result.tokens_out) == ("Hello", "length", 5, 2)
    assert result.extra["attempts"] == 3


def test_honours_retry_after_on_429(stub: tuple[str, dict[str, int]]) -> None:
    url, calls = stub
    t0 = time.perf_counter()
    assert generator(f"{url}/limited/v1", backoff_s=30).generate(QUESTION).text == "Hello"
    assert calls["limited"] == 2 and time.perf_counter() - t0 < 10  # waited Retry-After's 0 s, not 30 s


def test_gives_up_after_max_retries_with_the_servers_message(stub: tuple[str, dict[str, int]]) -> None:
    url, calls = stub
    with pytest.raises(ModelError, match=r"HTTP 502 after 3 attempts: upstream is down"):
        generator(f"{url}/down/v1", max_retries=2).generate(QUESTION)
    assert calls["down"] == 3


def test_no_retry_on_400(stub: tuple[str, dict[str, int]]) -> None:
    url, calls = stub
    with pytest.raises(ModelError, match=r"HTTP 400: max_tokens is too large"):
        generator(f"{url}/bad/v1").generate(QUESTION)
    with pytest.raises(ModelError, match=r"HTTP 400"):
        list(generator(f"{url}/bad/v1").stream(QUESTION))
    assert calls["bad"] == 2


def test_stream_without_usage_is_marked(stub: tuple[str, dict[str, int]]) -> None:
    url, _ = stub
    *pieces, final = generator(f"{url}/plain/v1").stream(QUESTION)
    assert pieces == ["Hel", "lo"]
    assert isinstance(final, Generation)
    assert (final.text, final.tokens_in, final.tokens_out, final.extra["usage"]) == ("Hello", 0, 0, "missing")


def test_refused_connection() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed on leaving the block: nothing listens there
    gen = generator(f"http://127.0.0.1:{port}/v1", max_retries=2)
    with pytest.raises(ModelError, match=r"cannot reach http://127\.0\.0\.1:\d+/v1: connection refused"):
        gen.generate(QUESTION)
    with pytest.raises(ModelError, match="refused"):
        next(iter(gen.stream(QUESTION)))


def test_wrong_api_key_names_the_variable(keyed_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RT_TEST_LLM_KEY", "wrong-key")
    with pytest.raises(ModelError, match=r"rejected the API key \(HTTP 401\).*\$RT_TEST_LLM_KEY"):
        generator(keyed_server, api_key_env="RT_TEST_LLM_KEY").generate(QUESTION)
    monkeypatch.delenv("RT_TEST_LLM_KEY")
    with pytest.raises(ModelError, match=r"HTTP 401.*was not set"):
        generator(keyed_server, api_key_env="RT_TEST_LLM_KEY").generate(QUESTION)
    monkeypatch.setenv("RT_TEST_LLM_KEY", "right-key")
    assert generator(keyed_server, api_key_env="RT_TEST_LLM_KEY").generate(QUESTION).text.startswith("You asked")


def test_count_tokens_is_an_estimate() -> None:
    gen = generator("http://127.0.0.1:9/v1")
    assert gen.count_tokens("") == 0 and gen.count_tokens("abcdefgh") == 2 and gen.name == "openai:echo"
    with pytest.raises(ModelError, match="base_url"):
        OpenAIGenerator("m", base_url="127.0.0.1:8000/v1")
