"""The RAG settings sweep that chose the bundled model's defaults (``src/ragtune/llm/defaults.py``).

Four rounds of ``ragtune sweep --rag`` on the dev third of the help-center eval set (34 questions; the other 68
are held out for ``make compare``), each round narrowing the previous one: layout × k × source budget, then the
Markdown-tables question, then the budget and decoding; round D, run after the defaults were set, asks whether
showing only the best sentences of the retrieved passages (``context = "sentences"``) beats whole passages.
Every trial starts from the model's defaults at the time with the grid's values on top (recorded per round as
``base_settings``: re-running today starts from the defaults these rounds chose).

.venv/bin/python benchmarks/rag_sweep.py            # runs the four rounds (~30 min on 2 cores), writes results
.venv/bin/python benchmarks/rag_sweep.py --from DIR # records sweepA.json ... sweepD.json made earlier
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

EVAL = common.REPO / "examples" / "helpcenter" / "eval.jsonl"
DOCS = common.REPO / "examples" / "helpcenter" / "docs"
ROUNDS = {
    "A": ["k=1,2,3", "template=fenced,compact", "source_tokens=320,1024"],
    "B": ["template=compact,compact-md", "k=1,2,3", "source_tokens=192,320"],
    "C": ["k=3", "template=compact", "source_tokens=128,192,256", "no_repeat=0,4", "max_new_tokens=48,96"],
    # After the defaults: sentence-level context (the retrieved passages' best sentences instead of whole chunks).
    "D": ["context=passages,sentences", "k=3,5", "source_tokens=128,192"],
}


def command(round_name: str, out: Path) -> list[str]:
    return [
        "ragtune", "sweep", "--rag", "--eval", str(EVAL.relative_to(common.REPO)), "--model", "smollm2",
        "--grid", *ROUNDS[round_name], "--out", str(out),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--from", dest="source", type=Path, default=None, help="record earlier sweep*.json files")
    args = parser.parse_args()
    rounds = {}
    for name in ROUNDS:
        if args.source:
            data = json.loads((args.source / f"sweep{name}.json").read_text())
        else:
            work = Path(tempfile.mkdtemp(prefix="ragtune-sweep-"))
            shutil.copytree(DOCS, work / "docs")
            env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
            run = {"cwd": work, "check": True, "env": env}
            subprocess.run([sys.executable, "-m", "ragtune.cli.main", "init"], **run)  # type: ignore[call-overload]
            subprocess.run([sys.executable, "-m", "ragtune.cli.main", "ingest", "docs"], **run)  # type: ignore[call-overload]
            argv = command(name, work / "sweep.json")
            argv[2] = str(EVAL)
            subprocess.run([sys.executable, "-m", "ragtune.cli.main", *argv[1:]], **run)  # type: ignore[call-overload]
            data = json.loads((work / "sweep.json").read_text())
        rounds[name] = {
            "command": " ".join(command(name, Path(f"sweep{name}.json"))),
            "grid": ROUNDS[name],
            "base_settings": data["base_settings"],
            "dev_questions": data["dev_questions"],
            "held_out_questions": data["held_out_questions"],
            "trials": [
                {"params": t["params"], "metrics": t["metrics"], "seconds": t["seconds"]} for t in data["trials"]
            ],
            "best": data["best"]["params"],
        }
    common.write_result(
        "rag_sweep",
        {
            "model": "smollm2",
            "note": "KB: examples/helpcenter/docs ingested with defaults; generator precision auto (bf16 here)",
            "rounds": rounds,
        },
    )


if __name__ == "__main__":
    main()
