"""sentence-transformers embedders (the default: all-MiniLM-L6-v2, bundled, offline).

Precision: ``auto`` is chosen by a cached run-time probe (:mod:`ragtune.embed.probe`): fp32 on CPUs without
native bf16, else ``torch.autocast(bfloat16)`` when it measures faster with cosine ≥ 0.999 to fp32 (on AMX it
measured 3-4x fp32 here, cosine ≥ 0.9999; docs/benchmarks.md). The precision is part of the embedder id, so
cached vectors never mix precisions.

Batching: :meth:`SentenceTransformerEmbedder.embed` sorts all the texts of one call by their token count and
cuts batches by a budget of padded tokens (``TOKEN_BUDGET``), not by a fixed number of texts, so a batch has
almost no padding and long texts come in small batches that stay in the CPU's caches (on SciFact chunks, a
budget of 4,096 tokens ran 1.3-1.8x faster than ``SentenceTransformer.encode``'s 64 texts sorted by characters,
same vectors; docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ragtune.embed.base import DEFAULT_MODEL, resolve_model_path
from ragtune.embed.onnx_query import OnnxQueryEncoder
from ragtune.embed.probe import PROBE_TEXTS, choose_precision
from ragtune.embed.tokens import fast_counter
from ragtune.errors import EmbedderError

PRECISIONS = ("auto", "fp32", "bf16")
QUERY_BACKENDS = ("auto", "torch", "onnx")
QUERY_PRECISIONS = ("auto", "fp32", "int8")
# Padded tokens per forward pass (batch size x longest text in it). 2,048-8,192 measured alike on SciFact chunks
# (AMX bf16 and fp32); 16,384 was slower in fp32 (attention scores outgrow the caches).
TOKEN_BUDGET = 4096


def token_budget_batches(lengths: list[int], budget: int, max_batch: int) -> list[list[int]]:
    """Indices of ``lengths`` in batches: longest first, each at most ``max_batch`` texts and — past its first
    text — at most ``budget`` padded tokens (its count times its longest length)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    i = 0
    while i < len(order):
        longest = max(1, lengths[order[i]])
        n = max(1, min(max_batch, budget // longest))
        batches.append(order[i : i + n])
        i += n
    return batches


def _model_revision(path: str) -> str:
    """A short fingerprint of a local model directory (config + weights size), or the hub id itself.

    Weights count by size only (hashing them costs seconds per load), so two fine-tunings of one base would share
    a fingerprint: ragtune's retriever training writes ``ragtune.json`` (its run id) into the folder, which is
    hashed too, so their vectors never share a cache key."""
    p = Path(path)
    if not p.is_dir():
        return "hub"
    h = hashlib.sha256()
    for name in ("config.json", "modules.json", "tokenizer.json", "ragtune.json"):
        f = p / name
        if f.exists():
            h.update(f.read_bytes())
    for weights in sorted(p.glob("*.safetensors")) + sorted(p.glob("*.bin")):
        h.update(f"{weights.name}:{weights.stat().st_size}".encode())
    return h.hexdigest()[:12]


def _describe(path: str) -> tuple[int, int] | None:
    """``(dim, max_tokens)`` read from a local sentence-transformers folder whose modules are a transformer with
    mean pooling (optionally normalized) — the layout the ONNX query graph reproduces — else None."""
    p = Path(path)
    try:
        modules = [m.get("type", "") for m in json.loads((p / "modules.json").read_text(encoding="utf-8"))]
        pooling = json.loads((p / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
        sbert = json.loads((p / "sentence_bert_config.json").read_text(encoding="utf-8"))
        if not (p / "tokenizer.json").is_file():
            return None
    except (OSError, ValueError):
        return None
    names = [m.rsplit(".", 1)[-1] for m in modules]
    if names not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return None
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
    if modes != ["pooling_mode_mean_tokens"]:
        return None
    dim, max_tokens = int(pooling.get("word_embedding_dimension") or 0), int(sbert.get("max_seq_length") or 0)
    return (dim, max_tokens) if dim and max_tokens else None


class SentenceTransformerEmbedder:
    """Any sentence-transformers model by name or path; batched, normalized, with a progress bar.

    The model (torch) is loaded when first needed: bulk ``embed`` always needs it, but for a local model of the
    common layout (transformer + mean pooling) the id, the dimension, token counts (the Rust tokenizer) and
    ``embed_query`` (a verified ONNX graph from an earlier run) do not, so ``ragtune search`` never loads torch.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        precision: str = "auto",
        batch_size: int = 64,
        device: str | None = None,
        query_backend: str = "auto",
        query_precision: str = "auto",
    ) -> None:
        if query_precision not in QUERY_PRECISIONS:
            raise EmbedderError(f"embed.query_precision must be one of {QUERY_PRECISIONS}, not {query_precision!r}")
        if precision not in PRECISIONS:
            raise EmbedderError(f"embedder precision must be one of {PRECISIONS}, not {precision!r}")
        if query_backend not in QUERY_BACKENDS:
            raise EmbedderError(f"embed.query_backend must be one of {QUERY_BACKENDS}, not {query_backend!r}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self.name = model
        self._path = resolve_model_path(model)
        self._device_arg = device or "cpu"
        self._lock = threading.Lock()
        self._st: Any = None
        self.batch_size = batch_size
        self.query_backend = query_backend
        self.query_precision = query_precision
        described = _describe(self._path) if self._device_arg == "cpu" else None
        if described is None:  # an unusual layout, a hub id or a GPU: load now and ask the model
            st = self._load()
            self.dim = int(st.get_embedding_dimension() or 0)
            self.max_tokens = int(st.max_seq_length or 512)
            self._device = str(st.device)
        else:
            self.dim, self.max_tokens = described
            self._device = self._device_arg
        if not self.dim:
            raise EmbedderError(f"{model!r} does not report an embedding dimension")
        # Token counting (chunking, on the ingest thread) has its own tokenizer: the Rust one straight from
        # tokenizer.json, or a copy of the transformers one (a fast tokenizer sets truncation/padding on its shared
        # Rust state per call, so two threads must not share one).
        self._count_lock = threading.Lock()  # the counter's word cache and tokenizer, used from both threads
        self._count_tokenizer: Any = None
        if described is not None:
            self._fast_tokenizer: Any = _rust_tokenizer(self._path)
            kind = type(self._fast_tokenizer.model).__name__
        else:
            self._fast_tokenizer = None
            self._count_tokenizer = copy.deepcopy(self._load().tokenizer)
            kind = _tokenizer_kind(self._count_tokenizer)
        self._count = fast_counter(kind, self._exact_counts)
        short = model.rstrip("/").split("/")[-1]
        revision = f"{short}@{_model_revision(self._path)}"
        self.precision_choice: dict[str, Any] = {"precision": precision, "rule": "set in [embed] precision"}
        if precision == "auto":
            if self._device == "cpu":  # cached after the first probe on this machine: no model load then
                self.precision_choice = choose_precision(revision, self._probe_run)
            else:
                self.precision_choice = {"precision": "fp32", "rule": "not a CPU"}
            precision = self.precision_choice["precision"]
        self.precision = precision
        self.id = f"{revision}:{precision}"
        self._onnx: OnnxQueryEncoder | None = None
        self._onnx_tried = query_backend == "torch" or self._device != "cpu"

    def _load(self) -> Any:
        """The sentence-transformers model (torch), loaded once."""
        if self._st is None:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # "Loading weights" bars are noise in a CLI
            hf_logging.set_verbosity_error()  # counting long texts is intended, not an indexing error
            try:
                self._st = SentenceTransformer(self._path, device=self._device_arg)
            except Exception as exc:
                raise EmbedderError(f"cannot load embedding model {self.name!r} from {self._path}: {exc}") from exc
        return self._st

    @property
    def _model(self) -> Any:
        with self._lock:
            return self._load()

    @property
    def _tokenizer(self) -> Any:
        return self._model.tokenizer

    def _probe_run(self, precision: str) -> np.ndarray:
        """The probe texts embedded in ``precision`` (for :func:`ragtune.embed.probe.choose_precision`)."""
        self._model  # noqa: B018 - loads the model outside the lock below
        with self._lock:
            return self._encode(PROBE_TEXTS, precision, progress=False)

    @contextlib.contextmanager
    def _precision(self, precision: str | None = None) -> Iterator[None]:
        import torch

        with torch.inference_mode():
            if (precision or self.precision) == "bf16":
                with torch.autocast(self._device.split(":")[0], dtype=torch.bfloat16):
                    yield
            else:
                yield

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self._model  # noqa: B018 - loads the model outside the lock below
        with self._lock:
            return self._encode(texts, self.precision, progress=progress)

    def _encode(self, texts: list[str], precision: str, *, progress: bool) -> np.ndarray:
        """Length-sorted, token-budget batches through the model (see the module docstring); the caller holds the
        lock and has loaded the model. Same preprocessing and forward pass as ``SentenceTransformer.encode``."""
        import torch
        from tqdm import tqdm

        model = self._st
        lengths = [min(n + 2, self.max_tokens) for n in self.count_tokens(texts)]  # + [CLS] and [SEP]
        batches = token_budget_batches(lengths, TOKEN_BUDGET, self.batch_size)
        preprocess = getattr(model, "preprocess", None) or model.tokenize
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        with self._precision(precision):
            for idx in tqdm(batches, desc="embed", unit="batch", disable=not progress, leave=False):
                features = preprocess([texts[i] for i in idx])
                features = {k: v.to(self._device) if hasattr(v, "to") else v for k, v in features.items()}
                vecs = model(features)["sentence_embedding"].float()
                out[idx] = torch.nn.functional.normalize(vecs, p=2, dim=1).cpu().numpy()
        return out

    def _query_encoder(self) -> OnnxQueryEncoder | None:
        """The ONNX graph: a verified one from an earlier run (no torch), else exported now and verified."""
        if self._onnx_tried:
            return self._onnx
        with self._lock:
            if not self._onnx_tried:
                if self._fast_tokenizer is not None:
                    self._onnx = OnnxQueryEncoder.cached(
                        self._fast_tokenizer, self.id, self.max_tokens, self.query_precision
                    )
                if self._onnx is None:
                    self._onnx = OnnxQueryEncoder.create(
                        self._load(),
                        self._fast_tokenizer or self._st.tokenizer,
                        self.id,
                        self.max_tokens,
                        self.query_precision,
                    )
                self._onnx_tried = True
                if self._onnx is None and self.query_backend == "onnx":
                    raise EmbedderError("embed.query_backend = 'onnx' but the ONNX encoder could not be built")
        return self._onnx

    def prepare_query_encoder(self) -> None:
        """Build (and verify) the ONNX query graph now, e.g. after an ingest, so later searches skip torch."""
        self._query_encoder()

    def embed_query(self, text: str) -> np.ndarray:
        """One text: through the fused ONNX graph when available (CPU), else tokenizer → transformer → pooling."""
        onnx = self._query_encoder()
        if onnx is not None:
            return onnx.encode(text)
        import torch

        model = self._model
        with self._lock, self._precision():
            features = model.tokenizer(
                [text], padding=False, truncation=True, max_length=self.max_tokens, return_tensors="pt"
            )
            features = {k: v.to(self._device) for k, v in features.items()}
            out = model(features)
            vec = out["sentence_embedding"][0].float()
            vec = torch.nn.functional.normalize(vec, dim=0)
        return vec.cpu().numpy().astype(np.float32)

    def count_tokens(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        with self._count_lock:
            return self._count(texts)

    def _exact_counts(self, texts: list[str]) -> list[int]:
        if self._fast_tokenizer is not None:
            return [len(e.ids) for e in self._fast_tokenizer.encode_batch(texts, add_special_tokens=False)]
        enc = self._count_tokenizer(texts, add_special_tokens=False, truncation=False)["input_ids"]
        return [len(ids) for ids in enc]


def _rust_tokenizer(path: str) -> Any:
    """The model's fast tokenizer straight from tokenizer.json (the ``tokenizers`` library; no transformers)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(path) / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return tok


def _tokenizer_kind(tokenizer: Any) -> str:
    """The model type of a fast tokenizer's backend ("WordPiece", "BPE", ...), or "" if unknown."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    return type(backend.model).__name__ if backend is not None else ""
