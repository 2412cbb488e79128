"""Shared helpers for the benchmarks: where the data lives, cached KBs, result files, machine facts."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# BENCH_TORCH_THREADS=1 pins torch to one thread (used when the machine is oversubscribed by other work:
# two intra-op threads on a crowded 2-core machine wait on each other at every op). Recorded in results.
if os.environ.get("BENCH_TORCH_THREADS"):
    import torch

    torch.set_num_threads(int(os.environ["BENCH_TORCH_THREADS"]))

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
CACHE = BENCH_DIR / ".cache"


def data_dir() -> Path:
    """``../shared/data`` beside the repository, or ``$RAGTUNE_DATA``."""
    env = os.environ.get("RAGTUNE_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def require(path: Path, what: str) -> Path:
    """``path`` if it exists; else print why and exit 0 (benchmarks are optional without data)."""
    if not path.exists():
        print(f"skipped: {what} not found at {path} (set RAGTUNE_DATA)")
        sys.exit(0)
    return path


def scifact_dir() -> Path:
    return require(data_dir() / "scifact", "SciFact data")


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """BEIR qrels TSV (with header) → query id → {doc id: grade}."""
    out: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as f:
        for i, line in enumerate(f):
            parts = line.rstrip("\n").split("\t")
            if i == 0 and not parts[-1].lstrip("-").isdigit():
                continue
            if len(parts) < 3:
                continue
            out.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return out


def scifact_queries(split: str) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """(query id → text, qrels) for the queries judged in ``split``."""
    d = scifact_dir()
    qrels = read_qrels(d / "qrels" / f"{split}.tsv")
    texts = {q["_id"]: q["text"] for q in read_jsonl(d / "queries.jsonl")}
    return {qid: texts[qid] for qid in qrels}, qrels


def settings(**search: Any) -> Any:
    """Default settings (no ragtune.toml, no env), with some search values changed."""
    from ragtune.config import Settings

    s = Settings()
    return s.replace("search", **search) if search else s


def scifact_kb(name: str = "scifact", settings_obj: Any = None, progress: bool = False) -> tuple[Any, Any]:
    """The cached SciFact KB (ingested on first use). Returns (kb, IngestReport of this call's ingest)."""
    from ragtune import KnowledgeBase

    kb = KnowledgeBase.open(CACHE / name, create=True, settings=settings_obj or settings())
    rep = kb.ingest(
        [scifact_dir() / "corpus.jsonl"], id_field="_id", text_field="text", title_field="title", progress=progress
    )
    return kb, rep


def rank_docs(passages: list[Any], n: int | None = None) -> list[str]:
    """Documents in the order of their best passage (first occurrence of each doc id)."""
    seen: dict[str, None] = {}
    for p in passages:
        if p.doc_id not in seen:
            seen[p.doc_id] = None
            if n is not None and len(seen) >= n:
                break
    return list(seen)


def percentile(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else float("nan")


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    info: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Model name":
                info["cpu"] = value.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    info["cores"] = os.cpu_count()
    info["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["ram_gib"] = round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    try:
        flags = Path("/proc/cpuinfo").read_text()
        info["bf16"] = "amx_bf16" in flags or "avx512_bf16" in flags
    except OSError:
        pass
    return info


def write_result(name: str, result: dict[str, Any], command: str | None = None) -> Path:
    """``benchmarks/results/<name>.json`` with the command, date and machine added."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {
        "benchmark": name,
        "command": command or f".venv/bin/python benchmarks/{name}.py " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "machine": machine(),
        **result,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(out, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(REPO)}")
    return path


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table (also readable on a terminal)."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3f}" if abs(v) < 10 else f"{v:,.1f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)
