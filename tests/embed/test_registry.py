"""Embedders by backend name: a plugin's factory is chosen by ``[embed] model = "NAME:MODEL"``."""

from __future__ import annotations

from typing import Any

import numpy as np

from ragtune.embed import load_embedder, register_embedder, unregister_embedder
from ragtune.embed.registry import DEFAULT_BACKEND, embedder_backends, parse_embedder_spec


class Constant:
    """A fake embedder: every text maps to the same unit vector."""

    def __init__(self, dim: int, **settings: Any) -> None:
        self.id, self.dim, self.max_tokens, self.settings = f"constant-{dim}", dim, 512, settings

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        out[:, 0] = 1.0
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(t.split()) for t in texts]


def test_registered_backend_by_prefix_and_shared() -> None:
    register_embedder("constant", lambda model, **settings: Constant(int(model), **settings))
    try:
        assert "constant" in embedder_backends()
        emb = load_embedder("constant:8", batch_size=4)
        assert emb.dim == 8 and emb.settings["batch_size"] == 4
        assert load_embedder("constant:8", batch_size=4) is emb
        assert emb.embed(["a", "b"]).shape == (2, 8)
    finally:
        unregister_embedder("constant")
    assert "constant" not in embedder_backends()


def test_names_without_a_registered_prefix_go_to_sentence_transformers() -> None:
    assert parse_embedder_spec("all-MiniLM-L6-v2") == (DEFAULT_BACKEND, "all-MiniLM-L6-v2")
    assert parse_embedder_spec("sentence-transformers/all-MiniLM-L6-v2")[0] == DEFAULT_BACKEND
    assert parse_embedder_spec("C:/models/minilm") == (DEFAULT_BACKEND, "C:/models/minilm")
