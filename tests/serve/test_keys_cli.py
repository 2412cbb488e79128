"""``ragtune keys`` and ``ragtune serve`` as real processes: keys hashed at rest, revocation seen by a running
server, collections from ragtune.toml, and the refusal to listen beyond loopback without keys."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ragtune.embed import Embedder
from ragtune.serve.testing import serve_process

RAGTUNE = [sys.executable, "-m", "ragtune.cli.main"]


def ragtune(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RAGTUNE, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_keys_create_list_revoke(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    env = {**subprocess_env, "RAGTUNE_HOME": str(tmp_path / "home")}
    made = ragtune("keys", "create", "--name", "ada", "--role", "admin", env=env, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("rtk_") and "shown only now" in made.stderr
    bob = ragtune(
        "keys",
        "create",
        "--name",
        "bob",
        "--collection",
        "docs",
        "--groups",
        "hr,staff",
        "--json",
        env=env,
        cwd=tmp_path,
    )
    record = json.loads(bob.stdout)
    assert record["role"] == "reader" and record["collections"] == ["docs"] and record["groups"] == ["hr", "staff"]
    path = tmp_path / "home" / "keys.json"  # the default: $RAGTUNE_HOME/keys.json
    text = path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600
    assert key not in text and record["key"] not in text and text.count("$argon2id$") == 2
    listed = json.loads(ragtune("keys", "list", "--json", env=env, cwd=tmp_path).stdout)
    assert [k["name"] for k in listed] == ["ada", "bob"] and all("key" not in k and "hash" not in k for k in listed)
    again = ragtune("keys", "create", "--name", "bob", env=env, cwd=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr
    bad = ragtune("keys", "create", "--name", "x", "--groups", "bad group!", env=env, cwd=tmp_path)
    assert bad.returncode == 2 and "bad group" in bad.stderr.lower()
    assert ragtune("keys", "revoke", "bob", env=env, cwd=tmp_path).returncode == 0
    assert [k["name"] for k in json.loads(ragtune("keys", "list", "--json", env=env, cwd=tmp_path).stdout)] == ["ada"]
    missing = ragtune("keys", "revoke", "bob", env=env, cwd=tmp_path)
    assert missing.returncode == 2 and "no key" in missing.stderr


def test_serve_refuses_a_public_host_without_keys(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    env = {**subprocess_env, "RAGTUNE_HOME": str(tmp_path / "home")}
    for host in ("0.0.0.0", "192.0.2.10", "::"):
        r = ragtune("serve", "--host", host, "--port", "9", env=env, cwd=tmp_path)
        assert r.returncode == 2 and f"refusing to serve on {host} without API keys" in r.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def two_kbs(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """A project folder with two KBs and a ragtune.toml naming them (relative paths) and a key file."""
    from ragtune.config import Settings
    from ragtune.knowledge_base import KnowledgeBase

    root = tmp_path_factory.mktemp("project")
    for name, text in {
        "docs": "# Plans\n\nThe Team plan costs 49 dollars.\n",
        "hr": "# Leave\n\nEveryone gets 25 days of paid leave.\n",
    }.items():
        (root / name).mkdir()
        (root / name / "a.md").write_text(text)
        with KnowledgeBase.open(root / name / ".ragtune", create=True, settings=Settings(), embedder=embedder) as kb:
            kb.ingest([root / name / "a.md"])
    (root / "ragtune.toml").write_text(
        '[serve]\nkeys = "keys.json"\n\n[collections]\ndocs = "docs/.ragtune"\nhr = "hr/.ragtune"\n'
    )
    return root


@pytest.fixture
def served(two_kbs: Path, subprocess_env: dict[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
    env = {**subprocess_env}
    port = free_port()
    ada = ragtune("keys", "create", "--name", "ada", "--role", "admin", env=env, cwd=two_kbs).stdout.strip()
    bob = ragtune("keys", "create", "--name", "bob", "--collection", "docs", env=env, cwd=two_kbs).stdout.strip()
    url = f"http://127.0.0.1:{port}"
    try:
        with serve_process(
            [*RAGTUNE, "serve", "--port", str(port)], url, cwd=two_kbs, env=env, log=two_kbs / "serve.log"
        ):
            yield url, {"ada": ada, "bob": bob}
    finally:
        (two_kbs / "keys.json").unlink(missing_ok=True)


@pytest.mark.timeout(300)
def test_running_server_sees_revocation_and_toml_collections(
    served: tuple[str, dict[str, str]], two_kbs: Path, subprocess_env: dict[str, str]
) -> None:
    url, keys = served
    bob = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys['bob']}"})
    ada = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys['ada']}"})
    assert [c["name"] for c in ada.get("/v1/collections").json()["data"]] == ["docs", "hr"]
    assert [c["name"] for c in bob.get("/v1/collections").json()["data"]] == ["docs"]
    answer = bob.post(
        "/v1/chat/completions",
        json={"model": "rag-extractive@docs", "messages": [{"role": "user", "content": "How much is the Team plan?"}]},
    ).json()
    assert "49 dollars" in answer["choices"][0]["message"]["content"]
    assert bob.post("/v1/search", json={"collection": "hr", "query": "leave"}).status_code == 403
    assert ragtune("keys", "revoke", "bob", env=subprocess_env, cwd=two_kbs).returncode == 0
    r = bob.get("/v1/me")
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    assert ada.get("/v1/me").json()["name"] == "ada"
