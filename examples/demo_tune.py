"""Fine-tuning demo (``make demo-tune``): the bundled SmolLM2-135M-Instruct learns the help center's voice on CPU.

1. ``ragtune data split`` holds out a fifth of examples/helpcenter/style.jsonl (148 chats in Driftnest's voice).
2. ``ragtune train`` a LoRA adapter on the rest (base ``smollm2``), tracked in MLflow and registered as
   ``driftnest-voice``; ``ragtune models show`` prints its lineage.
3. Before and after, on the held-out questions: the base model and the fine-tuned one answer each with the same
   system prompt (the one the examples carry, which asks for the sign-off). Measured: how often the answer ends
   with the brand's sign-off, and style similarity to the held-out reference answers.
4. ``ragtune ask --strategy base`` with ``--model smollm2`` and with ``--model ft:driftnest-voice``.

Everything lives in a scratch folder (default ``.demo-tune/``). The training settings below were chosen by
measurement (docs/fine-tuning.md, "Settings for the bundled model").
"""

from __future__ import annotations

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
WORK = Path(os.environ.get("RAGTUNE_DEMO_DIR", REPO / ".demo-tune"))
NAME = "driftnest-voice"
SIGN_OFF = "Happy nesting! - The Driftnest crew"
QUESTION = "How do I restore a deleted file?"
TRAIN = [
    "--num-epochs", "3",
    "--learning-rate", "1e-3",
    "--batch-size", "8",
    "--max-length", "256",
    "--lora-rank", "16",
    "--lora-alpha", "32",
    "--target-modules", "q_proj,v_proj",
    "--precision", "fp32",
    "--save-steps", "20",
]  # fmt: skip


def ragtune(*args: str) -> None:
    print(f"\n$ ragtune {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, "-m", "ragtune.cli.main", *args], cwd=WORK, check=True)


def before_and_after(held_out: Path) -> dict[str, object]:
    """Sign-off rate and style similarity of base vs fine-tuned answers to the held-out questions."""
    from ragtune.embed import load_embedder
    from ragtune.evaluate.metrics.style import StyleReference, read_style_examples
    from ragtune.llm.base import GenerationOptions, generate_many
    from ragtune.llm.registry import load_generator
    from ragtune.tune.registry import resolve_ft

    rows = [json.loads(line) for line in held_out.read_text().splitlines() if line.strip()]
    prompts = [[m for m in r["messages"] if m["role"] != "assistant"] for r in rows]
    opts = GenerationOptions(max_new_tokens=128, no_repeat_ngram_size=4)
    spec, adapter = resolve_ft(f"ft:{NAME}", WORK / ".ragtune")
    answers = {
        "before (smollm2)": [g.text for g in generate_many(load_generator("smollm2"), prompts, opts)],
        f"after (ft:{NAME})": [g.text for g in generate_many(load_generator(spec, adapter=adapter), prompts, opts)],
    }
    embed = load_embedder().embed
    reference = StyleReference(read_style_examples(held_out), embed)
    out: dict[str, object] = {"held_out": len(rows)}
    print(f"\nOn {len(rows)} held-out style questions (same system prompt for both):")
    print(f"  {'':<28} {'ends with the sign-off':>24} {'style similarity':>18}")
    for label, texts in answers.items():
        signed = sum(t.strip().endswith(SIGN_OFF) for t in texts)
        scores = [s.get("similarity") for s in reference.score(texts)]
        mean = sum(s for s in scores if s is not None) / max(1, sum(s is not None for s in scores))
        print(f"  {label:<28} {f'{signed}/{len(texts)}':>24} {mean:>18.3f}")
        out[label] = {"sign_off": signed, "style_similarity": round(mean, 3)}
    first = next(i for i, r in enumerate(rows) if r["messages"][-2]["role"] == "user")
    print(f"\nQ: {rows[first]['messages'][-2]['content']}")
    for label, texts in answers.items():
        print(f"\n{label}:\n{texts[first].strip()}")
    return out


def main() -> None:
    started = time.perf_counter()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    # The assistant's system prompt, as a team would configure it: closed-book answers (`--strategy base`) use it.
    system = json.loads((HELPCENTER / "style.jsonl").read_text().splitlines()[0])["messages"][0]["content"]
    (WORK / "ragtune.toml").write_text(f"[prompts]\nbase_system = {json.dumps(system)}\n")
    ragtune("init")
    ragtune("data", "split", str(HELPCENTER / "style.jsonl"), "--val", "0.2", "--seed", "0", "--out-dir", "data")
    t = time.perf_counter()
    ragtune(
        "train", "--data", "data/train.jsonl", "--val", "data/val.jsonl", "--base", "smollm2", "--name", NAME, *TRAIN
    )
    train_seconds = time.perf_counter() - t
    ragtune("models", "show", NAME)
    ragtune("runs", "list")
    measured = before_and_after(WORK / "data" / "val.jsonl")
    ragtune("ask", QUESTION, "--model", "smollm2", "--strategy", "base")
    ragtune("ask", QUESTION, "--model", f"ft:{NAME}", "--strategy", "base")
    total = time.perf_counter() - started
    (WORK / "measured.json").write_text(
        json.dumps({"train_seconds": round(train_seconds, 1), "total_seconds": round(total, 1), **measured}, indent=2)
    )
    print(f"\nDone in {total:.0f} s (training {train_seconds:.0f} s). Browse the run in MLflow:")
    print(f"  cd {WORK} && mlflow ui --backend-store-uri sqlite:///.ragtune/mlflow.db")


if __name__ == "__main__":
    main()
