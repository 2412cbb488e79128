"""Shared fixtures: the real embedding model and one tiny language model (each built once per session), and
hermetic tests (every test runs in its own folder with no RAGTUNE_* settings)."""

from __future__ import annotations

import os
import tempfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Derived caches (the exported ONNX query graph) go to a per-run folder, not the user's ~/.cache.
os.environ.setdefault("RAGTUNE_CACHE", tempfile.mkdtemp(prefix="ragtune-test-cache-"))
# The bundled model is converted once per test session into a per-run home, never into ~/.cache.
os.environ.setdefault("RAGTUNE_HOME", tempfile.mkdtemp(prefix="ragtune-test-home-"))

from ragtune.config import Settings
from ragtune.embed import Embedder, load_embedder
from ragtune.knowledge_base import KnowledgeBase

HELPCENTER = Path(__file__).resolve().parents[1] / "examples" / "helpcenter"

# Cache locations, not settings: kept by `hermetic` and handed to child processes.
CACHE_VARIABLES = ("RAGTUNE_CACHE", "RAGTUNE_HOME")


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The default embedder (all-MiniLM-L6-v2). Loading costs seconds, so once per session."""
    return load_embedder()


@pytest.fixture(autouse=True)
def hermetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test runs in ``tmp_path`` with no RAGTUNE_* settings, so no ragtune.toml or environment leaks in.
    Tests that write files there ask for it by name."""
    for name in list(os.environ):
        if name.startswith("RAGTUNE_") and name not in CACHE_VARIABLES:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def open_kb(embedder: Embedder) -> Iterator[Callable[[Path], KnowledgeBase]]:
    """Open (creating) knowledge bases with default settings and the session's embedder; closed after."""
    opened: list[KnowledgeBase] = []

    def _open(path: Path) -> KnowledgeBase:
        kb = KnowledgeBase.open(path, create=True, settings=Settings(), embedder=embedder)
        opened.append(kb)
        return kb

    yield _open
    for kb in opened:
        kb.close()


@pytest.fixture
def subprocess_env(tmp_path: Path) -> dict[str, str]:
    """Environment for child processes: offline, and no RAGTUNE_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGTUNE_") or k in CACHE_VARIABLES}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return env


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one tiny language model of the suite: a Llama (64 wide, 2 layers, BPE vocabulary of 1024, 512-token
    context) trained for 60 steps on the help-center docs, so it has some English; built once per session.

    Read-only by convention: tests that need a differently built model build their own."""
    from ragtune.llm.tiny import build_tiny_model

    out = tmp_path_factory.mktemp("models") / "tiny"
    return build_tiny_model(out, train_steps=60, corpus=HELPCENTER / "docs", seed=0)


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """The bundled SmolLM2-135M-Instruct, converted once per session into the per-run RAGTUNE_HOME."""
    from ragtune.llm.bundled import ensure_converted

    return ensure_converted("smollm2", progress=False)


@pytest.fixture(scope="session")
def smollm2(smollm2_dir: Path) -> Any:
    """The bundled model loaded once per session through the generator registry (``--model smollm2``), in fp32:
    its greedy text is then the same batched or alone (bf16 rounding depends on the padding around a row)."""
    from ragtune.llm.registry import load_generator

    return load_generator("smollm2", dtype="fp32")


class HashEmbedder:
    """A deterministic stand-in for the embedding model: hashed bag of words, unit length, no model to load.

    Store, ingest and search tests that are about bookkeeping, not relevance, use it to stay fast."""

    id = "test-hash-64"
    dim = 64
    max_tokens = 256

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, zlib.crc32(word.strip(".,?!#").encode()) % self.dim] += 1.0
            out[i, 0] += 1e-3  # never the zero vector
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(t.split()) for t in texts]


@pytest.fixture(scope="session")
def hash_embedder() -> HashEmbedder:
    return HashEmbedder()
