"""``ragtune serve`` as a real subprocess; ``OpenAIGenerator`` against it answers as the strategy does in process."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ragtune.knowledge_base import KnowledgeBase
from ragtune.llm.base import Generation
from ragtune.llm.openai import OpenAIGenerator
from ragtune.rag.strategies import load_strategies
from ragtune.serve.testing import serve_process

QUESTIONS = ["How much does the Team plan cost?", "Which identity providers does single sign-on support?"]


def _serve_command(kb_dir: Path, port: int) -> list[str]:
    args = ["serve", "--kb", str(kb_dir), "--host", "127.0.0.1", "--port", str(port)]
    return [sys.executable, "-m", "ragtune.cli.main", *args]


@pytest.fixture(scope="module")
def server(served_kb_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cwd = tmp_path_factory.mktemp("serve-cwd")  # no ragtune.toml here: built-in strategies only
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGTUNE_") or k == "RAGTUNE_HOME"}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    url = f"http://127.0.0.1:{port}"
    command = _serve_command(served_kb_dir, port)
    with serve_process(command, url, cwd=cwd, env=env, log=cwd / "serve.log"):
        yield url


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_served_strategy_answers_like_the_in_process_one(server: str, served_kb: KnowledgeBase) -> None:
    assert httpx.get(f"{server}/healthz").json() == {"status": "ok", "version": 1}
    local = load_strategies(served_kb, config={})["rag-extractive"]
    with OpenAIGenerator("rag-extractive", base_url=f"{server}/v1", api_key_env=None) as remote:
        for question in QUESTIONS:
            messages = [{"role": "user", "content": question}]
            expected = local.answer(messages).text
            assert any(fact in expected for fact in ("49", "SAML"))
            assert remote.generate(messages).text == expected
            *pieces, final = remote.stream(messages)
            assert isinstance(final, Generation) and "".join(map(str, pieces)) == final.text == expected
