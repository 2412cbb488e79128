"""CLI cold start: `ragtune --help`, `ragtune search` and `ragtune ask` (extractive) as fresh processes on the demo KB.

Builds the demo KB (examples/helpcenter/docs) in benchmarks/.cache/cold_start/ with this checkout, then times
each command ``--runs`` times (wall, from exec to exit; the median is reported) and records which heavy
libraries the process imported. ``--before-src DIR`` also times another checkout's ``src/`` (e.g. a git worktree at
an older commit) with the same interpreter and the same KB folder layout, in the same run, as the peer; its KB is
built by that checkout's own code.

    .venv/bin/python benchmarks/cold_start.py [--runs 10] [--before-src /tmp/ragtune-before/src]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

TARGETS_S = {"help": 0.3, "search": 1.0, "ask": 1.5}
QUESTION = "How much is the Team plan?"
HEAVY = ("torch", "transformers", "sentence_transformers", "onnxruntime", "mlflow", "matplotlib")
COMMANDS = {
    "help": ["--help"],
    "search": ["search", QUESTION],
    "ask": ["ask", QUESTION],
}
PROBE = (
    "import sys, runpy; sys.argv = ['ragtune', *sys.argv[1:]]\n"
    "try:\n    runpy.run_module('ragtune.cli.main', run_name='__main__')\n"
    "except SystemExit:\n    pass\n"
    f"print('LOADED', ' '.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
)


def env_for(src: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGTUNE_") or k == "RAGTUNE_CACHE"}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    return env


def build_kb(folder: Path, env: dict[str, str]) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    ragtune = [sys.executable, "-m", "ragtune.cli.main"]
    subprocess.run([*ragtune, "init"], cwd=folder, env=env, check=True, capture_output=True)
    docs = common.REPO / "examples" / "helpcenter" / "docs"
    subprocess.run([*ragtune, "ingest", str(docs)], cwd=folder, env=env, check=True, capture_output=True)
    # One search and one answer, so caches a first use builds (the query graph, the index files) exist, as they
    # do for a user after their first command.
    for args in (COMMANDS["search"], COMMANDS["ask"]):
        subprocess.run([*ragtune, *args], cwd=folder, env=env, check=True, capture_output=True)


def time_command(folder: Path, env: dict[str, str], args: list[str], runs: int) -> dict[str, Any]:
    walls: list[float] = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ragtune.cli.main", *args], cwd=folder, env=env, check=True,
                       capture_output=True)  # fmt: skip
        walls.append(time.perf_counter() - t)
    probe = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=folder, env=env, capture_output=True, text=True)
    loaded = next((ln[7:].split() for ln in probe.stderr.splitlines() if ln.startswith("LOADED")), [])
    return {"median_s": common.percentile(walls, 50), "min_s": min(walls), "max_s": max(walls), "loaded": loaded}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--before-src", type=Path, default=None, help="another checkout's src/ to time as the peer")
    ap.add_argument("--before-label", default="before")
    args = ap.parse_args()
    setups: list[tuple[str, Path | None]] = [("now", None)]
    if args.before_src is not None:
        setups.append((args.before_label, args.before_src.resolve()))
    rows = []
    for label, src in setups:
        env = env_for(src)
        folder = common.CACHE / "cold_start" / label
        print(f"building the demo KB for {label} ...", flush=True)
        build_kb(folder, env)
        for name, cmd in COMMANDS.items():
            r = time_command(folder, env, cmd, args.runs)
            rows.append({"code": label, "command": name, **r})
            print(f"  {label} ragtune {' '.join(cmd)}: median {r['median_s']:.2f} s; loads {r['loaded']}", flush=True)
    now = {r["command"]: r for r in rows if r["code"] == "now"}
    common.write_result(
        "cold_start",
        {
            "runs": args.runs,
            "rows": rows,
            "targets_s": TARGETS_S,
            "met": {name: now[name]["median_s"] <= target for name, target in TARGETS_S.items()},
        },
    )


if __name__ == "__main__":
    main()
