"""The MCP tools, with the official SDK's own client: over streamable HTTP (``/mcp`` of a real server on
127.0.0.1, Bearer keys) and over stdio (``ragtune mcp`` as a subprocess)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from ragtune.embed import Embedder
from ragtune.serve.keys import KeyStore
from ragtune.serve.testing import RunningServer, running_server

DOCS = {
    "plans.md": "# Plans\n\nThe Team plan costs 49 dollars per month and includes ten seats.\n",
    "budget.md": "---\nacl: finance\n---\n# Budget\n\nThe marketing budget for next year is 2 million dollars.\n",
}
HR = {"salaries.md": "# Salaries\n\nSalaries are paid on the last working day of the month.\n"}
QUESTION = "What is the marketing budget for next year?"


def make_kb(root: Path, files: dict[str, str], embedder: Embedder) -> Path:
    from ragtune.config import Settings
    from ragtune.knowledge_base import KnowledgeBase

    src = root / "src"
    src.mkdir(parents=True)
    for name, text in files.items():
        (src / name).write_text(text, encoding="utf-8")
    with KnowledgeBase.open(root / ".ragtune", create=True, settings=Settings(), embedder=embedder) as kb:
        kb.ingest([src])
    return root / ".ragtune"


@pytest.fixture(scope="module")
def kb_dirs(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> dict[str, Path]:
    return {
        "docs": make_kb(tmp_path_factory.mktemp("docs"), DOCS, embedder),
        "hr": make_kb(tmp_path_factory.mktemp("hr"), HR, embedder),
    }


@pytest.fixture(scope="module")
def server(kb_dirs: dict[str, Path], embedder: Embedder) -> Iterator[RunningServer]:
    keys = {"bob": {"role": "reader", "collections": ["docs"]}, "rita": {"role": "reader", "groups": ["finance"]}}
    with running_server(kb_dirs, keys=keys, embedder=embedder) as srv:
        yield srv


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result
    if result.structured_content is not None:
        return dict(result.structured_content)
    return dict(json.loads(result.content[0].text))


async def over_http(srv: RunningServer, key: str | None, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    headers = srv.headers(key) if key else {}
    http = httpx2.AsyncClient(headers=headers, timeout=60)
    async with http, Client(streamable_http_client(srv.url + "/mcp", http_client=http)) as client:
        tools = await client.list_tools()
        out: list[Any] = [sorted(t.name for t in tools.tools)]
        for name, args in calls:
            out.append(await client.call_tool(name, args))
        return out


def test_http_tools_read_as_the_key(server: RunningServer) -> None:
    calls = [
        ("collections", {}),
        ("search", {"query": QUESTION, "collection": "docs", "k": 5}),
        ("search", {"query": "salaries", "collection": "hr"}),
        ("ask", {"question": "How much is the Team plan?", "collection": "docs"}),
    ]
    tools, cols, found, forbidden, answer = anyio.run(over_http, server, "bob", calls)
    assert tools == ["ask", "collections", "search"]
    assert [c["name"] for c in structured(cols)["collections"]] == ["docs"]
    bob_ids = [r["doc_id"] for r in structured(found)["results"]]
    assert "budget.md" not in bob_ids and "plans.md" in bob_ids
    assert forbidden.is_error and "may not use the collection 'hr'" in forbidden.content[0].text
    got = structured(answer)
    assert "49 dollars" in got["answer"] and got["citations"][0]["doc_id"] == "plans.md"

    _, found = anyio.run(over_http, server, "rita", [("search", {"query": QUESTION, "collection": "docs"})])
    assert structured(found)["results"][0]["doc_id"] == "budget.md"


def test_http_needs_a_key(server: RunningServer) -> None:
    for key in (None, "rtk_000000000000_" + "x" * 43):
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        r = httpx2.post(server.url + "/mcp", headers=headers, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"


def test_stdio_subprocess(kb_dirs: dict[str, Path], tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    keys = KeyStore(tmp_path / "keys.json")
    _, bob = keys.create("bob", "reader", collections=["docs"])
    args = ["-m", "ragtune.cli.main", "mcp", "--keys", str(keys.path)]
    for name, path in kb_dirs.items():
        args += ["--collection", f"{name}={path}"]

    async def run(env: dict[str, str]) -> list[Any]:
        params = StdioServerParameters(command=sys.executable, args=args, env=env, cwd=str(tmp_path))
        async with Client(params, read_timeout_seconds=120) as client:
            return [
                await client.call_tool("collections", {}),
                await client.call_tool("search", {"query": QUESTION, "collection": "docs"}),
                await client.call_tool("search", {"query": "salaries", "collection": "hr"}),
            ]

    # as the local user (no key): every collection, every document
    cols, found, hr = anyio.run(run, subprocess_env)
    assert [c["name"] for c in structured(cols)["collections"]] == ["docs", "hr"]
    assert structured(found)["results"][0]["doc_id"] == "budget.md"
    assert structured(hr)["results"][0]["doc_id"] == "salaries.md"
    # as bob's key (RAGTUNE_API_KEY): his collection, his groups
    cols, found, hr = anyio.run(run, {**subprocess_env, "RAGTUNE_API_KEY": bob})
    assert [c["name"] for c in structured(cols)["collections"]] == ["docs"]
    assert "budget.md" not in [r["doc_id"] for r in structured(found)["results"]]
    assert hr.is_error
