"""Run every benchmark (what ``make bench`` calls), then regenerate docs/benchmarks.md from the results.

.venv/bin/python benchmarks/run_all.py [--only beir_scifact,latency] [--skip squad]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import report

BENCHMARKS = [
    "beir_scifact",
    "ingest_speed",
    "latency",
    "acl_latency",
    "freshness",
    "squad",
    "extractive_speed",
    "train_speed",
    "compare_helpcenter",
    "generation_speed",
    "lora_settings",
    "knowledge_injection",
    "load",
    "ocr_speed",
    "pdf_tables",
    "doc_context",
    "annual_reports_bench",
    "retriever_tuning",
    "fusion",
]
ARGS: dict[str, list[str]] = {"beir_scifact": ["--tune"], "extractive_speed": ["--late-chunking"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only", default="", help="comma-separated benchmark names")
    ap.add_argument("--skip", default="", help="comma-separated benchmark names")
    args = ap.parse_args()
    if not common.data_dir().exists():
        print(f"skipped: benchmark data not found at {common.data_dir()} (set RAGTUNE_DATA)")
        return 0
    names = [n for n in (args.only.split(",") if args.only else BENCHMARKS) if n and n not in args.skip.split(",")]
    failed = []
    for name in names:
        print(f"== {name}", flush=True)
        t = time.perf_counter()
        rc = subprocess.call(
            [sys.executable, str(common.BENCH_DIR / f"{name}.py"), *ARGS.get(name, [])], cwd=common.REPO
        )
        print(f"== {name}: exit {rc} in {time.perf_counter() - t:.0f} s", flush=True)
        if rc:
            failed.append(name)
    report.main()
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
