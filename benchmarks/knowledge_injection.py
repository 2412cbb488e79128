"""Knowledge injection, measured with the bundled model on facts it cannot know (the fictional help center).

The article's claims ("fine-tuning teaches facts", "RAG is fresher") tested as Ovadia et al. (2023, *Fine-tuning
or retrieval?*) did: multiple-choice questions scored by log-likelihood, accuracy with 95% bootstrap intervals.

Questions: every answerable help-center eval question whose reference answer states a number (prices, limits,
days, percentages). Options: the reference answer and three distractors made from it by swapping each number
for another number of the same shape ($, %, plain) taken from other reference answers (seeded). The model
picks the option with the highest mean log-probability per token after the question's prompt (lm-eval's
length-normalised accuracy); chance is 0.25.

Conditions (all SmolLM2-135M-Instruct, LoRA on q/v projections, same training settings):
- ``base``: closed book.
- ``ft-qa``: trained on the Q/A pairs ``ragtune data build`` synthesizes from the docs' structure (no eval question
  involved: the facts it learns are whatever the docs' FAQs, steps and definitions say).
- ``ft-para-k`` (k = 1, 4, 10): trained on the tested facts themselves, each as k question phrasings written by the
  bundled model (sampled, filtered: a question, not the eval wording, on the same subject), all answered with
  the fact's sentence. The eval question's own wording is never trained on. This is fine-tuning's best case.
- ``rag``: the base model with retrieval (the pipeline's prompt: k, layout and source budget of its defaults).
- ``ft+rag``: ``ft-para-10`` with retrieval. ``raft+rag``: trained on ``data build --raft`` examples, with retrieval.

Freshness: change 01 (Team price $12 → $14 monthly, $10 → $12 annual) is applied to a copy of the KB; its two
questions are asked before and after with the same four options (old and new fact both among them). The
fine-tuned models are not retrained: what a team gets until it retrains.

Latency and tokens: mean prompt tokens and scoring seconds per question (four options, one batched forward pass).

``--from-compare .demo-compare`` reuses the ``smollm2-ft`` (Q/A pairs) and ``smollm2-raft`` adapters that
``make compare`` trained on the same docs with the same settings, instead of training them again.

.venv/bin/python benchmarks/knowledge_injection.py [--epochs 2] [--paraphrases 1,4,10] [--limit N]
    [--from-compare .demo-compare]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

HELPCENTER = common.REPO / "examples" / "helpcenter"
CHANGE = HELPCENTER / "changes" / "01-team-price-increase"
NUMBER = re.compile(r"\$?\d[\d,]*(?:\.\d+)?%?")
SYSTEM = "You are a helpful assistant. Answer the question concisely."
REWRITE = "Rewrite this question in different words, keeping its meaning:"
PUBLISHED = {  # Ovadia et al. 2023, Mistral-7B, current-events task (accuracy)
    "base": 0.481,
    "ft (unsupervised)": 0.504,
    "ft + paraphrases": 0.588,
    "rag": 0.875,
}


# --- questions and options -------------------------------------------------------------------------------------


def shape(token: str) -> str:
    return "$" if token.startswith("$") else "%" if token.endswith("%") else "n"


def distractors(answer: str, pool: dict[str, list[str]], rng: random.Random, n: int = 3) -> list[str]:
    """``n`` versions of ``answer`` with every number swapped for another of the same shape."""
    out: list[str] = []
    tokens = NUMBER.findall(answer)
    for _ in range(50):
        if len(out) == n:
            break
        text = NUMBER.sub(lambda m: rng.choice([v for v in pool[shape(m.group())] if v != m.group()]), answer)
        if (
            text != answer
            and text not in out
            and any(a != b for a, b in zip(tokens, NUMBER.findall(text), strict=False))
        ):
            out.append(text)
    return out


def mc_items(limit: int | None, seed: int = 0) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (HELPCENTER / "eval.jsonl").read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r["sources"] and NUMBER.search(r["answer"])]
    pool: dict[str, list[str]] = {"$": [], "%": [], "n": []}
    for r in rows:
        for token in NUMBER.findall(r["answer"]):
            if token not in pool[shape(token)]:
                pool[shape(token)].append(token)
    rng = random.Random(seed)
    items = []
    for r in rows[:limit] if limit else rows:
        wrong = distractors(r["answer"], pool, rng)
        if len(wrong) < 3:
            continue
        options = [r["answer"], *wrong]
        rng.shuffle(options)
        items.append({**r, "options": options, "correct": options.index(r["answer"])})
    return items


def change_items(items: list[dict[str, Any]], pool_rng: random.Random) -> list[dict[str, Any]]:
    """The changed questions with one option set for both sides: old fact, new fact and two distractors."""
    change = json.loads((CHANGE / "change.json").read_text())
    by_id = {i["id"]: i for i in items}
    out = []
    for q in change["affected_questions"]:
        base = by_id.get(q["id"])
        others = [o for o in (base["options"] if base else []) if o not in (q["old_answer"], q["new_answer"])][:2]
        options = [q["old_answer"], q["new_answer"], *others]
        pool_rng.shuffle(options)
        out.append(
            {**q, "options": options, "old": options.index(q["old_answer"]), "new": options.index(q["new_answer"])}
        )
    return out


# --- scoring -----------------------------------------------------------------------------------------------------


def option_scores(gen: Any, prompt: list[dict[str, str]], options: list[str]) -> list[float]:
    """Mean log-probability per token of each option after ``prompt`` (one padded forward pass)."""
    import torch

    head = gen.prompt_ids(prompt)
    tails = [gen.tokenizer(o, add_special_tokens=False)["input_ids"] for o in options]
    rows = [head + t for t in tails]
    width = max(len(r) for r in rows)
    pad = gen.tokenizer.pad_token_id or 0
    ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    with torch.inference_mode():
        logits = gen.model(input_ids=ids, attention_mask=mask).logits.float()
    logp = torch.log_softmax(logits[:, :-1], dim=-1)
    scores = []
    for i, tail in enumerate(tails):
        positions = range(len(head) - 1, len(head) - 1 + len(tail))
        scores.append(float(sum(logp[i, p, ids[i, p + 1]] for p in positions)) / max(1, len(tail)))
    return scores


def prompt_for(strategy: Any, question: str, at: int | None = None) -> list[dict[str, str]]:
    """The messages the strategy's pipeline would send the model for ``question`` (retrieval included)."""
    pipe = strategy.pipeline
    prep = pipe._prepare([{"role": "user", "content": question}], pipe.options, at, None)
    return list(prep.prompt)


def evaluate(strategy: Any, items: list[dict[str, Any]], key: str = "correct", at: int | None = None) -> dict[str, Any]:
    from ragtune.evaluate.metrics.bootstrap import bootstrap_ci

    hits, seconds, tokens = [], [], []
    gen = strategy.pipeline.generator
    for item in items:
        t = time.perf_counter()
        prompt = prompt_for(strategy, item["question"], at)
        scores = option_scores(gen, prompt, item["options"])
        seconds.append(time.perf_counter() - t)
        tokens.append(len(gen.prompt_ids(prompt)))
        hits.append(float(max(range(len(scores)), key=scores.__getitem__) == item[key]))
    ci = bootstrap_ci(hits, n_resamples=2000, seed=0)
    return {
        "accuracy": ci.estimate,
        "ci": [ci.low, ci.high],
        "n": len(hits),
        "hits": hits,
        "seconds_per_question": sum(seconds) / len(seconds),
        "prompt_tokens": sum(tokens) / len(tokens),
    }


# --- training data -----------------------------------------------------------------------------------------------


def paraphrases(gen: Any, items: list[dict[str, Any]], k: int, seed: int = 0) -> tuple[dict[str, list[str]], int]:
    """``k`` rewordings of each question by the model (sampled); template rewordings fill any gap (counted)."""
    from ragtune.llm.base import GenerationOptions
    from ragtune.text import STOPWORDS, WORD

    def words(t: str) -> set[str]:
        return {w for w in WORD.findall(t.lower()) if w not in STOPWORDS}

    out: dict[str, list[str]] = {i["id"]: [] for i in items}
    for attempt in range(4):
        todo = [i for i in items if len(out[i["id"]]) < k]
        if not todo:
            break
        prompts = [
            [
                {
                    "role": "user",
                    "content": f"Rewrite this question in different words, keeping its meaning:\n{i['question']}",
                }
            ]
            for i in todo
            for _ in range(k - len(out[i["id"]]) + 1)
        ]
        owners = [i for i in todo for _ in range(k - len(out[i["id"]]) + 1)]
        opts = GenerationOptions(max_new_tokens=40, temperature=0.9, top_p=0.95, seed=seed + attempt, stop=["\n"])
        for owner, g in zip(owners, gen.generate_batch(prompts, opts), strict=True):
            text = g.text.strip().strip('"').strip()
            got = out[owner["id"]]
            ok = (
                text.endswith("?")
                and 4 <= len(text.split()) <= 30
                and text.lower() != owner["question"].lower()
                and text not in got
                and words(text) & words(owner["question"])
            )
            if ok and len(got) < k:
                got.append(text)
    fallback = 0
    templates = ["Quick question: {q}", "Could you tell me this: {q}", "I'd like to know: {q}", "Help please. {q}"]
    for i in items:
        while len(out[i["id"]]) < k:
            out[i["id"]].append(templates[len(out[i["id"]]) % len(templates)].format(q=i["question"]))
            fallback += 1
    return out, fallback


def chat(question: str, answer: str) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
    }


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--from-compare", type=Path, default=None, help="reuse make compare's ft and RAFT adapters")
    parser.add_argument("--paraphrases", default="1,4,10")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions")
    parser.add_argument("--work", type=Path, default=None, help="keep the KB, data and adapters here")
    args = parser.parse_args()

    from ragtune import KnowledgeBase
    from ragtune.cli.main import cli
    from ragtune.llm.registry import load_generator
    from ragtune.rag.strategies import load_strategies
    from ragtune.tune.training.config import TrainConfig
    from ragtune.tune.training.train import train

    work = args.work or Path(tempfile.mkdtemp(prefix="ragtune-ki-"))
    work.mkdir(parents=True, exist_ok=True)
    kb_dir = work / ".ragtune"
    shutil.rmtree(kb_dir, ignore_errors=True)
    docs = work / "docs"
    shutil.rmtree(docs, ignore_errors=True)
    shutil.copytree(HELPCENTER / "docs", docs)
    kb = KnowledgeBase.open(kb_dir, create=True, settings=common.settings())
    kb.ingest([docs])
    items = mc_items(args.limit)
    changed = change_items(items, random.Random(1))
    print(f"{len(items)} multiple-choice questions; {len(changed)} change questions", flush=True)

    config = TrainConfig(
        num_epochs=args.epochs, learning_rate=1e-3, batch_size=8, max_length=384, lora_rank=16, lora_alpha=32,
        target_modules="q_proj,v_proj", precision="fp32", val_share=0.0, eval_strategy="no", save_steps=10_000,
    )  # fmt: skip
    timings: dict[str, float] = {}

    def fit(name: str, data: Path) -> Any:
        t = time.perf_counter()
        r = train(data, "smollm2", config, name=name, kb_dir=kb_dir, quiet=True, track=False)
        timings[name] = time.perf_counter() - t
        print(f"trained {name} on {data.name} in {timings[name]:.0f} s", flush=True)
        return r

    def run_cli(*argv: str) -> None:
        cli.main(list(argv), prog_name="ragtune", standalone_mode=False)

    # Training data: structural Q/A pairs and RAFT examples from the docs; paraphrased facts.
    run_cli("data", "build", "--kb", str(kb_dir), "--out", str(work / "qa.jsonl"), "--system", SYSTEM)
    run_cli("data", "build", "--kb", str(kb_dir), "--raft", "--k", "2", "--base", "smollm2",
            "--out", str(work / "raft.jsonl"))  # fmt: skip
    base_gen = load_generator("smollm2")
    ks = [int(k) for k in args.paraphrases.split(",")]
    t = time.perf_counter()
    para, fallback = paraphrases(base_gen, items, max(ks))
    timings["paraphrasing"] = time.perf_counter() - t
    print(f"paraphrases: {sum(len(v) for v in para.values())} ({fallback} from templates) in "
          f"{timings['paraphrasing']:.0f} s", flush=True)  # fmt: skip
    (work / "paraphrases.json").write_text(json.dumps(para, indent=1))
    if args.from_compare is not None:
        from ragtune.tune.registry import ModelRegistry

        with ModelRegistry.open(args.from_compare / ".ragtune") as theirs, ModelRegistry.open(kb_dir) as ours:
            for mine, name in (("ki-ft-qa", "smollm2-ft"), ("ki-raft", "smollm2-raft")):
                model = theirs.get(name)
                model.name = mine
                ours.register(model, replace=True)
                run_metrics = json.loads((Path(model.path).parent / "metrics.json").read_text())
                timings[mine] = float(run_metrics["train_seconds"])
                print(f"reusing {name} from {args.from_compare} as {mine}", flush=True)
    else:
        fit("ki-ft-qa", work / "qa.jsonl")
        fit("ki-raft", work / "raft.jsonl")
    for k in ks:
        rows = [chat(q, i["answer"]) for i in items for q in para[i["id"]][:k]]
        fit(f"ki-ft-para-{k}", write(work / f"para-{k}.jsonl", rows))

    conditions = {
        "base": ("smollm2", False),
        "ft-qa": ("ft:ki-ft-qa", False),
        **{f"ft-para-{k}": (f"ft:ki-ft-para-{k}", False) for k in ks},
        "rag": ("smollm2", True),
        "ft+rag": (f"ft:ki-ft-para-{max(ks)}", True),
        "raft+rag": ("ft:ki-raft", True),
    }
    config_toml = {"strategies": {n: {"generator": g, "retrieve": r} for n, (g, r) in conditions.items()}}
    from ragtune.rag.strategies import with_model_defaults

    for name, (g, r) in conditions.items():
        table = with_model_defaults("smollm2", {}, {"generator": g, "retrieve": r})
        if not r:
            table = {k: v for k, v in table.items() if k not in ("k", "template", "source_tokens")}
        config_toml["strategies"][name] = table
    strategies = load_strategies(kb, config=config_toml)
    results: dict[str, Any] = {}
    for name in conditions:
        res = evaluate(strategies[name], items)
        before = evaluate(strategies[name], changed, key="old")
        results[name] = {**res, "change_before": before["accuracy"]}
        low, high = res["ci"]
        tokens, secs = res["prompt_tokens"], res["seconds_per_question"]
        print(
            f"{name:>12}: accuracy {res['accuracy']:.3f} [{low:.3f}, {high:.3f}]  {tokens:.0f} tokens  {secs:.2f} s/q"
        )
    # The change: edited page re-ingested (RAG sees it at once); fine-tuned weights stay as trained.
    for rel in json.loads((CHANGE / "change.json").read_text())["files"]:
        shutil.copyfile(CHANGE / "docs" / rel, docs / rel)
    kb.ingest([docs])
    for name in conditions:
        after_new = evaluate(strategies[name], changed, key="new")
        after_old = evaluate(strategies[name], changed, key="old")
        results[name].update(change_after_new=after_new["accuracy"], change_after_old=after_old["accuracy"])
    common.write_result(
        "knowledge_injection",
        {
            "model": "smollm2 (SmolLM2-135M-Instruct)",
            "questions": len(items),
            "change_questions": len(changed),
            "train": {"epochs": args.epochs, "lora": "q_proj,v_proj r16", "lr": 1e-3, "precision": "fp32"},
            "train_seconds": {k: round(v, 1) for k, v in timings.items()},
            "paraphrase_fallbacks": fallback,
            "examples": {p.stem: sum(1 for _ in p.open()) for p in sorted(work.glob("*.jsonl"))},
            "published": PUBLISHED,
            "results": {k: {kk: vv for kk, vv in v.items() if kk != "hits"} for k, v in results.items()},
            "hits": {k: v["hits"] for k, v in results.items()},
        },
    )


if __name__ == "__main__":
    main()
