"""The full comparison on examples/helpcenter on CPU: wall time per step and stage, and the table it produced.

Runs ``examples/compare_demo.py`` (the bundled SmolLM2: synthesize data, train two LoRA adapters, then
``ragtune compare`` on the held-out eval questions with the freshness probe and a learning curve, then
``ragtune advise``) in a fresh folder and records the timings and the summary's key numbers. ``--quick`` runs the
quick profile (written as ``compare_helpcenter_quick``); ``--from DIR`` records a run made earlier by
``make compare`` (``.demo-compare``) instead of running it again.

    .venv/bin/python benchmarks/compare_helpcenter.py [--quick] [--from .demo-compare]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

KEYS = ("quality", "latency_p50_ms", "latency_p95_ms", "cost_per_query", "setup_seconds", "setup_cost")


def strategy_row(name: str, s: dict[str, Any]) -> dict[str, Any]:
    if s.get("status") != "ok":
        return {"name": name, "status": s.get("status"), "reason": s.get("reason")}
    m = s.get("metrics", {})
    names = ("f1", "citation_precision", "citation_recall", "groundedness", "style_similarity", "correct_decline",
             "recall@5")  # fmt: skip
    mean = {k: (m.get(k) or {}).get("mean") for k in names}
    return {
        "name": name,
        "status": "ok",
        **{k: s.get(k) for k in KEYS},
        "quality_ci": s.get("quality_ci"),
        **mean,
        "stale_rate": s.get("stale_rate"),
        "freshness_seconds": s.get("freshness_seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the quick profile")
    parser.add_argument("--from", dest="source", type=Path, default=None, help="record this finished run")
    args = parser.parse_args()
    if args.source is not None:
        work = args.source
    else:
        work = Path(tempfile.mkdtemp(prefix="ragtune-compare-bench-"))
        env = {**os.environ, "RAGTUNE_DEMO_DIR": str(work)}
        demo = [sys.executable, str(common.REPO / "examples" / "compare_demo.py"), *(["--quick"] if args.quick else [])]
        subprocess.run(demo, env=env, check=True)
    timings = json.loads((work / "timings.json").read_text())
    summary = json.loads((work / "results" / "summary.json").read_text())
    advice = summary.get("advice") or {}
    result = {
        "total_seconds": timings["total_seconds"],
        "steps": [{"command": t["command"].split(" --")[0], "seconds": t["seconds"]} for t in timings["steps"]],
        "stages": summary["stages"],
        "quality_metric": summary["quality_metric"],
        "eval": summary["eval"],
        "strategies": [strategy_row(n, s) for n, s in summary["strategies"].items()],
        "learning_curve": summary.get("learning_curve"),
        "freshness_change": (summary.get("freshness") or {}).get("change"),
        "recommendation": advice.get("strategy"),
        "profile": timings.get("profile", "full"),
        "machine_of_run": summary.get("machine"),
        "comparisons": [c for c in summary.get("comparisons", []) if c["metric"] == "quality"],
        "caveats": [r["message"] for r in advice.get("reasons", []) if r.get("rule") in ("sources_unused",)],
    }
    name = "compare_helpcenter_quick" if result["profile"] == "quick" else "compare_helpcenter"
    common.write_result(name, result)


if __name__ == "__main__":
    main()
