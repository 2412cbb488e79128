"""A fused ONNX Runtime graph for single-query embedding (the query path's largest cost).

For one short text, framework overhead dominates: ONNX Runtime ran a query 3–5x faster than torch here
(shared/MEASUREMENTS.md). The graph is exported once from the same weights with the TorchScript exporter
(``dynamo=False``: the dynamo export is not fused and runs slower), cached on disk by embedder id, and
checked against torch on probe texts before use; any failure falls back to torch. Bulk ingest stays on
torch, which is faster for batches.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ragtune.embed.base import cache_root

log = logging.getLogger(__name__)

# Two intra-op threads: one short query on one thread left the second core idle (SciFact queries, 21 tokens:
# 11.4 ms on one thread, 7.0 ms on two; docs/benchmarks.md). More than two gains little for one query.
QUERY_THREADS = max(1, min(2, os.cpu_count() or 1))
_PROBES = ["How much is the Team plan per user?", "upload size limit", "Does the desktop app run on Linux?"]


def cache_dir() -> Path:
    return cache_root() / "onnx"


class _Pooled:  # built lazily so importing this module needs no torch
    @staticmethod
    def build(model: Any) -> Any:
        import torch

        class Pooled(torch.nn.Module):
            def __init__(self, inner: Any) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                out = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
                mask = attention_mask.unsqueeze(-1).to(out[0].dtype)
                pooled = (out[0] * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                return torch.nn.functional.normalize(pooled, dim=-1)

        return Pooled(model).eval()


class OnnxQueryEncoder:
    """``encode(text) -> unit vector`` through ONNX Runtime; build with :meth:`create` (None if unusable)."""

    def __init__(self, session: Any, tokenizer: Any, max_tokens: int) -> None:
        self.session = session
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self._lock = threading.Lock()

    @classmethod
    def create(cls, st_model: Any, tokenizer: Any, embedder_id: str, max_tokens: int) -> OnnxQueryEncoder | None:
        """Export (or reuse) the graph and verify it matches torch; None when ONNX Runtime is unavailable."""
        try:
            import onnxruntime as ort
        except ImportError:
            return None
        try:
            path = cache_dir() / (hashlib.sha256(embedder_id.encode()).hexdigest()[:16] + ".onnx")
            if not path.exists():
                cls._export(st_model, tokenizer, path)
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = QUERY_THREADS
            opts.inter_op_num_threads = 1
            # No spin-waiting after a run: the idle ORT threads would take the cores the vector scan needs next.
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            opts.log_severity_level = 3
            session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            encoder = cls(session, tokenizer, max_tokens)
            import torch

            with torch.inference_mode():
                ref = st_model.encode(_PROBES, normalize_embeddings=True, convert_to_numpy=True)
            got = np.stack([encoder.encode(t) for t in _PROBES])
            if float((ref * got).sum(1).min()) < 0.9999:
                log.warning("ONNX query encoder disagrees with torch; using torch")
                return None
            return encoder
        except Exception as exc:  # any export/runtime problem: torch still works
            log.warning("ONNX query encoder unavailable (%s); using torch", exc)
            return None

    @staticmethod
    def _export(st_model: Any, tokenizer: Any, path: Path) -> None:
        import torch

        path.parent.mkdir(parents=True, exist_ok=True)
        module = _Pooled.build(st_model[0].auto_model)
        sample = tokenizer(["an example query"], return_tensors="pt")
        args = (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"])
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        axes = {0: "batch", 1: "seq"}
        # The exporter's tracer warnings are about code paths this fixed-shape wrapper does not take.
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                args,
                str(tmp),
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["embedding"],
                dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes},
                opset_version=17,
                dynamo=False,
            )
        os.replace(tmp, path)  # atomic: a concurrent reader never sees half a graph

    def encode(self, text: str) -> np.ndarray:
        enc = self.tokenizer([text], truncation=True, max_length=self.max_tokens, return_tensors="np")
        feeds = {
            "input_ids": enc["input_ids"].astype(np.int64),
            "attention_mask": enc["attention_mask"].astype(np.int64),
            "token_type_ids": enc.get("token_type_ids", np.zeros_like(enc["input_ids"])).astype(np.int64),
        }
        with self._lock:
            out = self.session.run(None, feeds)[0][0]
        return np.asarray(out, dtype=np.float32)
