"""The full comparison on examples/helpcenter on CPU: wall time per step and stage, and the table it produced.

Runs ``examples/compare_demo.py`` (the bundled SmolLM2: synthesize data, train two LoRA adapters, then
``ragtune compare`` on the held-out eval questions with the freshness probe and a learning curve, then
``ragtune advise``) in a fresh folder and records the timings and the summary's key numbers. ``--quick`` runs the
quick profile (written as ``compare_helpcenter_quick``); ``--from DIR`` records a run made earlier by
``make compare`` (``.demo-compare``) instead of running it again.

Besides the summary it records the comparison's strict check of the facts (the ``facts`` metric, read from the
answers the run wrote, ``results/<strategy>.jsonl``) over the answerable questions only: of those whose reference
states a number (a price, a limit, a number of days), the share of answers that state every number of the
reference ("numbers stated"), with a 95% bootstrap interval, and paired differences against closed-book ``base``.
Semantic similarity scores a fluent answer with the wrong price close to the right one; this check does not.

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


def freshness_failed(summary: dict[str, Any], name: str) -> str | None:
    """The error of a strategy whose freshness answers all failed (a run before the probe counted failures)."""
    probe = ((summary.get("freshness") or {}).get("per_strategy") or {}).get(name) or {}
    answers = [a for row in probe.get("answers", []) for a in (row["before"], row["after"])]
    if answers and all(a.startswith("[error: ") for a in answers):
        return answers[0]
    return None


def strategy_row(name: str, s: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
    if s.get("status") != "ok":
        return {"name": name, "status": s.get("status"), "reason": s.get("reason")}
    m = s.get("metrics", {})
    names = ("f1", "citation_precision", "citation_recall", "groundedness", "style_similarity", "correct_decline",
             "recall@5")  # fmt: skip
    mean = {k: (m.get(k) or {}).get("mean") for k in names}
    failed = freshness_failed(summary, name)
    return {
        "name": name,
        "status": "ok",
        **{k: s.get(k) for k in KEYS},
        "quality_ci": s.get("quality_ci"),
        **mean,
        # Not measured when every probe answer failed (recorded as stale by runs before the fix).
        "stale_rate": None if failed else s.get("stale_rate"),
        "freshness_seconds": None if failed else s.get("freshness_seconds"),
    }


def numbers_stated(results: Path, names: list[str]) -> dict[str, Any]:
    """Per strategy: share of number-bearing answerable questions whose answer states all the reference's numbers
    (the comparison's ``facts`` metric, here over the answerable questions only, as recorded before it existed)."""
    from ragtune.evaluate.metrics.bootstrap import bootstrap_ci, paired_bootstrap

    hits: dict[str, list[float]] = {}
    for name in names:
        path = results / f"{name}.jsonl"
        if not path.exists():
            continue
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        hits[name] = [
            r["metrics"]["facts"] for r in rows if not r["unanswerable"] and r["metrics"]["facts"] is not None
        ]
    out: dict[str, Any] = {"questions": len(next(iter(hits.values()), [])), "rates": {}, "vs_base": []}
    for name, h in hits.items():
        ci = bootstrap_ci(h)
        out["rates"][name] = {"rate": ci.estimate, "ci": [ci.low, ci.high]}
        if name != "base" and "base" in hits:
            d = paired_bootstrap(hits["base"], h, names=("base", name))
            out["vs_base"].append({"a": "base", "b": name, "diff": d.diff, "ci_low": d.low, "ci_high": d.high,
                                   "significant": d.significant})  # fmt: skip
    return out


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
        "strategies": [strategy_row(n, s, summary) for n, s in summary["strategies"].items()],
        "learning_curve": summary.get("learning_curve"),
        "freshness_change": (summary.get("freshness") or {}).get("change"),
        "recommendation": advice.get("strategy"),
        "profile": timings.get("profile", "full"),
        "machine_of_run": summary.get("machine"),
        "comparisons": [c for c in summary.get("comparisons", []) if c["metric"] == "quality"],
        "numbers_stated": numbers_stated(work / "results", list(summary["strategies"])),
        "caveats": [
            r["message"]
            for r in advice.get("reasons", [])
            if r.get("rule") in ("sources_unused", "quality_metric_lenient")
        ]
        + [
            f"freshness of {n} not measured in this run, every probe answer failed: {err}"
            for n in summary["strategies"]
            if (err := freshness_failed(summary, n))
        ],
    }
    name = "compare_helpcenter_quick" if result["profile"] == "quick" else "compare_helpcenter"
    common.write_result(name, result)


if __name__ == "__main__":
    main()
