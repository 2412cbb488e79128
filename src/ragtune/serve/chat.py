"""``/v1/chat/completions``: an OpenAI chat request → a strategy's Answer → OpenAI's response or SSE stream.

Beyond OpenAI's fields, responses carry ``citations`` (the cited passages) and ``kb_version`` (the
version answered from); a stream sends both with its ``finish_reason`` chunk. Clients that do not know
them ignore them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ragtune.errors import RagtuneError
from ragtune.llm.base import GenerationOptions, Message
from ragtune.rag import Answer
from ragtune.serve.errors import INTERNAL_ERROR, ApiError, error_body, from_ragtune_error
from ragtune.serve.schemas import ChatCompletionRequest

if TYPE_CHECKING:
    from ragtune.rag.strategies import StrategyProtocol as Strategy

log = logging.getLogger("ragtune.serve")


def to_messages(request: ChatCompletionRequest) -> list[Message]:
    """Plain ``{"role", "content"}`` messages; content parts joined, ``developer`` read as ``system``."""
    out: list[Message] = []
    for i, m in enumerate(request.messages):
        content = m.content
        if isinstance(content, list):
            texts = []
            for j, part in enumerate(content):
                if part.get("type") != "text" or not isinstance(part.get("text"), str):
                    raise ApiError(
                        400,
                        f"only text content parts are supported, got {part.get('type')!r}",
                        param=f"messages.{i}.content.{j}",
                        code="invalid_value",
                    )
                texts.append(part["text"])
            content = "\n".join(texts)
        out.append({"role": "system" if m.role == "developer" else m.role, "content": content or ""})
    if not any(m["role"] == "user" and m["content"].strip() for m in out):
        raise ApiError(400, "messages must include a non-empty user message", param="messages", code="invalid_value")
    return out


def _strategy_options(strategy: Any) -> GenerationOptions | None:
    spec = getattr(strategy, "spec", None)
    return spec.options() if spec is not None else None


def to_options(request: ChatCompletionRequest, base: GenerationOptions | None = None) -> GenerationOptions | None:
    """The strategy's decoding options (``base``) with what the request sets on top, or None to keep them all.
    A request's ``temperature`` does not drop the strategy's repetition control or answer length."""
    max_tokens = request.max_completion_tokens or request.max_tokens
    given: dict[str, Any] = {
        "temperature": request.temperature,
        "top_p": request.top_p,
        "max_new_tokens": max_tokens,
        "stop": [request.stop] if isinstance(request.stop, str) else request.stop,
        "seed": request.seed,
        "repetition_penalty": request.repetition_penalty,
    }
    given = {k: v for k, v in given.items() if v is not None}
    if not given:
        return None
    return dataclasses.replace(base, **given) if base is not None else GenerationOptions(**given)


class Completion:
    """One chat completion's identity, shared by its response or all of its chunks."""

    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time())
        self.model = model

    def _head(self, obj: str) -> dict[str, Any]:
        return {"id": self.id, "object": obj, "created": self.created, "model": self.model, "system_fingerprint": None}

    def response(self, answer: Answer) -> dict[str, Any]:
        return {
            **self._head("chat.completion"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer.text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": answer.finish_reason,
                }
            ],
            "usage": usage(answer),
            "citations": [c.as_dict() for c in answer.citations],
            "kb_version": answer.version,
        }

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {**self._head("chat.completion.chunk"), "choices": [choice], **extra}

    def usage_chunk(self, answer: Answer) -> dict[str, Any]:
        return {**self._head("chat.completion.chunk"), "choices": [], "usage": usage(answer)}


def usage(answer: Answer) -> dict[str, int]:
    return {
        "prompt_tokens": answer.tokens_in,
        "completion_tokens": answer.tokens_out,
        "total_tokens": answer.tokens_in + answer.tokens_out,
    }


def sse(data: dict[str, Any] | str) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)}\n\n"


def answer(strategy: Strategy, request: ChatCompletionRequest, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """``fields``: more query fields (the caller's ``principal`` and ``groups``)."""
    options = to_options(request, _strategy_options(strategy))
    result = strategy.answer(
        to_messages(request), options=options, at=request.at, filters=request.filters, **(fields or {})
    )
    return Completion(request.model).response(result)


def stream(strategy: Strategy, request: ChatCompletionRequest, fields: dict[str, Any] | None = None) -> Iterator[str]:
    """The SSE events of a streamed completion.

    The strategy's first item is produced before this returns, so failures before any text (an unknown
    KB version, a bad filter, an unreachable model) still get an HTTP error status. Later failures can
    only be reported in the stream, as an ``{"error": ...}`` event (OpenAI's SDK raises on it).
    """
    options = to_options(request, _strategy_options(strategy))
    pieces = strategy.stream(
        to_messages(request), options=options, at=request.at, filters=request.filters, **(fields or {})
    )
    first = next(pieces, None)
    include_usage = bool(request.stream_options and request.stream_options.include_usage)
    return _events(Completion(request.model), first, pieces, include_usage)


def _events(
    completion: Completion, first: str | Answer | None, rest: Iterator[str | Answer], include_usage: bool
) -> Iterator[str]:
    extra: dict[str, Any] = {"usage": None} if include_usage else {}
    try:
        yield sse(completion.chunk({"role": "assistant", "content": ""}, **extra))
        item, final = first, None
        while item is not None:
            if isinstance(item, Answer):
                final = item
            elif item:
                yield sse(completion.chunk({"content": item}, **extra))
            item = next(rest, None)
        if final is None:
            raise RuntimeError("the strategy's stream ended without an Answer")
        yield sse(
            completion.chunk(
                {},
                final.finish_reason,
                citations=[c.as_dict() for c in final.citations],
                kb_version=final.version,
                **extra,
            )
        )
        if include_usage:
            yield sse(completion.usage_chunk(final))
        yield sse("[DONE]")
    except RagtuneError as exc:
        log.warning("stream %s failed: %s: %s", completion.id, type(exc).__name__, exc)
        yield sse(from_ragtune_error(exc).body())
    except Exception as exc:
        log.error("stream %s failed", completion.id, exc_info=exc)
        yield sse(error_body(INTERNAL_ERROR, type="server_error", code="internal_error"))
    finally:
        close = getattr(rest, "close", None)
        if close is not None:
            close()
