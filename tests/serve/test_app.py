"""The HTTP API in process (Starlette's TestClient): OpenAI shapes, errors, keys, SSE, search and ask."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragtune.config import Settings
from ragtune.embed.base import Embedder
from ragtune.knowledge_base import KnowledgeBase
from ragtune.rag.strategies import load_strategies
from ragtune.serve import create_app

Echo = Any  # tests/serve/conftest.py: EchoStrategy


def client_for(echo: Echo, **kw: Any) -> TestClient:
    return TestClient(create_app({"echo": echo}, **kw), raise_server_exceptions=False)


def chat(client: TestClient, **body: Any) -> Any:
    body.setdefault("model", "echo")
    body.setdefault("messages", [{"role": "user", "content": "How much is the Team plan?"}])
    return client.post("/v1/chat/completions", json=body)


def assert_error(response: Any, status: int, *, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"] and error["type"]
    assert "Traceback" not in response.text and "secret internal detail" not in response.text
    if code is not None:
        assert error["code"] == code
    if param is not None:
        assert error["param"] == param
    return error


def sse_events(text: str) -> list[Any]:
    """The data payloads of an SSE body, checking the framing on the way."""
    assert text.endswith("\n\n")
    events = []
    for block in text.split("\n\n")[:-1]:
        assert block.startswith("data: "), block
        data = block[len("data: ") :]
        events.append(data if data == "[DONE]" else json.loads(data))
    return events


# -- basics ---------------------------------------------------------------------------------------


def test_healthz_without_a_kb(echo: Echo) -> None:
    assert client_for(echo).get("/healthz").json() == {"status": "ok", "version": None}


def test_models_lists_strategies_in_openai_shape(echo: Echo) -> None:
    body = client_for(echo).get("/v1/models").json()
    assert body["object"] == "list"
    (model,) = body["data"]
    assert model["id"] == "echo" and model["object"] == "model" and model["owned_by"] == "ragtune"
    assert isinstance(model["created"], int) and model["description"] == echo.description


def test_chat_completion_shape_and_options(echo: Echo) -> None:
    r = chat(client_for(echo), temperature=0.5, max_tokens=7, stop="plan", seed=3, top_p=0.9, at=2, user="ignored")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"].startswith("chatcmpl-") and body["object"] == "chat.completion" and body["model"] == "echo"
    (choice,) = body["choices"]
    assert choice["message"] == {"role": "assistant", "content": "You asked: How much is the Team ", "refusal": None}
    assert choice["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 6, "completion_tokens": 7, "total_tokens": 13}
    assert body["citations"][0]["doc_id"] == "plans" and body["kb_version"] == 2
    opts = echo.calls[0]["options"]
    assert (opts.temperature, opts.max_new_tokens, opts.stop, opts.seed, opts.top_p) == (0.5, 7, ["plan"], 3, 0.9)


def test_chat_without_decoding_fields_keeps_the_strategys_options(echo: Echo) -> None:
    messages = [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": "there"}]},
    ]
    assert chat(client_for(echo), messages=messages).status_code == 200
    call = echo.calls[0]
    assert call["options"] is None
    assert call["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello\nthere"}]


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"model": "echo"}, "messages", "missing_required_parameter"),
        ({"model": "echo", "messages": []}, "messages", "invalid_value"),
        ({"model": "echo", "messages": [{"role": "wizard", "content": "hi"}]}, "messages.0.role", "invalid_value"),
        ({"model": "echo", "messages": [{"role": "system", "content": "hi"}]}, "messages", "invalid_value"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "model", "missing_required_parameter"),
        ({"model": "echo", "messages": [{"role": "user", "content": "hi"}], "temperature": 9}, "temperature", None),
        ({"model": "echo", "messages": [{"role": "user", "content": "hi"}], "n": 2}, "n", None),
        (
            {"model": "echo", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
            "messages.0.content.0",
            None,
        ),
    ],
)
def test_invalid_requests_get_openai_style_400(echo: Echo, body: dict[str, Any], param: str, code: str | None) -> None:
    error = assert_error(client_for(echo).post("/v1/chat/completions", json=body), 400, param=param, code=code)
    assert error["type"] == "invalid_request_error"


def test_malformed_json_and_non_object_bodies(echo: Echo) -> None:
    client = client_for(echo)
    headers = {"content-type": "application/json"}
    assert_error(client.post("/v1/chat/completions", content=b'{"model": ', headers=headers), 400, code="invalid_json")
    assert_error(client.post("/v1/chat/completions", content=b"[1, 2]", headers=headers), 400)
    assert_error(client.post("/v1/chat/completions"), 400, code="missing_body")


def test_unknown_model_is_404_model_not_found(echo: Echo) -> None:
    error = assert_error(chat(client_for(echo), model="gpt-4o"), 404, code="model_not_found", param="model")
    assert "echo" in error["message"]


def test_unknown_route_and_method(echo: Echo) -> None:
    client = client_for(echo)
    assert_error(client.get("/v1/nothing"), 404)
    assert_error(client.get("/v1/chat/completions"), 405)


def test_library_errors_map_to_status_and_crashes_stay_private(echo: Echo, caplog: pytest.LogCaptureFixture) -> None:
    client = client_for(echo)
    assert_error(chat(client, at=9), 404, code="not_found")
    error = assert_error(chat(client, messages=[{"role": "user", "content": "boom"}]), 500, code="internal_error")
    assert error["type"] == "server_error"
    assert "secret internal detail" in caplog.text  # logged on the server, not sent


# -- API key --------------------------------------------------------------------------------------


def test_api_key_is_required_on_v1_but_not_healthz(echo: Echo) -> None:
    client = client_for(echo, api_key="s3cret")
    assert client.get("/healthz").status_code == 200
    assert_error(client.get("/v1/models"), 401, code="invalid_api_key")
    assert_error(client.get("/v1/models", headers={"Authorization": "Bearer nope"}), 401, code="invalid_api_key")
    assert_error(client.get("/v1/models", headers={"Authorization": "Basic s3cret"}), 401)
    # The key is checked before the body is read: an anonymous caller learns nothing about validation.
    bad = client.post("/v1/chat/completions", content=b"{", headers={"content-type": "application/json"})
    assert_error(bad, 401)
    assert bad.headers["www-authenticate"] == "Bearer"
    good = client.post(
        "/v1/chat/completions",
        json={"model": "echo", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": "Bearer s3cret"},
    )
    assert good.status_code == 200


# -- streaming ------------------------------------------------------------------------------------


def test_stream_is_openai_sse(echo: Echo) -> None:
    client = client_for(echo)
    plain = chat(client).json()
    r = chat(client, stream=True, stream_options={"include_usage": True})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == chunks[0]["id"] for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == plain["choices"][0]["message"]["content"]
    final, usage = chunks[-2], chunks[-1]
    assert final["choices"][0]["finish_reason"] == "stop" and final["choices"][0]["delta"] == {}
    assert final["citations"] == plain["citations"] and final["kb_version"] == 3
    assert usage["choices"] == [] and usage["usage"] == plain["usage"]
    assert all(c["usage"] is None for c in chunks[:-1])


def test_stream_without_usage_has_no_usage_chunk(echo: Echo) -> None:
    chunks = sse_events(chat(client_for(echo), stream=True).text)[:-1]
    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_stream_errors_before_and_after_the_first_byte(echo: Echo) -> None:
    client = client_for(echo)
    assert_error(chat(client, stream=True, at=9), 404, code="not_found")  # before: a real HTTP status
    r = chat(client, stream=True, messages=[{"role": "user", "content": "a midstream failure"}])
    assert r.status_code == 200  # after: headers are gone, so the stream carries the error
    events = sse_events(r.text)
    assert events[-1]["error"]["code"] == "internal_error"
    assert "[DONE]" not in events and "secret internal detail" not in r.text


# -- search and ask over a real knowledge base ----------------------------------------------------


@pytest.fixture(scope="module")
def kb_client(served_kb: KnowledgeBase) -> TestClient:
    app = create_app(load_strategies(served_kb, config={}), kb=served_kb)
    return TestClient(app, raise_server_exceptions=False)


def test_healthz_reports_the_kb_version(kb_client: TestClient) -> None:
    assert kb_client.get("/healthz").json() == {"status": "ok", "version": 1}


def test_search(kb_client: TestClient) -> None:
    body = kb_client.post("/v1/search", json={"query": "refund window", "k": 2}).json()
    assert body["version"] == 1 and len(body["results"]) == 2
    top = body["results"][0]
    assert {"rank", "doc_id", "chunk_id", "score", "source", "text"} <= set(top)
    assert top["rank"] == 1 and top["doc_id"] == "refunds.md" and "14 days" in top["text"]


def test_search_errors(kb_client: TestClient, echo: Echo) -> None:
    assert_error(kb_client.post("/v1/search", json={"query": "x", "mode": "psychic"}), 400, code="invalid_value")
    assert_error(kb_client.post("/v1/search", json={"query": "x", "at": 99}), 404, code="not_found")
    assert_error(kb_client.post("/v1/search", json={"query": ""}), 400, param="query")
    assert_error(client_for(echo).post("/v1/search", json={"query": "x"}), 404, code="no_knowledge_base")


def test_ask_with_the_default_strategy(kb_client: TestClient) -> None:
    body = kb_client.post("/v1/ask", json={"question": "How much does the Team plan cost?"}).json()
    assert body["answered"] and "49" in body["answer"] and body["version"] == 1
    assert body["citations"][0]["doc_id"] == "plans.md"
    assert {"question", "timings_ms"} <= set(body)


def test_ask_errors(kb_client: TestClient, echo: Echo) -> None:
    assert_error(kb_client.post("/v1/ask", json={"question": "x", "strategy": "nope"}), 404, code="model_not_found")
    assert_error(kb_client.post("/v1/ask", json={}), 400, param="question")
    # A strategy whose answer() takes no k cannot honour one; say so rather than ignore it.
    error = assert_error(client_for(echo).post("/v1/ask", json={"question": "x", "k": 3}), 400, param="k")
    assert error["code"] == "unsupported_parameter"


def test_search_and_ask_map_the_named_company_to_a_filter(tmp_path: Path, embedder: Embedder) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, company in (("northwind.md", "Northwind Turbines, Inc."), ("contoso.md", "Contoso Foods Ltd")):
        text = f"---\ncompany: {company}\n---\n# Capital spending\n\nCapital expenditures were 4,410 thousand.\n"
        (docs / name).write_text(text, encoding="utf-8")
    with KnowledgeBase.open(tmp_path / ".ragtune", create=True, settings=Settings(), embedder=embedder) as kb:
        kb.ingest([docs])
        client = TestClient(create_app(load_strategies(kb, config={}), kb=kb), raise_server_exceptions=False)
        asked = {"query": "Contoso capital expenditures", "k": 5}
        plain = client.post("/v1/search", json=asked).json()
        assert "auto_filters" not in plain and len(plain["results"]) == 2
        body = client.post("/v1/search", json={**asked, "auto_filter": True}).json()
        assert body["auto_filters"] == {"company": "Contoso Foods Ltd"}
        assert [r["doc_id"] for r in body["results"]] == ["contoso.md"]
        answer = client.post("/v1/ask", json={"question": "Contoso capital expenditures?", "auto_filter": True}).json()
        assert {c["doc_id"] for c in answer["citations"]} == {"contoso.md"}
