"""Fine-tuning demo (``make demo-tune``): a tiny model learns the help center's voice on CPU in a few minutes.

1. Build a tiny Llama model and pre-train it briefly on examples/helpcenter/docs so it produces words.
2. ``ragtune train`` a LoRA adapter on examples/helpcenter/style.jsonl (148 chats in Driftnest's voice), tracked in
   MLflow and registered as ``driftnest-voice``.
3. ``ragtune models show`` its lineage, then ``ragtune ask --model ft:driftnest-voice --strategy base``.

Everything lives in a scratch folder (default ``.demo-tune/``); a tiny model's answers are fluent-ish noise —
the point is the pipeline, which is the same for a real base model (``--base hf:Qwen/Qwen2.5-0.5B-Instruct``).
"""

from __future__ import annotations

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
WORK = Path(os.environ.get("RAGTUNE_DEMO_DIR", REPO / ".demo-tune"))
NAME = "driftnest-voice"


def ragtune(*args: str) -> None:
    print(f"\n$ ragtune {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, "-m", "ragtune.cli.main", *args], cwd=WORK, check=True)


def main() -> None:
    started = time.perf_counter()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    ragtune("models", "tiny", "tiny-model", "--train-steps", "300", "--corpus", str(HELPCENTER / "docs"))
    ragtune("init")
    ragtune(
        "train",
        "--data", str(HELPCENTER / "style.jsonl"),
        "--base", "hf:tiny-model",
        "--name", NAME,
        "--num-epochs", "2",
        "--learning-rate", "2e-3",
        "--batch-size", "8",
        "--max-length", "256",
        "--lora-rank", "16",
        "--lora-alpha", "32",
        "--save-steps", "20",
        "--threads", "1",
    )  # fmt: skip
    ragtune("models", "show", NAME)
    ragtune("runs", "list")
    ragtune("ask", "How do I restore a deleted file?", "--model", f"ft:{NAME}", "--strategy", "base")
    print(f"\nDone in {time.perf_counter() - started:.0f} s. Browse the run in MLflow:")
    print(f"  cd {WORK} && mlflow ui --backend-store-uri sqlite:///.ragtune/mlflow.db")


if __name__ == "__main__":
    main()
