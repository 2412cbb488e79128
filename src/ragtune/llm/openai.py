"""``openai:MODEL`` — any OpenAI-compatible chat endpoint (vLLM, Ollama, llama.cpp, TGI, hosted APIs).

Plain ``httpx`` against ``POST {base_url}/chat/completions``; the ``openai`` SDK is not needed.

Transient failures are retried with exponential backoff and jitter: HTTP 429 and 5xx (a ``Retry-After``
header, when sent, sets the wait), refused or reset connections and connect timeouts. Other 4xx answers
are the caller's mistake and fail at once. A stream is retried only until its first byte has been read;
text already yielded cannot be taken back. Every failure surfaces as :class:`~ragtune.errors.ModelError`
with the endpoint, the HTTP status and the server's own message.

Token counts come from the response's ``usage``, which is authoritative. When a server sends none
(some do not honour ``stream_options.include_usage``), the counts are 0 and ``extra["usage"]`` is
``"missing"``. :meth:`OpenAIGenerator.count_tokens` is only an estimate (≈ 4 characters per token), for
budgeting prompts against ``context_window`` when the endpoint's tokenizer is unknown.
"""

from __future__ import annotations

import email.utils
import json
import os
import random
import time
from collections.abc import Iterator
from typing import Any

import httpx

from ragtune.errors import ModelError
from ragtune.llm.base import Generation, GenerationOptions, Message

_RETRY_STATUS = frozenset({429}) | frozenset(range(500, 600))
_MAX_RETRY_AFTER_S = 60.0  # a server asking for longer is treated as down; the caller's retry policy decides


class OpenAIGenerator:
    """A chat model behind an OpenAI-compatible endpoint.

    ``api_key_env`` names the environment variable that holds the key (read when the generator is
    created; ``None`` sends no ``Authorization`` header, as local servers usually need none).
    ``transport`` replaces the network (an ``httpx`` transport), for tests and proxies.
    Unknown keyword options of :meth:`generate` (``context=`` and the like) are ignored: an LLM reads
    the prompt.
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        api_key_env: str | None = "OPENAI_API_KEY",
        timeout_s: float = 60.0,
        max_retries: int = 4,
        backoff_s: float = 0.5,
        context_window: int = 8192,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ModelError(f"openai:{model}: base_url must start with http:// or https://, got {base_url!r}")
        self.model = model
        self.name = f"openai:{model}"
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.context_window = context_window
        self.max_retries = max(0, max_retries)
        self.backoff_s = backoff_s
        headers = {"Accept": "application/json"}
        key = os.environ.get(api_key_env, "") if api_key_env else ""
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
            transport=transport,
        )

    # -- the Generator protocol -------------------------------------------------------------------

    def generate(self, messages: list[Message], options: GenerationOptions | None = None, **kw: Any) -> Generation:
        t0 = time.perf_counter()
        response, attempts = self._send(self._payload(messages, options, stream=False), stream=False)
        try:
            data = response.json()
            choice = data["choices"][0]
            text = choice.get("message", {}).get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ModelError(f"{self._url}: unexpected response ({exc!r}): {response.text[:300]}") from exc
        tokens_in, tokens_out, extra = _usage(data.get("usage"))
        extra.update(attempts=attempts, id=data.get("id", ""))
        return Generation(
            text=text,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            seconds=time.perf_counter() - t0,
            finish_reason=choice.get("finish_reason") or "stop",
            model=data.get("model") or self.model,
            extra=extra,
        )

    def stream(
        self, messages: list[Message], options: GenerationOptions | None = None, **kw: Any
    ) -> Iterator[str | Generation]:
        t0 = time.perf_counter()
        response, attempts = self._send(self._payload(messages, options, stream=True), stream=True)
        pieces: list[str] = []
        finish_reason, model, usage, first_s = "stop", self.model, None, None
        try:
            for chunk in _sse_events(response):
                if "error" in chunk:
                    raise ModelError(f"{self._url}: the stream failed: {_error_message(chunk)}")
                model = chunk.get("model") or model
                usage = chunk.get("usage") or usage
                for choice in chunk.get("choices") or ():
                    content = (choice.get("delta") or {}).get("content")
                    if content:
                        if first_s is None:
                            first_s = time.perf_counter() - t0
                        pieces.append(content)
                        yield content
                    finish_reason = choice.get("finish_reason") or finish_reason
        except httpx.HTTPError as exc:
            raise ModelError(f"{self._url}: the stream broke off after {len(pieces)} pieces: {exc}") from exc
        finally:
            response.close()
        tokens_in, tokens_out, extra = _usage(usage)
        extra.update(attempts=attempts, first_token_s=first_s)
        yield Generation(
            text="".join(pieces),
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            seconds=time.perf_counter() - t0,
            finish_reason=finish_reason,
            model=model,
            extra=extra,
        )

    def count_tokens(self, text: str) -> int:
        """An estimate (≈ 4 characters per token); the endpoint's ``usage`` is authoritative."""
        return (len(text) + 3) // 4

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> OpenAIGenerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- HTTP -------------------------------------------------------------------------------------

    @property
    def _url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def _payload(self, messages: list[Message], options: GenerationOptions | None, *, stream: bool) -> dict[str, Any]:
        o = options or GenerationOptions()
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": o.temperature,
            "top_p": o.top_p,
            # max_tokens, not max_completion_tokens: every compatible server knows the older name.
            "max_tokens": o.max_new_tokens,
            "stream": stream,
        }
        if o.stop:
            payload["stop"] = list(o.stop)
        if o.seed is not None:
            payload["seed"] = o.seed
        # Not in OpenAI's API, but vLLM, llama.cpp's server and TGI's OpenAI route accept it (others ignore it);
        # sent only when set. How a server counts repeats (prompt included or not) is the server's choice.
        if o.repetition_penalty != 1.0:
            payload["repetition_penalty"] = o.repetition_penalty
        if stream:
            payload["stream_options"] = {"include_usage": True}
        return payload

    def _send(self, payload: dict[str, Any], *, stream: bool) -> tuple[httpx.Response, int]:
        """POST with retries; the successful response (body unread when streaming) and the attempts made."""
        attempt = 0
        while True:
            attempt += 1
            last = attempt > self.max_retries
            try:
                request = self._client.build_request("POST", self._url, json=payload)
                response = self._client.send(request, stream=stream)
            except httpx.ConnectError as exc:
                if last:
                    reason = "connection refused" if "refused" in str(exc).lower() else str(exc) or type(exc).__name__
                    raise ModelError(f"cannot reach {self.base_url}: {reason} (after {attempt} attempts)") from exc
                self._wait(attempt, None)
                continue
            except (httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                # Connection reset or dropped before an answer: safe to send again.
                if last:
                    raise ModelError(f"{self._url}: {type(exc).__name__}: {exc} (after {attempt} attempts)") from exc
                self._wait(attempt, None)
                continue
            except httpx.TimeoutException as exc:
                raise ModelError(f"{self._url}: no answer within the timeout ({exc})") from exc
            except httpx.HTTPError as exc:
                raise ModelError(f"{self._url}: {type(exc).__name__}: {exc}") from exc
            if response.status_code < 400:
                return response, attempt
            if stream:
                response.read()
            response.close()
            if response.status_code in _RETRY_STATUS and not last:
                self._wait(attempt, response.headers.get("retry-after"))
                continue
            raise self._http_error(response, attempt)

    def _wait(self, attempt: int, retry_after: str | None) -> None:
        delay = _parse_retry_after(retry_after)
        if delay is None:
            base = self.backoff_s * 2 ** (attempt - 1)
            delay = base + random.uniform(0, base / 2)
        time.sleep(min(delay, _MAX_RETRY_AFTER_S))

    def _http_error(self, response: httpx.Response, attempts: int) -> ModelError:
        status = response.status_code
        message = _error_message(_json_or_text(response))
        if status in (401, 403):
            where = f"${self.api_key_env}" if self.api_key_env else "no key (api_key_env=None)"
            sent = "was sent" if "Authorization" in self._client.headers else "was not set, so none was sent"
            return ModelError(
                f"the endpoint rejected the API key (HTTP {status}) at {self.base_url}; the key comes from "
                f"{where}, which {sent}: {message}"
            )
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        return ModelError(f"{self._url} answered HTTP {status}{tries}: {message}")


# -- helpers ----------------------------------------------------------------------------------------


def _usage(usage: Any) -> tuple[int, int, dict[str, Any]]:
    if not isinstance(usage, dict):
        return 0, 0, {"usage": "missing"}
    return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0), {}


def _sse_events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """The JSON payloads of a server-sent-event stream's ``data:`` lines, up to ``[DONE]``."""
    for line in response.iter_lines():
        if not line.startswith("data:"):
            continue  # comments (": keep-alive"), event names, blank separators
        data = line[5:].strip()
        if data == "[DONE]":
            return
        if not data:
            continue
        try:
            event = json.loads(data)
        except ValueError as exc:
            raise ModelError(f"{response.request.url}: malformed stream event: {data[:200]}") from exc
        if isinstance(event, dict):
            yield event


def _json_or_text(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def _error_message(body: Any) -> str:
    """The message in an error body: OpenAI's ``{"error": {"message"}}``, or the shapes other servers use."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            for key in ("message", "detail", "msg"):
                if error.get(key):
                    return str(error[key])[:500]
        elif error:
            return str(error)[:500]
        return json.dumps(body)[:500]
    return str(body).strip()[:500] or "(empty response)"


def _parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
