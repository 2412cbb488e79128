"""The whole comparison on the help center, offline on CPU (``make compare``).

1. Ingest examples/helpcenter/docs into a knowledge base.
2. Build a tiny Llama model (pre-trained briefly on the docs) to stand in for an LLM.
3. Synthesize training data from the docs: question/answer pairs (``data build``) and RAFT examples
   (``data build --raft``); check them against the eval set for leakage (``data check --eval``).
4. Fine-tune two LoRA adapters: ``tiny-ft`` on the pairs (closed book) and ``tiny-raft`` on the RAFT data
   (the hybrid's model).
5. ``ragtune compare``: base, rag, ft, hybrid and rag-extractive on the 102 eval questions, with the brand-voice
   examples, the price-change freshness probe and a learning curve; then ``ragtune advise``.

The tiny model's answers are noise (it has a few hundred thousand parameters): what the demo shows is the
measurement pipeline, which is the same with a real model — pass ``--model hf:Qwen/Qwen2.5-0.5B-Instruct``
(or ``RAGTUNE_DEMO_MODEL``) to base the whole comparison on one. Everything lives in ``.demo-compare/``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
HELPCENTER = REPO / "examples" / "helpcenter"
WORK = Path(os.environ.get("RAGTUNE_DEMO_DIR", REPO / ".demo-compare"))
# Training settings for every run (the two models and the learning curve's): one file, as a team would keep it.
TUNE = """\
[train]
num_epochs = 1
learning_rate = 2e-3
batch_size = 8
max_length = 1280
lora_rank = 16
lora_alpha = 32
threads = 1
"""
# Short answers keep the tiny model quick; a real model would use the defaults.
CONFIG = """\
[llm]
max_new_tokens = 48
"""


TIMINGS: list[dict[str, object]] = []  # wall seconds per command, written to WORK/timings.json


def ragtune(*args: str, check: bool = True) -> int:
    print(f"\n$ ragtune {' '.join(args)}", flush=True)
    t = time.perf_counter()
    code = subprocess.run([sys.executable, "-m", "ragtune.cli.main", *args], cwd=WORK, check=check).returncode
    TIMINGS.append({"command": "ragtune " + " ".join(args), "seconds": round(time.perf_counter() - t, 2)})
    return code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=os.environ.get("RAGTUNE_DEMO_MODEL"), help="a real base model spec")
    parser.add_argument("--limit", type=int, default=None, help="only the first N eval questions")
    args = parser.parse_args()
    started = time.perf_counter()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    (WORK / "ragtune.toml").write_text(CONFIG if not args.model else "")
    (WORK / "tune.toml").write_text(TUNE)
    ragtune("init")
    ragtune("ingest", str(HELPCENTER / "docs"))
    base = args.model
    if base is None:
        # A 2,048-token window holds a question with three retrieved passages.
        ragtune("models", "tiny", "tiny-model", "--train-steps", "300", "--corpus", str(HELPCENTER / "docs"),
                "--context-window", "2048", "--vocab-size", "4096")  # fmt: skip
        base = "hf:tiny-model"
    ragtune("data", "build", "--out", "qa.jsonl", "--system", "You are the Driftnest help assistant.")
    # Passages are packed into the base model's context window, as the RAG pipeline does at inference.
    ragtune("data", "build", "--raft", "--k", "2", "--base", base, "--out", "raft.jsonl")
    # Leakage is reported (a synthesized question can be near an eval question); the demo goes on.
    ragtune("data", "check", "qa.jsonl", "--eval", str(HELPCENTER / "eval.jsonl"), check=False)
    ragtune("train", "--data", "qa.jsonl", "--base", base, "--name", "tiny-ft", "--config", "tune.toml")
    ragtune("train", "--data", "raft.jsonl", "--base", base, "--name", "tiny-raft", "--config", "tune.toml")
    compare = [
        "compare",
        "--eval", str(HELPCENTER / "eval.jsonl"),
        "--out", "results",
        "--model", base,
        "--ft", "tiny-ft",
        "--hybrid", "tiny-raft",
        "--style", str(HELPCENTER / "style.jsonl"),
        "--changes", str(HELPCENTER / "changes" / "01-team-price-increase"),
        "--train-data", "qa.jsonl",
        "--curve-shares", "25,50,100",
        "--train-config", "tune.toml",
    ]  # fmt: skip
    if args.limit:
        compare += ["--limit", str(args.limit)]
    ragtune(*compare)
    ragtune("advise", "--results", "results", "--queries-per-month", "50000", "--doc-changes", "weekly",
            "--brand-voice", "nice", "--citations")  # fmt: skip
    total = time.perf_counter() - started
    (WORK / "timings.json").write_text(json.dumps({"total_seconds": round(total, 1), "steps": TIMINGS}, indent=2))
    print(f"\nDone in {total:.0f} s. Open {WORK / 'results' / 'report.html'}")


if __name__ == "__main__":
    main()
