"""Training throughput of the tiny model on CPU (fp32 vs bf16, same data and steps, same run), and the wall time
from style.jsonl to a registered model through the whole ``ragtune train`` path (MLflow logging included).

Throughput counts non-padding tokens (transformers' ``num_input_tokens_seen`` in ``non_padding`` mode) over the
time of ``trainer.train()``; model loading and MLflow are outside it. bf16 on a CPU without native bf16
(AMX / AVX-512 BF16) is emulated, so expect it slower there; ``precision=auto`` picks fp32 on such CPUs.

.venv/bin/python benchmarks/train_speed.py [--steps 30]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

STYLE = common.REPO / "examples" / "helpcenter" / "style.jsonl"
DOCS = common.REPO / "examples" / "helpcenter" / "docs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=30, help="optimizer steps per precision")
    parser.add_argument("--repeats", type=int, default=2, help="runs per precision (the best is reported)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: the tiny model's best here)")
    args = parser.parse_args()

    import torch

    from ragtune.hardware import cpu_has_bf16
    from ragtune.llm.tiny import build_tiny_model
    from ragtune.tune.training.config import TrainConfig
    from ragtune.tune.training.train import train

    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="ragtune-train-speed-"))
    model = build_tiny_model(work / "tiny", train_steps=100, corpus=DOCS, seed=0)
    config = TrainConfig(
        max_steps=args.steps,
        batch_size=8,
        max_length=256,
        val_share=0.0,
        save_steps=10_000,
        threads=args.threads,
        device="cpu",
    )
    rows = []
    for precision in ("fp32", "bf16"):
        best = None
        for _ in range(args.repeats):
            r = train(
                STYLE, f"hf:{model}", config.replace(precision=precision), kb_dir=work / "kb", quiet=True,
                track=False, register=False,
            )  # fmt: skip
            if best is None or r.tokens_per_s > best.tokens_per_s:
                best = r
        assert best is not None
        rows.append(
            {
                "precision": precision,
                "steps": best.global_step,
                "tokens": best.tokens_seen,
                "train_seconds": best.train_seconds,
                "tokens_per_s": best.tokens_per_s,
                "final_loss": best.loss_history[-1][1],
            }
        )
        print(rows[-1], flush=True)

    # The whole CLI path: a fresh process, MLflow store created, training (1 epoch), adapter logged, registered.
    kb = work / "cli" / ".ragtune"
    cmd = [
        sys.executable, "-m", "ragtune.cli.main", "train", "--data", str(STYLE), "--base", f"hf:{model}",
        "--kb", str(kb), "--name", "style-voice", "--num-epochs", "1", "--batch-size", "8", "--max-length", "256",
        "--threads", str(args.threads), "--save-steps", "10000", "--quiet", "--json",
    ]  # fmt: skip
    started = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    import json

    cli = json.loads(out.stdout)
    result = {
        "model": {"path": "tiny (build_tiny_model, 100 steps on helpcenter docs)", "parameters": _params(model)},
        "data": str(STYLE.relative_to(common.REPO)),
        "config": {"batch_size": 8, "max_length": 256, "method": "lora", "lora_rank": 8, "threads": args.threads},
        "cpu_native_bf16": cpu_has_bf16(),
        "rows": rows,
        "bf16_vs_fp32": round(rows[1]["tokens_per_s"] / rows[0]["tokens_per_s"], 3),
        "cli": {
            "wall_seconds": round(wall, 1),
            "train_seconds": cli["train_seconds"],
            "steps": cli["global_step"],
            "tokens_per_s": cli["tokens_per_s"],
            "registered": cli["model_name"],
        },
    }
    common.write_result("train_speed", result)


def _params(model: Path) -> int:
    from ragtune.llm.tiny import read_manifest

    return int(read_manifest(model).get("parameters", 0))


if __name__ == "__main__":
    main()
