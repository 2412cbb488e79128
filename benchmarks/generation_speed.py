"""Generation speed of the bundled model (SmolLM2-135M-Instruct) on CPU: ragtune's batched greedy generation
against plain ``model.generate`` one prompt at a time (the peer), same model, prompts and settings, same run.

Two prompt sets from the help center: closed book (the eval questions alone) and RAG (each question with its top
passages in the compact layout, as ``rag`` answers with the bundled model's defaults). For each precision the CPU
offers (fp32, and bf16 where the CPU has it natively) it measures answers/s and generated tokens/s for: the peer,
ragtune one at a time (``generate``), and ragtune batched (``generate_batch``). It also measures the CPU's
matmul peak (large square products, same precision) and reports the share of it that generation reaches
(forward FLOPs ≈ 2 × parameters × every token processed, prompt included, plus attention), how many batched
answers differ from the one-at-a-time text, and the load time of the cached model.

.venv/bin/python benchmarks/generation_speed.py [--questions 16] [--max-new-tokens 48] [--batch-size 8]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

HELPCENTER = common.REPO / "examples" / "helpcenter"


def matmul_peak(dtype: Any, n: int = 2048, repeats: int = 5) -> float:
    """Best GFLOP/s of an n×n by n×n product in ``dtype`` (the CPU's practical peak for this library)."""
    import torch

    a = torch.randn(n, n).to(dtype)
    b = torch.randn(n, n).to(dtype)
    torch.matmul(a, b)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def forward_flops(model: Any, prompt_lens: list[int], new_lens: list[int]) -> float:
    """≈ FLOPs to process every prompt token once and generate every new token with a KV cache."""
    cfg = model.config
    params = sum(p.numel() for p in model.parameters())
    embed = cfg.vocab_size * cfg.hidden_size
    per_token = 2 * (params - embed) + 2 * embed  # the tied embedding is the LM head's matrix once
    total = 0.0
    for p, g in zip(prompt_lens, new_lens, strict=True):
        total += per_token * (p + g)
        # attention scores and values: 4 × layers × hidden × positions attended, summed over positions
        total += 4 * cfg.num_hidden_layers * cfg.hidden_size * ((p + g) * (p + g + 1) / 2)
    return total


def prompts(kb: Any, items: list[dict[str, Any]], gen: Any, rag: bool) -> list[list[dict[str, str]]]:
    """The prompts ragtune sends: closed book (base system prompt + question), or the ``rag`` pipeline's
    (the model's default k, layout and source budget, packed by :func:`~ragtune.llm.prompts.fit_sources`)."""
    from ragtune.llm.defaults import defaults_for
    from ragtune.llm.prompts import BASE_SYSTEM, Source, fit_sources, rag_messages, template_named

    if not rag:
        return [[{"role": "system", "content": BASE_SYSTEM}, {"role": "user", "content": i["question"]}] for i in items]
    d = defaults_for("smollm2")
    t = template_named(d["template"])
    out = []
    for i in items:
        passages = kb.search(i["question"], k=d["k"])
        sources = fit_sources(
            i["question"], [Source(p.text, p.title) for p in passages], count_tokens=gen.count_tokens,
            budget=gen.context_window, source_tokens=d["source_tokens"], templates=t,
        )  # fmt: skip
        out.append(rag_messages(i["question"], sources, templates=t))
    return out


def run(gen: Any, sets: dict[str, list[Any]], max_new: int) -> dict[str, Any]:
    import torch

    from ragtune.llm.base import GenerationOptions

    opts = GenerationOptions(max_new_tokens=max_new)
    model, tok = gen.model, gen.tokenizer
    out: dict[str, Any] = {}
    for name, chats in sets.items():
        ids = [gen.prompt_ids(c) for c in chats]
        gen.generate(chats[0], opts)  # warm-up
        # peer: plain transformers, one prompt at a time
        t = time.perf_counter()
        peer_new = []
        with torch.inference_mode():
            for p in ids:
                x = torch.tensor([p])
                y = model.generate(
                    input_ids=x, attention_mask=torch.ones_like(x), max_new_tokens=max_new, do_sample=False,
                    pad_token_id=tok.pad_token_id,
                )  # fmt: skip
                peer_new.append(y.shape[1] - len(p))
        peer_s = time.perf_counter() - t
        t = time.perf_counter()
        single = [gen.generate(c, opts) for c in chats]
        single_s = time.perf_counter() - t
        t = time.perf_counter()
        batched = gen.generate_batch(chats, opts)
        batch_s = time.perf_counter() - t
        tokens = sum(g.tokens_out for g in batched)
        flops = forward_flops(model, [len(p) for p in ids], [g.tokens_out for g in batched])
        out[name] = {
            "prompts": len(chats),
            "prompt_tokens_mean": sum(len(p) for p in ids) / len(ids),
            "new_tokens": tokens,
            "peer_seconds": peer_s,
            "peer_answers_per_s": len(chats) / peer_s,
            "peer_tokens_per_s": sum(peer_new) / peer_s,
            "single_seconds": single_s,
            "single_answers_per_s": len(chats) / single_s,
            "batched_seconds": batch_s,
            "batched_answers_per_s": len(chats) / batch_s,
            "batched_tokens_per_s": tokens / batch_s,
            "speedup_vs_peer": peer_s / batch_s,
            "batched_gflops": flops / batch_s / 1e9,
            "peer_gflops": flops / peer_s / 1e9,
            "differ_from_single": sum(a.text != b.text for a, b in zip(single, batched, strict=True)),
        }
        print(json.dumps({name: out[name]}, indent=1), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=16, help="answerable eval questions per prompt set")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()

    import torch

    from ragtune import KnowledgeBase
    from ragtune.hardware import cpu_has_bf16
    from ragtune.llm.bundled import ensure_converted
    from ragtune.llm.hf import HFGenerator

    path = ensure_converted("smollm2")
    items = [json.loads(line) for line in (HELPCENTER / "eval.jsonl").read_text().splitlines() if line.strip()]
    items = [i for i in items if i["sources"]][: args.questions]
    work = Path(tempfile.mkdtemp(prefix="ragtune-genspeed-"))
    kb = KnowledgeBase.open(work / "kb", create=True, settings=common.settings())
    kb.ingest([HELPCENTER / "docs"])
    precisions = ["fp32", *(["bf16"] if cpu_has_bf16() else [])]
    rows = {}
    loads = {}
    for precision in precisions:
        t = time.perf_counter()
        gen = HFGenerator(str(path), dtype=precision, batch_size=args.batch_size)
        loads[precision] = time.perf_counter() - t
        sets = {"closed book": prompts(kb, items, gen, rag=False), "rag": prompts(kb, items, gen, rag=True)}
        result = run(gen, sets, args.max_new_tokens)
        peak = matmul_peak(torch.float32 if precision == "fp32" else torch.bfloat16)
        for r in result.values():
            r["matmul_peak_gflops"] = peak
            r["share_of_peak"] = r["batched_gflops"] / peak
        rows[precision] = result
        del gen
    common.write_result(
        "generation_speed",
        {
            "model": "smollm2 (SmolLM2-135M-Instruct)",
            "questions": len(items),
            "max_new_tokens": args.max_new_tokens,
            "batch_size": args.batch_size,
            "auto_precision": "bf16" if cpu_has_bf16() else "fp32",
            "load_seconds": loads,
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()
