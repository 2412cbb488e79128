"""Which precision an embedder runs in on *this* CPU, chosen by a small, cached run-time measurement.

Rule. A CPU without native bf16 (no AMX, no AVX-512 BF16) runs fp32: bf16 there is emulated and slower than
fp32 (shared/MEASUREMENTS.md), so it is not measured. A CPU with native bf16 is probed: the same batch is
embedded in fp32 and under bf16 autocast (best of a few runs each, alternated), and bf16 is chosen when it is at
least ``MIN_GAIN`` times faster *and* every probe vector has cosine ≥ ``MIN_COSINE`` to its fp32 vector.
The answer is cached per (CPU model and flags, torch version, embedder), so it is measured once per machine
and every later process makes the same choice — which matters, because the precision is part of the
embedder id and a flip would re-embed a knowledge base. Delete ``$RAGTUNE_CACHE/precision.json`` to re-probe.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ragtune.embed.base import cache_root
from ragtune.hardware import cpu_has_bf16

PROBE_VERSION = 2
MIN_GAIN = 1.2  # bf16 must beat fp32 by this factor to be worth the (small) loss of precision
MIN_COSINE = 0.999  # worst probe vector's cosine to fp32; the ingest target is 0.99, this leaves a margin
REPEATS = 2

# 64 ~140-token texts, a few ingest batches (TOKEN_BUDGET): the shapes ingest runs. One batch alone misled here
# (bf16 measured no faster than fp32 on 16 texts while it ran 2.5-3.5x faster on 64 or more), so the probe times
# several batches: about 4 s once per machine.
_SENTENCES = [
    "The committee reviewed the quarterly report and asked for a revised budget before the next meeting.",
    "Mitochondrial dysfunction was associated with reduced insulin sensitivity in skeletal muscle cells.",
    "Customers on the Team plan can invite up to fifty members and share folders across workspaces.",
    "The river flooded the lower town twice in the nineteenth century, after which the levee was raised.",
    "A randomized trial found no significant difference in mortality between the two treatment groups.",
    "To reset a password, open the account page, choose security, and follow the link sent by email.",
    "The compiler inlines small functions when optimisation is enabled, which removes the call overhead.",
    "Rainfall in the region has declined steadily while average summer temperatures have risen.",
]
PROBE_TEXTS = [" ".join(_SENTENCES[(i + j) % len(_SENTENCES)] for j in range(8)) for i in range(64)]


def _cache_file() -> Path:
    return cache_root() / "precision.json"


def _cpu_key() -> str:
    model, flags = platform.processor(), ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and not model:
                model = value.strip()
            elif key.strip() == "flags":
                flags = value.strip()
                break
    except OSError:
        pass
    return f"{model}|{hashlib.sha256(flags.encode()).hexdigest()[:12]}|{os.cpu_count()}"


def probe_key(embedder_key: str) -> str:
    # The installed version from package metadata, not torch.__version__: a cache hit must not import torch.
    try:
        torch_version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch_version = "none"
    return f"v{PROBE_VERSION}|{_cpu_key()}|torch {torch_version}|{embedder_key}"


def measure(run: Callable[[str], np.ndarray], repeats: int = REPEATS) -> dict[str, Any]:
    """Time ``run("fp32")`` and ``run("bf16")`` (alternated, best of ``repeats``) and compare their vectors.

    Times are the process's CPU seconds, not wall seconds: on a shared machine a probe that is descheduled or
    paused half-way would otherwise decide by the neighbours' load (a wall-clock probe here once picked fp32 while
    bf16 ran 3x faster)."""
    ref, low = run("fp32"), run("bf16")  # warm-up (kernels for these shapes, allocator) and the vectors compared
    best = {"fp32": float("inf"), "bf16": float("inf")}
    for _ in range(repeats):
        for precision in ("fp32", "bf16"):
            t = time.process_time()
            run(precision)
            best[precision] = min(best[precision], time.process_time() - t)
    cosine = float((ref * low).sum(1).min())
    gain = best["fp32"] / best["bf16"]
    ok = gain >= MIN_GAIN and cosine >= MIN_COSINE
    return {
        "precision": "bf16" if ok else "fp32",
        "fp32_cpu_s": best["fp32"],
        "bf16_cpu_s": best["bf16"],
        "bf16_gain": gain,
        "min_cosine": cosine,
        "rule": f"bf16 when ≥ {MIN_GAIN}x faster than fp32 and min cosine ≥ {MIN_COSINE}",
    }


def choose_precision(embedder_key: str, run: Callable[[str], np.ndarray]) -> dict[str, Any]:
    """The precision for ``auto`` on this CPU, with the measurement behind it (cached; see the module docstring).

    ``run(precision)`` embeds :data:`PROBE_TEXTS` in that precision and returns unit vectors."""
    if not cpu_has_bf16():
        return {"precision": "fp32", "rule": "no native bf16 on this CPU (emulated bf16 is slower than fp32)"}
    key = probe_key(embedder_key)
    path = _cache_file()
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cached = {}
    if not isinstance(cached, dict):
        cached = {}
    hit = cached.get(key)
    if isinstance(hit, dict) and hit.get("precision") in ("fp32", "bf16"):
        return {**hit, "cached": True}
    result = measure(run)
    cached[key] = result
    try:  # atomic: a concurrent process reads the old file or the new one, never half of one
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cached, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError:  # a read-only cache: the choice is still made, just measured again next time
        pass
    return {**result, "cached": False}
