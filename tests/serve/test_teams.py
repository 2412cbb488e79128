"""Several collections, API keys and roles, limits and traversal, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ragtune.config import Settings
from ragtune.embed import Embedder
from ragtune.knowledge_base import KnowledgeBase
from ragtune.serve.keys import KeyStore
from ragtune.serve.settings import ServeSettings
from ragtune.serve.testing import RunningServer, running_server
from ragtune.serve.uploads import safe_filename

DOCS = {
    "plans.md": "# Plans\n\nThe Team plan costs 49 dollars per month and includes ten seats.\n",
    "budget.md": "---\nacl: finance\n---\n# Budget\n\nThe marketing budget for next year is 2 million dollars.\n",
}
HR = {"salaries.md": "---\nacl: hr\n---\n# Salaries\n\nSalaries are paid on the last working day of the month.\n"}
KEYS: dict[str, Any] = {
    "ada": "admin",
    "ed": {"role": "editor", "collections": ["docs"]},
    "rita": {"role": "reader", "groups": ["finance"]},
    "bob": {"role": "reader", "collections": ["docs"]},
}


def build_kb(root: Path, files: dict[str, str], embedder: Embedder) -> KnowledgeBase:
    src = root / "src"
    src.mkdir(parents=True)
    for name, text in files.items():
        (src / name).write_text(text, encoding="utf-8")
    kb = KnowledgeBase.open(root / ".ragtune", create=True, settings=Settings(), embedder=embedder)
    kb.ingest([src])
    return kb


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[RunningServer]:
    """Two read-only collections (docs, hr) and four keys; tests must not write to them."""
    docs = build_kb(tmp_path_factory.mktemp("docs"), DOCS, embedder)
    hr = build_kb(tmp_path_factory.mktemp("hr"), HR, embedder)
    with running_server({"docs": docs, "hr": hr}, keys=KEYS) as srv:
        yield srv
    docs.close()
    hr.close()


@pytest.fixture
def writable(tmp_path: Path, embedder: Embedder) -> Iterator[RunningServer]:
    """One collection of its own (uploads, removals, rollbacks), small limits, the same four keys."""
    kb = build_kb(tmp_path / "w", DOCS, embedder)
    settings = ServeSettings(max_body_mb=0.01, max_upload_mb=0.05, max_upload_request_mb=0.1, max_upload_files=3)
    with running_server({"docs": kb}, keys=KEYS, settings=settings) as srv:
        yield srv
    kb.close()


def client(srv: RunningServer, key: str | None = None) -> httpx.Client:
    return httpx.Client(base_url=srv.url, headers=srv.headers(key), timeout=60)


def is_openai_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    if code is not None:
        assert error["code"] == code
    return dict(error)


def wait_job(c: httpx.Client, job: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = c.get(f"/v1/jobs/{job}").json()
        if state["state"] != "running":
            return dict(state)
        time.sleep(0.1)
    raise AssertionError("the upload job did not finish")


# -- collections -------------------------------------------------------------------------------------------


def test_me_and_collections_are_per_key(team: RunningServer) -> None:
    assert client(team, "bob").get("/v1/me").json() == {
        "name": "bob",
        "role": "reader",
        "collections": ["docs"],
        "groups": [],
    }
    names = [c["name"] for c in client(team, "bob").get("/v1/collections").json()["data"]]
    assert names == ["docs"]
    data = client(team, "ada").get("/v1/collections").json()["data"]
    assert [c["name"] for c in data] == ["docs", "hr"]
    assert all(c["version"] == 1 and c["documents"] >= 1 and c["chunks"] >= 1 for c in data)


def test_models_are_strategy_at_collection(team: RunningServer) -> None:
    ids = [m["id"] for m in client(team, "ada").get("/v1/models").json()["data"]]
    assert "rag-extractive@docs" in ids and "rag-extractive@hr" in ids
    only = [m["id"] for m in client(team, "ada").get("/v1/models", params={"collection": "hr"}).json()["data"]]
    assert only and all(i.endswith("@hr") for i in only)
    bob = [m["id"] for m in client(team, "bob").get("/v1/models").json()["data"]]
    assert bob and all(i.endswith("@docs") for i in bob)


def test_chat_routes_by_model_at_collection(team: RunningServer) -> None:
    body = {"model": "rag-extractive@docs", "messages": [{"role": "user", "content": "How much is the Team plan?"}]}
    answer = client(team, "bob").post("/v1/chat/completions", json=body).json()
    assert "49 dollars" in answer["choices"][0]["message"]["content"]
    assert answer["citations"][0]["doc_id"] == "plans.md" and answer["kb_version"] == 1
    forbidden = {**body, "model": "rag-extractive@hr"}
    is_openai_error(client(team, "bob").post("/v1/chat/completions", json=forbidden), 403, "collection_forbidden")
    unknown = {**body, "model": "rag-extractive@nope"}
    is_openai_error(client(team, "ada").post("/v1/chat/completions", json=unknown), 404, "collection_not_found")
    plain = {**body, "model": "rag-extractive"}
    is_openai_error(client(team, "ada").post("/v1/chat/completions", json=plain), 400, "missing_required_parameter")
    named = {**plain, "collection": "hr"}
    assert client(team, "ada").post("/v1/chat/completions", json=named).status_code == 200


def test_search_needs_an_allowed_collection(team: RunningServer) -> None:
    ok = client(team, "ada").post("/v1/search", json={"collection": "hr", "query": "When are salaries paid?"})
    assert ok.json()["results"][0]["doc_id"] == "salaries.md"
    body = {"collection": "hr", "query": "salaries"}
    is_openai_error(client(team, "bob").post("/v1/search", json=body), 403, "collection_forbidden")
    body = {"collection": "nope", "query": "salaries"}
    is_openai_error(client(team, "ada").post("/v1/search", json=body), 404, "collection_not_found")


def test_documents_are_filtered_by_the_keys_groups(team: RunningServer) -> None:
    def ids(key: str) -> list[str]:
        data = client(team, key).get("/v1/documents", params={"collection": "docs"}).json()["data"]
        return [d["doc_id"] for d in data]

    assert ids("bob") == ["plans.md"]
    assert ids("rita") == ["budget.md", "plans.md"]
    assert ids("ada") == ["budget.md", "plans.md"]  # admins read everything
    hidden = client(team, "bob").get("/v1/documents/budget.md", params={"collection": "docs"})
    missing = client(team, "bob").get("/v1/documents/nothing.md", params={"collection": "docs"})
    assert is_openai_error(hidden, 404)["message"].replace("budget.md", "X") == is_openai_error(missing, 404)[
        "message"
    ].replace("nothing.md", "X")
    shown = client(team, "rita").get("/v1/documents/budget.md", params={"collection": "docs"}).json()
    assert shown["acl"] == ["finance"] and "2 million" in shown["passages"][0]["text"]


# -- keys --------------------------------------------------------------------------------------------------


def test_missing_and_wrong_keys_are_401(team: RunningServer) -> None:
    c = httpx.Client(base_url=team.url)
    for headers in (
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer rtk_000000000000_" + "x" * 43},
        {"Authorization": "Bearer " + team.keys["bob"][:-2] + "xx"},
    ):
        for method, path in (("GET", "/v1/me"), ("POST", "/v1/search"), ("POST", "/mcp")):
            r = c.request(method, path, headers=headers, json={"query": "x"})
            is_openai_error(r, 401, "invalid_api_key")
            assert r.headers["www-authenticate"] == "Bearer"


def test_health_and_ui_paths_need_no_key(team: RunningServer) -> None:
    c = httpx.Client(base_url=team.url)
    assert c.get("/healthz").status_code == 200
    assert c.get("/").status_code != 401
    assert c.get("/ui/app.js").status_code != 401


ROUTES = [  # (method, path, JSON body or None, the least role)
    ("GET", "/v1/me", None, "reader"),
    ("GET", "/v1/versions?collection=docs", None, "reader"),
    ("GET", "/v1/diff?collection=docs&a=1&b=1", None, "reader"),
    ("GET", "/v1/runs?collection=docs", None, "reader"),
    ("GET", "/v1/registry?collection=docs", None, "reader"),
    ("POST", "/v1/search", {"collection": "docs", "query": "plan"}, "reader"),
    ("POST", "/v1/ask", {"collection": "docs", "question": "How much is the Team plan?"}, "reader"),
    ("DELETE", "/v1/documents/nothing.md?collection=docs", None, "editor"),
    ("POST", "/v1/rollback", {"collection": "docs", "version": 999}, "admin"),
    ("GET", "/v1/keys", None, "admin"),
    ("POST", "/v1/keys", {"name": "x y"}, "admin"),
    ("DELETE", "/v1/keys/nobody", None, "admin"),
    ("GET", "/v1/comparisons", None, "admin"),
]


@pytest.mark.parametrize(("method", "path", "body", "least"), ROUTES)
def test_roles_per_route(team: RunningServer, method: str, path: str, body: Any, least: str) -> None:
    """Below the route's role → 403 role_forbidden; at or above it → not 403 (404/400 for the bogus args)."""
    for key, role in (("bob", "reader"), ("ed", "editor"), ("ada", "admin")):
        r = client(team, key).request(method, path, json=body)
        allowed = ["reader", "editor", "admin"].index(role) >= ["reader", "editor", "admin"].index(least)
        if allowed:
            assert r.status_code != 403, (key, path, r.text)
        else:
            is_openai_error(r, 403, "role_forbidden")


def test_keys_over_http_and_revocation_takes_effect_at_once(writable: RunningServer) -> None:
    admin = client(writable, "ada")
    made = admin.post("/v1/keys", json={"name": "temp", "role": "reader", "groups": ["finance"]}).json()
    assert made["key"].startswith("rtk_") and made["groups"] == ["finance"]
    listed = admin.get("/v1/keys").json()["data"]
    assert "temp" in [k["name"] for k in listed] and all("key" not in k and "hash" not in k for k in listed)
    temp = httpx.Client(base_url=writable.url, headers={"Authorization": f"Bearer {made['key']}"})
    assert temp.get("/v1/me").json()["groups"] == ["finance"]
    assert admin.delete(f"/v1/keys/{made['id']}").json()["revoked"] == made["id"]
    is_openai_error(temp.get("/v1/me"), 401, "invalid_api_key")
    # revoked by another process's KeyStore (what `ragtune keys revoke` does): the next request is refused
    bob = client(writable, "bob")
    assert bob.get("/v1/me").status_code == 200
    assert writable.key_store is not None
    KeyStore(writable.key_store.path).revoke("bob")
    is_openai_error(bob.get("/v1/me"), 401, "invalid_api_key")


def test_the_key_file_holds_hashes_only(writable: RunningServer) -> None:
    assert writable.key_store is not None
    path = writable.key_store.path
    text = path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600
    for key in writable.keys.values():
        assert key not in text and key.split("_", 2)[2] not in text
    assert text.count("$argon2id$") == len(writable.keys)


def test_a_static_api_key_acts_as_admin(served_kb: KnowledgeBase) -> None:
    with running_server({"one": served_kb}, api_key="s3cret") as srv:
        c = httpx.Client(base_url=srv.url, headers={"Authorization": "Bearer s3cret"})
        assert c.get("/v1/me").json()["role"] == "admin"
        assert c.post("/v1/search", json={"query": "refunds"}).status_code == 200  # one collection: no name
        is_openai_error(httpx.get(srv.url + "/v1/me"), 401)


# -- limits and traversal ----------------------------------------------------------------------------------


def test_body_limit_413_with_and_without_content_length(writable: RunningServer) -> None:
    c = client(writable, "ada")
    big = {"collection": "docs", "query": "x" * 20_000}
    is_openai_error(c.post("/v1/search", json=big), 413, "request_too_large")

    def chunks() -> Iterator[bytes]:
        yield b'{"collection": "docs", "query": "'
        for _ in range(40):
            yield b"y" * 1000
        yield b'"}'

    r = c.post("/v1/search", content=chunks(), headers={"Content-Type": "application/json"})
    assert "content-length" not in {k.lower() for k in r.request.headers}
    is_openai_error(r, 413, "request_too_large")

    def small() -> Iterator[bytes]:
        yield b'{"collection": "docs", '
        yield b'"query": "Team plan"}'

    ok = c.post("/v1/search", content=small(), headers={"Content-Type": "application/json"})
    assert ok.status_code == 200 and ok.json()["results"][0]["doc_id"] == "plans.md"


def test_upload_makes_documents_searchable_with_per_file_errors(writable: RunningServer) -> None:
    ed = client(writable, "ed")
    files = [
        ("files", ("cap.md", b"# Upload cap\n\nThe upload cap is 5 GB per file on the Team plan.\n")),
        ("files", ("broken.pdf", b"%PDF-1.4 not really a pdf")),
    ]
    r = ed.post("/v1/uploads", data={"collection": "docs", "acl": "finance"}, files=files)
    assert r.status_code == 200, r.text
    state = wait_job(ed, r.json()["job"])
    assert state["state"] == "done" and state["done"] == state["total"] == 2 and state["version"] == 2
    assert [e["file"] for e in state["errors"]] == ["broken.pdf"] and state["errors"][0]["reason"]
    found = client(writable, "rita").post("/v1/search", json={"query": "upload cap per file"}).json()
    assert found["version"] == 2 and found["results"][0]["doc_id"] == "cap.md"
    doc = client(writable, "rita").get("/v1/documents/cap.md").json()
    assert doc["acl"] == ["finance"] and doc["source"] == "uploads/cap.md"
    kb_dir = writable.collections.items["docs"].require_kb().path
    assert list(Path(kb_dir, "uploads").glob("*/cap.md"))
    is_openai_error(client(writable, "bob").post("/v1/uploads", data={}, files=files[:1]), 403, "role_forbidden")
    assert client(writable, "bob").get(f"/v1/jobs/{r.json()['job']}").status_code == 403


@pytest.mark.parametrize(
    "name", ["../evil.md", "../../etc/evil.md", "/tmp/evil.md", "..\\..\\evil.md", "C:\\evil.md", ".hidden.md", ".."]
)
def test_upload_names_cannot_escape(writable: RunningServer, name: str, tmp_path: Path) -> None:
    before = sorted(p for p in tmp_path.rglob("*") if ".ragtune" not in p.parts)
    ed = client(writable, "ed")
    r = ed.post("/v1/uploads", files=[("files", (name, b"# Evil\n\nEvil text.\n"))])
    if r.status_code == 200:  # the multipart parser itself cut a Windows path to its base name
        assert "\\" in name and r.json()["files"] == ["evil.md"]
        wait_job(ed, r.json()["job"])
    else:
        is_openai_error(r, 400, "invalid_file_name")
        assert writable.collections.items["docs"].require_kb().head == 1
    after = sorted(p for p in tmp_path.rglob("*") if ".ragtune" not in p.parts)
    assert before == after
    assert [p for p in tmp_path.rglob("*evil*") if "uploads" not in p.parts] == []
    assert not Path("/tmp/evil.md").exists() and not (tmp_path / "evil.md").exists()


def test_safe_filename() -> None:
    assert safe_filename("faq.md") == "faq.md"
    assert safe_filename("docs/faq.md") == "faq.md"
    for bad in ("", "a\x00.md", "a\n.md", "../x", "/abs", "C:/x", ".env", "a/../b", "x" * 300):
        with pytest.raises(ValueError):
            safe_filename(bad)


def test_upload_limits(writable: RunningServer) -> None:
    ed = client(writable, "ed")
    big = ("files", ("big.md", b"# Big\n\n" + b"word " * 20_000))  # ~100 KB > 0.05 MB per file
    is_openai_error(ed.post("/v1/uploads", files=[big]), 413, "file_too_large")
    many = [("files", (f"f{i}.md", b"# F\n\ntext\n")) for i in range(4)]  # over max_upload_files = 3
    assert ed.post("/v1/uploads", files=many).status_code in (400, 413)
    huge = [("files", (f"h{i}.md", b"# H\n\n" + b"w " * 20_000)) for i in range(3)]  # 3 x 40 KB > 0.1 MB per request
    is_openai_error(ed.post("/v1/uploads", files=huge), 413, "request_too_large")
    assert writable.collections.items["docs"].require_kb().head == 1


def test_doc_ids_are_store_keys_not_paths(writable: RunningServer) -> None:
    ada = client(writable, "ada")
    for doc_id in ("../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd"):
        is_openai_error(ada.get(f"/v1/documents/{doc_id}"), 404)
        is_openai_error(ada.delete(f"/v1/documents/{doc_id}"), 404)
    assert ada.get("/v1/documents/plans.md").json()["doc_id"] == "plans.md"


def test_remove_diff_and_rollback(writable: RunningServer) -> None:
    ed, ada = client(writable, "ed"), client(writable, "ada")
    assert ed.delete("/v1/documents/plans.md").json() == {"version": 2, "removed": ["plans.md"]}
    diff = client(writable, "bob").get("/v1/diff", params={"a": 1, "b": 2}).json()
    assert diff["removed"] == ["plans.md"] and "-The Team plan costs 49" in diff["texts"]["plans.md"]
    is_openai_error(ed.post("/v1/rollback", json={"version": 1}), 403, "role_forbidden")
    assert ada.post("/v1/rollback", json={"version": 1}).json()["version"] == 3
    assert [d["doc_id"] for d in client(writable, "bob").get("/v1/documents").json()["data"]] == ["plans.md"]
    versions = client(writable, "bob").get("/v1/versions").json()["data"]
    assert [v["version"] for v in versions] == [1, 2, 3]


def test_search_ask_and_chat_read_as_the_keys_groups(team: RunningServer) -> None:
    """No text of budget.md (acl finance) reaches bob by search, ask or chat (streamed too); rita gets it."""
    question = "What is the marketing budget for next year?"

    def leaks(key: str) -> list[str]:
        c = client(team, key)
        found = c.post("/v1/search", json={"collection": "docs", "query": question, "k": 10}).json()
        answer = c.post("/v1/ask", json={"collection": "docs", "question": question}).json()
        chat = {"model": "rag-extractive@docs", "messages": [{"role": "user", "content": question}], "stream": True}
        streamed = c.post("/v1/chat/completions", json=chat).text
        texts = [p["text"] for p in found["results"]] + [answer["answer"], streamed]
        texts += [cit["text"] for cit in answer["citations"]]
        return [t for t in texts if "2 million" in t or "budget.md" in t]

    assert leaks("bob") == []
    assert leaks("rita")


def test_an_upload_cannot_replace_a_document_the_key_may_not_read(writable: RunningServer) -> None:
    ed = client(writable, "ed")  # an editor without the group finance
    files = [("files", ("budget.md", b"# Budget\n\nThe budget is zero.\n")), ("files", ("ok.md", b"# Ok\n\nFine.\n"))]
    state = wait_job(ed, ed.post("/v1/uploads", files=files).json()["job"])
    assert state["errors"] == [{"file": "budget.md", "reason": "this key may not replace the document 'budget.md'"}]
    assert state["documents"] == ["ok.md"]
    text = client(writable, "rita").get("/v1/documents/budget.md").json()["passages"][0]["text"]
    assert "2 million" in text
