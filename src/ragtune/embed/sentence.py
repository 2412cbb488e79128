"""sentence-transformers embedders (the default: all-MiniLM-L6-v2, bundled, offline).

Precision: on CPUs with AMX/AVX-512 bf16 the model runs under ``torch.autocast(bfloat16)``, which
measured 2.9x the fp32 throughput here with cosine ≥ 0.9999 to fp32 vectors (shared/MEASUREMENTS.md).
The precision is part of the embedder id, so cached vectors never mix precisions.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ragtune.embed.base import DEFAULT_MODEL, resolve_model_path
from ragtune.embed.onnx_query import OnnxQueryEncoder
from ragtune.embed.tokens import fast_counter
from ragtune.errors import EmbedderError
from ragtune.hardware import cpu_has_bf16

PRECISIONS = ("auto", "fp32", "bf16")
QUERY_BACKENDS = ("auto", "torch", "onnx")


def _model_revision(path: str) -> str:
    """A short fingerprint of a local model directory (config + weights size), or the hub id itself."""
    p = Path(path)
    if not p.is_dir():
        return "hub"
    h = hashlib.sha256()
    for name in ("config.json", "modules.json", "tokenizer.json"):
        f = p / name
        if f.exists():
            h.update(f.read_bytes())
    for weights in sorted(p.glob("*.safetensors")) + sorted(p.glob("*.bin")):
        h.update(f"{weights.name}:{weights.stat().st_size}".encode())
    return h.hexdigest()[:12]


class SentenceTransformerEmbedder:
    """Any sentence-transformers model by name or path; batched, normalized, with a progress bar."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        precision: str = "auto",
        batch_size: int = 64,
        device: str | None = None,
        query_backend: str = "auto",
    ) -> None:
        if precision not in PRECISIONS:
            raise EmbedderError(f"embedder precision must be one of {PRECISIONS}, not {precision!r}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars are noise in a CLI
        hf_logging.set_verbosity_error()  # counting long texts is intended, not an indexing error

        self.name = model
        path = resolve_model_path(model)
        try:
            self._model: Any = SentenceTransformer(path, device=device or "cpu")
        except Exception as exc:
            raise EmbedderError(f"cannot load embedding model {model!r} from {path}: {exc}") from exc
        self._device = str(self._model.device)
        if precision == "auto":
            precision = "bf16" if self._device == "cpu" and cpu_has_bf16() else "fp32"
        self.precision = precision
        self.batch_size = batch_size
        self.dim = int(self._model.get_embedding_dimension() or 0)
        self.max_tokens = int(self._model.max_seq_length or 512)
        if not self.dim:
            raise EmbedderError(f"{model!r} does not report an embedding dimension")
        self._tokenizer = self._model.tokenizer
        short = model.rstrip("/").split("/")[-1]
        self.id = f"{short}@{_model_revision(path)}:{precision}"
        self._lock = threading.Lock()
        if query_backend not in QUERY_BACKENDS:
            raise EmbedderError(f"embed.query_backend must be one of {QUERY_BACKENDS}, not {query_backend!r}")
        self.query_backend = query_backend
        self._onnx: OnnxQueryEncoder | None = None
        self._onnx_tried = query_backend == "torch" or self._device != "cpu"
        self._count = fast_counter(_tokenizer_kind(self._tokenizer), self._exact_counts)

    @contextlib.contextmanager
    def _precision(self) -> Iterator[None]:
        import torch

        with torch.inference_mode():
            if self.precision == "bf16":
                with torch.autocast(self._device.split(":")[0], dtype=torch.bfloat16):
                    yield
            else:
                yield

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock, self._precision():
            vecs = self._model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """One text: through the fused ONNX graph when available (CPU), else tokenizer → transformer → pooling."""
        if not self._onnx_tried:
            with self._lock:
                if not self._onnx_tried:
                    self._onnx = OnnxQueryEncoder.create(self._model, self._tokenizer, self.id, self.max_tokens)
                    self._onnx_tried = True
                    if self._onnx is None and self.query_backend == "onnx":
                        raise EmbedderError("embed.query_backend = 'onnx' but the ONNX encoder could not be built")
        if self._onnx is not None:
            return self._onnx.encode(text)
        import torch

        with self._lock, self._precision():
            features = self._tokenizer(
                [text], padding=False, truncation=True, max_length=self.max_tokens, return_tensors="pt"
            )
            features = {k: v.to(self._device) for k, v in features.items()}
            out = self._model(features)
            vec = out["sentence_embedding"][0].float()
            vec = torch.nn.functional.normalize(vec, dim=0)
        return vec.cpu().numpy().astype(np.float32)

    def count_tokens(self, texts: list[str]) -> list[int]:
        return self._count(texts) if texts else []

    def _exact_counts(self, texts: list[str]) -> list[int]:
        enc = self._tokenizer(texts, add_special_tokens=False, truncation=False)["input_ids"]
        return [len(ids) for ids in enc]


def _tokenizer_kind(tokenizer: Any) -> str:
    """The model type of a fast tokenizer's backend ("WordPiece", "BPE", ...), or "" if unknown."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    return type(backend.model).__name__ if backend is not None else ""
