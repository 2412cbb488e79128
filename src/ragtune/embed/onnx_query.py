"""A fused ONNX Runtime graph for single-query embedding (the query path's largest cost).

For one short text, framework overhead dominates: ONNX Runtime ran a query 3–5x faster than torch here
(shared/MEASUREMENTS.md). The graph is exported once from the same weights with the TorchScript exporter
(``dynamo=False``: the dynamo export is not fused and runs slower), cached on disk by embedder id, and
checked against torch on probe texts before use; any failure falls back to torch. Bulk ingest stays on
torch, which is faster for batches.

An int8 twin is made at the same time (dynamic quantization, per-channel weights, the FFN down-projections kept
in fp32) and checked on a wider set of texts: it is used when its worst cosine to torch is ≥ 0.99 and, under
``[embed] query_precision = "auto"``, when it measured ≥ 1.15x faster than the fp32 graph on this CPU (on an
AMX/VNNI Xeon: ~1.5x, worst cosine 0.996; SciFact nDCG@10 within 0.002 — docs/benchmarks.md).

A JSON record beside the graphs keeps the choice, each graph's size and CRC-32 and the vectors it gave for the
probes, so a later process verifies the graph without torch (``cached``): ``ragtune search`` loads only ONNX
Runtime and the Rust tokenizer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import warnings
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ragtune.embed.base import cache_root

log = logging.getLogger(__name__)

# Two intra-op threads: one short query on one thread left the second core idle (SciFact queries, 21 tokens:
# 11.4 ms on one thread, 7.0 ms on two; docs/benchmarks.md). More than two gains little for one query.
QUERY_THREADS = max(1, min(2, os.cpu_count() or 1))
_PROBES = ["How much is the Team plan per user?", "upload size limit", "Does the desktop app run on Linux?"]
# More texts of several kinds and lengths for the int8 graph's check and timing (not from any eval set).
_CHECKS = [
    "What changed in the latest release?",
    "refund",
    "How do I rotate an API key without downtime for existing clients?",
    "Which enzymes regulate glucose uptake in skeletal muscle after exercise?",
    "error 403 when uploading a file larger than the limit",
    "Is two-factor authentication required for administrators of an organization?",
    "When did the Roman Empire adopt Christianity as the state religion?",
    "vitamin D deficiency and risk of respiratory infections in children",
    "Can I export all of my data as CSV, including archived projects and comments?",
    "best practices for indexing a large PostgreSQL table",
    "Warum schlägt die Anmeldung mit SSO fehl?",
    "Compare the annual and monthly billing options, including discounts for nonprofits and schools.",
]
RECORD = 2  # the record's layout (1: fp32 graph only); an older record means: build again
MIN_COSINE = 0.99  # the int8 graph's worst cosine to torch's vectors on the texts above
MIN_SPEEDUP = 1.15  # under "auto", int8 only where it measured this much faster than fp32 on this CPU


def _fingerprint(path: Path) -> dict[str, int]:
    """Size and CRC-32 of a graph file: an edit anywhere (even in weights the probes never touch) is caught."""
    crc = 0
    with path.open("rb") as f:
        while block := f.read(1 << 24):
            crc = zlib.crc32(block, crc)
    return {"bytes": path.stat().st_size, "crc32": crc}


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
    """``encode(text) -> unit vector`` through ONNX Runtime; build with :meth:`create` or :meth:`cached` (None if
    unusable). ``tokenizer`` is a ``tokenizers.Tokenizer`` (no transformers needed) or a transformers tokenizer."""

    def __init__(self, session: Any, tokenizer: Any, max_tokens: int) -> None:
        self.session = session
        self.graph = "fp32"  # or "int8": which graph this is
        self.max_tokens = max_tokens
        self._lock = threading.Lock()
        if hasattr(tokenizer, "encode_batch"):  # the Rust tokenizer: a private copy that truncates like transformers
            from tokenizers import Tokenizer

            self._rust: Any = Tokenizer.from_str(tokenizer.to_str())
            self._rust.no_padding()
            self._rust.enable_truncation(max_tokens)
            self.tokenizer: Any = None
        else:
            self._rust = None
            self.tokenizer = tokenizer

    @staticmethod
    def _paths(embedder_id: str) -> tuple[Path, Path, Path]:
        """The fp32 graph, its int8 twin and the record of what was checked and chosen."""
        stem = hashlib.sha256(embedder_id.encode()).hexdigest()[:16]
        d = cache_dir()
        return d / f"{stem}.onnx", d / f"{stem}.int8.onnx", d / f"{stem}.json"

    @staticmethod
    def _session(path: Path) -> Any:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = QUERY_THREADS
        opts.inter_op_num_threads = 1
        # No spin-waiting after a run: the idle ORT threads would take the cores the vector scan needs next.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    @classmethod
    def cached(
        cls, tokenizer: Any, embedder_id: str, max_tokens: int, precision: str = "auto"
    ) -> OnnxQueryEncoder | None:
        """The graph an earlier :meth:`create` exported, checked and chose, checked again without torch: it must
        reproduce the probe vectors it gave then (cosine ≥ 0.9999). None when absent, stale or corrupt, or when
        ``precision`` asks for a graph that was not built."""
        fp32_path, int8_path, record_path = cls._paths(embedder_id)
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
            if record.get("record") != RECORD or record.get("embedder_id") != embedder_id:
                return None
            graph = record.get("choice", "fp32") if precision == "auto" else precision
            if graph == "int8":
                if not record.get("int8", {}).get("usable"):
                    return None
                path, expected = int8_path, record["int8"]["vectors"]
            else:
                path, expected = fp32_path, record["vectors"]
            if record.get("files", {}).get(graph) != _fingerprint(path):
                log.warning("cached ONNX query graph %s differs from the one checked (size/CRC-32); rebuilding", path)
                return None
            encoder = cls(cls._session(path), tokenizer, max_tokens)
            encoder.graph = graph
            if encoder._agreement(np.asarray(expected, dtype=np.float32)) < 0.9999:
                log.warning("cached ONNX query graph %s no longer reproduces its probe vectors; rebuilding", path)
                return None
            return encoder
        except FileNotFoundError:
            return None
        except Exception as exc:  # unreadable record, a truncated or edited graph: build it again
            log.warning("cached ONNX query graph for %s unusable (%s); rebuilding", embedder_id, exc)
            return None

    def _agreement(self, reference: np.ndarray, texts: list[str] = _PROBES) -> float:
        got = np.stack([self.encode(t) for t in texts])
        return float((reference * got).sum(1).min())

    @classmethod
    def create(
        cls, st_model: Any, tokenizer: Any, embedder_id: str, max_tokens: int, precision: str = "auto"
    ) -> OnnxQueryEncoder | None:
        """Export the graph and verify it matches torch (and, unless ``precision`` is fp32, quantize an int8 twin and
        measure it); None when ONNX Runtime is unavailable."""
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            return None
        try:
            fp32_path, int8_path, record_path = cls._paths(embedder_id)
            cls._export(st_model, st_model.tokenizer, fp32_path)
            encoder = cls(cls._session(fp32_path), tokenizer, max_tokens)
            import torch

            with torch.inference_mode():
                ref = st_model.encode(_PROBES + _CHECKS, normalize_embeddings=True, convert_to_numpy=True)
            if encoder._agreement(ref[: len(_PROBES)]) < 0.9999:
                log.warning("ONNX query encoder disagrees with torch; using torch")
                return None
            # What a later process checks the graph against, without loading torch (see cached()).
            record: dict[str, Any] = {
                "record": RECORD,
                "embedder_id": embedder_id,
                "probes": _PROBES,
                "vectors": ref[: len(_PROBES)].astype(float).round(7).tolist(),
                "choice": "fp32",
            }
            chosen = encoder
            if precision != "fp32":
                twin = cls._int8_twin(encoder, fp32_path, int8_path, tokenizer, max_tokens, ref)
                if twin is not None:
                    int8, record["int8"] = twin
                    if record["int8"]["usable"] and (precision == "int8" or record["int8"]["speedup"] >= MIN_SPEEDUP):
                        chosen, record["choice"] = int8, "int8"
            chosen.graph = record["choice"]
            record["files"] = {"fp32": _fingerprint(fp32_path)}
            if "int8" in record:
                record["files"]["int8"] = _fingerprint(int8_path)
            tmp = record_path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(record), encoding="utf-8")
            os.replace(tmp, record_path)
            return chosen
        except Exception as exc:  # any export/runtime problem: torch still works
            log.warning("ONNX query encoder unavailable (%s); using torch", exc)
            return None

    @classmethod
    def _int8_twin(
        cls, fp32: OnnxQueryEncoder, fp32_path: Path, path: Path, tokenizer: Any, max_tokens: int, ref: np.ndarray
    ) -> tuple[OnnxQueryEncoder, dict[str, Any]] | None:
        """An int8 copy of the graph (dynamic quantization, per-channel weights; the FFN down-projections, whose
        inputs carry the activation outliers transformers are known for, stay fp32), with how closely it agrees
        with torch and how much faster it ran here than the fp32 graph (interleaved, median of several rounds)."""
        try:
            import onnx
            from onnxruntime.quantization import QuantType, quantize_dynamic
        except ImportError:
            return None
        try:
            model = onnx.load(str(fp32_path))
            weights = {t.name: tuple(t.dims) for t in model.graph.initializer}
            down = [
                n.name
                for n in model.graph.node
                if n.op_type == "MatMul"
                and len(shape := weights.get(n.input[1], ())) == 2
                and shape[0] > shape[1]  # d_ff → d_model
            ]
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                root = logging.getLogger()  # quantize_dynamic logs "consider pre-processing" to the root logger
                was, root.disabled = root.disabled, True
                try:
                    quantize_dynamic(
                        str(fp32_path),
                        str(tmp),
                        weight_type=QuantType.QInt8,
                        per_channel=True,
                        op_types_to_quantize=["MatMul"],
                        nodes_to_exclude=down,
                    )
                finally:
                    root.disabled = was
            os.replace(tmp, path)
            int8 = cls(cls._session(path), tokenizer, max_tokens)
            texts = _PROBES + _CHECKS
            cosine = int8._agreement(ref, texts)
            times: dict[str, list[float]] = {"fp32": [], "int8": []}
            for _ in range(5):
                for name, enc in (("fp32", fp32), ("int8", int8)):
                    t = time.perf_counter()
                    for text in texts:
                        enc.encode(text)
                    times[name].append(time.perf_counter() - t)
            speedup = float(np.median(times["fp32"]) / np.median(times["int8"]))
            info = {
                "usable": cosine >= MIN_COSINE,
                "min_cosine": round(cosine, 5),
                "speedup": round(speedup, 3),
                "kept_fp32": len(down),
                "vectors": np.stack([int8.encode(t) for t in _PROBES]).astype(float).round(7).tolist(),
            }
            log.info("int8 query graph: min cosine %.4f to torch, %.2fx the fp32 graph's speed", cosine, speedup)
            return int8, info
        except Exception as exc:
            log.warning("int8 query graph not built (%s)", exc)
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
        if self._rust is not None:
            e = self._rust.encode(text)
            feeds = {
                "input_ids": np.asarray([e.ids], dtype=np.int64),
                "attention_mask": np.asarray([e.attention_mask], dtype=np.int64),
                "token_type_ids": np.asarray([e.type_ids], dtype=np.int64),
            }
            with self._lock:
                return np.asarray(self.session.run(None, feeds)[0][0], dtype=np.float32)
        enc = self.tokenizer([text], truncation=True, max_length=self.max_tokens, return_tensors="np")
        feeds = {
            "input_ids": enc["input_ids"].astype(np.int64),
            "attention_mask": enc["attention_mask"].astype(np.int64),
            "token_type_ids": enc.get("token_type_ids", np.zeros_like(enc["input_ids"])).astype(np.int64),
        }
        with self._lock:
            out = self.session.run(None, feeds)[0][0]
        return np.asarray(out, dtype=np.float32)
