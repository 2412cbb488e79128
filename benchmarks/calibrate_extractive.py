"""Calibrate the extractive answerer's ``min_score`` on SQuAD v1.1, and report it on held-out questions.

Answerable case: a question with its own paragraph ranked first and three other paragraphs of the same
article below it. Unanswerable case: the same kind of question with four paragraphs of a *different*
article. The threshold maximising balanced accuracy (answered when answerable, declined when not) is
chosen on questions from half the articles and reported on questions from the other half. On answerable
cases it also reports how often the top sentence contains a gold answer (SQuAD normalisation).

Reads ``../shared/data/squad-dev-even`` relative to the repository root; skips when it is absent.

    .venv/bin/python benchmarks/calibrate_extractive.py [--n 300] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import string
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "squad-dev-even" / "dev-v1.1-even-articles.json"
OTHER_PASSAGES = 3


def normalize_answer(s: str) -> str:
    """SQuAD v1.1: lowercase, drop punctuation and articles, collapse whitespace."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


@dataclass
class Case:
    question: str
    passages: list[str]
    answerable: bool
    answers: list[str]


def build_cases(articles: list[dict], n: int, rng: random.Random) -> list[Case]:
    """``n`` answerable and ``n`` unanswerable cases from ``articles`` (at least two)."""
    questions = [
        (a, p, qa) for a, art in enumerate(articles) for p, para in enumerate(art["paragraphs"]) for qa in para["qas"]
    ]
    picked = rng.sample(questions, 2 * n)
    cases = []
    for i, (a, p, qa) in enumerate(picked):
        answers = [x["text"] for x in qa["answers"]]
        paras = [x["context"] for x in articles[a]["paragraphs"]]
        if i < n:
            others = [c for j, c in enumerate(paras) if j != p]
            passages = [paras[p], *rng.sample(others, min(OTHER_PASSAGES, len(others)))]
            cases.append(Case(qa["question"], passages, True, answers))
        else:
            b = rng.choice([j for j in range(len(articles)) if j != a])
            foreign = [x["context"] for x in articles[b]["paragraphs"]]
            passages = rng.sample(foreign, min(OTHER_PASSAGES + 1, len(foreign)))
            cases.append(Case(qa["question"], passages, False, answers))
    return cases


class CachedEmbed:
    """Embeds each distinct text once (the sweep re-scores the same sentences many times)."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray]) -> None:
        self.embed = embed
        self.cache: dict[str, np.ndarray] = {}

    def warm(self, texts: list[str]) -> None:
        todo = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if todo:
            for t, v in zip(todo, self.embed(todo), strict=True):
                self.cache[t] = v

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.warm(texts)
        return np.stack([self.cache[t] for t in texts])


def best_threshold(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float]:
    """The threshold (answer when best score ≥ t) with the highest balanced accuracy, and that accuracy."""
    cands = np.unique(np.concatenate([pos, neg]))
    best_t, best_acc = 0.0, -1.0
    for t in cands:
        acc = ((pos >= t).mean() + (neg < t).mean()) / 2
        if acc > best_acc:
            best_t, best_acc = float(t), float(acc)
    # Midway to the next lower score: the boundary sits in the gap, not on a data point.
    lower = cands[cands < best_t]
    if lower.size:
        best_t = (best_t + float(lower.max())) / 2
    return best_t, best_acc


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    return float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300, help="answerable (and as many unanswerable) cases per split")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--latency", type=int, default=50, help="uncached answers timed on the held-out split")
    args = ap.parse_args()
    if not DATA.exists():
        print(f"skipped: {DATA} not found (the shared evaluation data is not present)")
        return 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(ROOT / "src"))
    from ragtune.embed import load_embedder
    from ragtune.llm.extractive import ExtractiveAnswerer

    articles = json.loads(DATA.read_text())["data"]
    rng = random.Random(args.seed)
    order = list(range(len(articles)))
    rng.shuffle(order)
    half = len(order) // 2
    calib = build_cases([articles[i] for i in order[:half]], args.n, rng)
    held = build_cases([articles[i] for i in order[half:]], args.n, rng)

    embedder = load_embedder()
    cached = CachedEmbed(embedder.embed)
    answerer = ExtractiveAnswerer(cached)

    # Record every text the answerer will embed, then embed them in large batches once.
    recorded: list[str] = []

    def record(texts: list[str]) -> np.ndarray:
        recorded.extend(texts)
        return np.ones((len(texts), 1), dtype=np.float32)

    recorder = ExtractiveAnswerer(record)
    for c in calib + held:
        recorder.score(c.question, c.passages)
    t0 = time.perf_counter()
    cached.warm(recorded)
    print(f"embedded {len(cached.cache)} distinct texts in {time.perf_counter() - t0:.1f} s")

    def run(cases: list[Case]) -> list[tuple[Case, list]]:
        return [(c, answerer.score(c.question, c.passages)[0]) for c in cases]

    calib_scored, held_scored = run(calib), run(held)

    def best(scored: list, answerable: bool, weights: tuple[float, float, float] | None = None) -> np.ndarray:
        out = []
        for c, sents in scored:
            if c.answerable != answerable:
                continue
            if weights is None:
                out.append(sents[0].score if sents else 0.0)
            else:
                wc, wl, wr = weights
                prior = [1.0 / (1 + r) for r in range(len(c.passages))]
                out.append(max((wc * s.cosine + wl * s.lexical + wr * prior[s.passage] for s in sents), default=0))
        return np.asarray(out)

    print("\nSeparation on the calibration split (ROC AUC of the best sentence score, answerable vs not):")
    print("| scoring | AUC |\n|---|---|")
    for name, w in [
        ("cosine only", (1.0, 0.0, 0.0)),
        ("lexical overlap only", (0.0, 1.0, 0.0)),
        ("default blend (0.7 cos + 0.3 lex + 0.05 rank prior)", None),
    ]:
        print(f"| {name} | {auc(best(calib_scored, True, w), best(calib_scored, False, w)):.3f} |")

    t, acc_cal = best_threshold(best(calib_scored, True), best(calib_scored, False))
    pos, neg = best(held_scored, True), best(held_scored, False)
    tpr, tnr = float((pos >= t).mean()), float((neg < t).mean())

    def contains_gold(text: str, answers: list[str]) -> bool:
        norm = normalize_answer(text)
        return any(normalize_answer(a) and normalize_answer(a) in norm for a in answers)

    answerable = [(c, s) for c, s in held_scored if c.answerable and s]
    top_gold = np.mean([contains_gold(s[0].text, c.answers) for c, s in answerable])
    top_own = np.mean([s[0].passage == 0 for c, s in answerable])
    answerer.min_score = t
    answered = [(c, s) for c, s in answerable if s[0].score >= t]
    ans_gold = np.mean([contains_gold(answerer.answer(c.question, c.passages).text, c.answers) for c, _ in answered])

    print(f"\nThreshold chosen on the calibration split ({args.n} + {args.n} cases): min_score = {t:.3f}")
    print(f"(balanced accuracy there {acc_cal:.3f})\n")
    print(f"Held-out split ({args.n} + {args.n} cases, other articles), at min_score = {t:.3f}:\n")
    print("| metric | value |\n|---|---|")
    print(f"| balanced accuracy (answered vs declined) | {(tpr + tnr) / 2:.3f} |")
    print(f"| answered when answerable | {tpr:.3f} |")
    print(f"| declined when unanswerable | {tnr:.3f} |")
    print(f"| ROC AUC of best score | {auc(pos, neg):.3f} |")
    print(f"| top sentence contains a gold answer (answerable) | {top_gold:.3f} |")
    print(f"| top sentence from the question's own paragraph | {top_own:.3f} |")
    print(f"| answer text contains a gold answer (answered cases) | {ans_gold:.3f} |")

    # Latency: uncached, one embed call per answer, as in use.
    live = ExtractiveAnswerer(embedder.embed, min_score=t)
    embed_s: list[float] = []

    def timed(texts: list[str]) -> np.ndarray:
        t0 = time.perf_counter()
        v = embedder.embed(texts)
        embed_s.append(time.perf_counter() - t0)
        return v

    live.embed = timed
    total, sizes = [], []
    for c in held[: args.latency]:
        t0 = time.perf_counter()
        r = live.answer(c.question, c.passages)
        total.append(time.perf_counter() - t0)
        sizes.append(r.candidates + 1)
    tot, emb = np.asarray(total) * 1000, np.asarray(embed_s) * 1000
    print(f"\nLatency over {len(total)} answers ({np.mean(sizes):.0f} texts per embed call on average):")
    print("| | median ms | p90 ms |\n|---|---|---|")
    print(f"| whole answer | {np.median(tot):.1f} | {np.percentile(tot, 90):.1f} |")
    print(f"| the one embed call | {np.median(emb):.1f} | {np.percentile(emb, 90):.1f} |")
    print(f"| everything else | {np.median(tot - emb):.2f} | {np.percentile(tot - emb, 90):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
