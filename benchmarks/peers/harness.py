"""What every peer script shares (stdlib + numpy only: it runs inside each peer's own virtual environment).

A peer script imports its library, loads the model, indexes the corpus, answers the first query, then runs
the warm, timed pass; :func:`emit` prints one line ``PEER_RESULT {json}`` that ``run.py`` reads.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

import numpy as np

MARK = "PEER_RESULT "


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="local sentence-transformers model directory")
    ap.add_argument("--corpus", required=True, help="SciFact corpus.jsonl")
    ap.add_argument("--queries", required=True, help="JSON list of [query id, text]")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--workdir", required=True, help="an empty folder this peer may write to")
    return ap.parse_args()


def load_corpus(path: str) -> list[tuple[str, str]]:
    """(document id, title + " " + abstract) for every document: the text every peer indexes."""
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                out.append((str(d["_id"]), (d.get("title", "") + " " + d["text"]).strip()))
            except (ValueError, KeyError) as exc:
                raise SystemExit(f"{path}:{n}: not a SciFact corpus line ({exc})") from exc
    return out


def load_queries(path: str) -> list[tuple[str, str]]:
    with open(path, encoding="utf-8") as f:
        return [(str(q), str(t)) for q, t in json.load(f)]


def first_then_warm(
    search: Callable[[str], list[str]], args: argparse.Namespace, marks: dict[str, float]
) -> tuple[list[tuple[str, str]], float, dict[str, list[str]], list[float]]:
    """The first query (timed alone; ``marks["first_answer"]`` stamped after it), then :func:`measure`:
    ``(queries, first query ms, runs, ms per query)``."""
    queries = load_queries(args.queries)
    t = time.perf_counter()
    search(queries[0][1])
    first_query_ms = (time.perf_counter() - t) * 1000
    marks["first_answer"] = time.time()
    runs, ms = measure(search, queries, args.warmup)
    return queries, first_query_ms, runs, ms


def measure(
    search: Callable[[str], list[str]], queries: list[tuple[str, str]], warmup: int
) -> tuple[dict[str, list[str]], list[float]]:
    """Untimed warm-up queries, then every query once, timed: (query id → ranked doc ids, ms per query)."""
    for i in range(min(warmup, len(queries))):
        search(queries[i][1])
    runs, ms = {}, []
    for qid, text in queries:
        t = time.perf_counter()
        runs[qid] = search(text)
        ms.append((time.perf_counter() - t) * 1000)
    return runs, ms


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def versions(names: list[str]) -> dict[str, str]:
    out = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = "not installed"
    return out


def emit(
    *,
    marks: dict[str, float],
    model_load_s: float,
    ingest_s: float,
    first_query_ms: float,
    runs: dict[str, list[str]],
    ms: list[float],
    docs: int,
    packages: list[str],
    setup: str,
    **extra: Any,
) -> None:
    """Print the one result line (wall-clock ``marks`` are turned into durations by run.py)."""
    import torch

    lat = np.asarray(ms, dtype=np.float64)
    result = {
        "marks": marks,
        "model_load_s": model_load_s,
        "ingest_s": ingest_s,
        "first_query_ms": first_query_ms,
        "p50_ms": float(np.percentile(lat, 50)),
        "p95_ms": float(np.percentile(lat, 95)),
        "mean_ms": float(lat.mean()),
        "peak_rss_mib": peak_rss_mib(),
        "docs": docs,
        "torch_threads": torch.get_num_threads(),
        "versions": versions(["torch", "sentence-transformers", "transformers", *packages]),
        "setup": setup,
        "runs": runs,
        **extra,
    }
    print(MARK + json.dumps(result), flush=True)
