"""LoRA settings for the bundled model on CPU: training throughput by precision and LoRA targets, same data and steps.

What chose the demos' training settings (docs/fine-tuning.md, "Settings for the bundled model"): SmolLM2-135M-
Instruct, examples/helpcenter/style.jsonl, batch 8, max length 256, LoRA rank 16, ``--steps`` optimizer steps per
configuration; seconds are ``trainer.train()`` only (model loading outside), tokens are non-padding input tokens.

.venv/bin/python benchmarks/lora_settings.py [--steps 6]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

STYLE = common.REPO / "examples" / "helpcenter" / "style.jsonl"
TARGETS = ("all-linear", "q_proj,v_proj", "q_proj,k_proj,v_proj,o_proj")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()

    from ragtune.hardware import cpu_has_bf16
    from ragtune.tune.training.config import TrainConfig
    from ragtune.tune.training.train import train

    work = Path(tempfile.mkdtemp(prefix="ragtune-lora-"))
    rows = []
    for precision in ["fp32", *(["bf16"] if cpu_has_bf16() else [])]:
        for targets in TARGETS:
            config = TrainConfig(
                max_steps=args.steps, batch_size=8, max_length=256, val_share=0.0, save_steps=10_000, device="cpu",
                precision=precision, target_modules=targets, lora_rank=16, lora_alpha=32, learning_rate=1e-3,
            )  # fmt: skip
            r = train(STYLE, "smollm2", config, kb_dir=work / "kb", quiet=True, track=False, register=False)
            row = {
                "precision": precision,
                "targets": targets,
                "steps": args.steps,
                "train_seconds": round(r.train_seconds, 1),
                "seconds_per_step": round(r.train_seconds / args.steps, 2),
                "tokens": r.tokens_seen,
                "tokens_per_s": round(r.tokens_per_s, 1),
                "final_step_loss": r.metrics.get("final_step_loss"),
            }
            print(row, flush=True)
            rows.append(row)
    common.write_result(
        "lora_settings", {"model": "smollm2", "data": str(STYLE.relative_to(common.REPO)), "rows": rows}
    )


if __name__ == "__main__":
    main()
