"""Calibrate the extractive answerer's ``min_score`` on SQuAD v1.1, and report it on held-out questions.

Each sampled question gives three cases, four passages each:

- answerable: its own (gold) paragraph ranked first, then the three other paragraphs of its article most
  similar to the question (dense cosine; the gold paragraph is moved to the top, not left where it ranked);
- easy negative: four random paragraphs of a *different* article (the original calibration);
- hard negative: the four paragraphs of the *same* article most similar to the question, leaving out the
  gold paragraph and every paragraph that contains a gold answer (SQuAD normalisation) — on topic, but
  without the answer, like a knowledge base retrieving near misses for a question it cannot answer.

Articles are split in halves by seed. The threshold maximising balanced accuracy (answered when
answerable, declined when not) is chosen on questions from one half, against each kind of negative, and
reported on questions from the other half, next to a few fixed thresholds so the trade-off shows. On
answerable cases it also reports how often the top sentence contains a gold answer.

Reads ``../shared/data/squad-dev-even`` relative to the repository root; skips when it is absent.

    .venv/bin/python benchmarks/calibrate_extractive.py [--n 250] [--seed 0]
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
_NO_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(s: str) -> str:
    """SQuAD v1.1: lowercase, drop punctuation and articles, collapse whitespace."""
    s = s.lower().translate(_NO_PUNCTUATION)
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


@dataclass
class Case:
    question: str
    passages: list[str]
    answerable: bool
    answers: list[str]
    kind: str  # "answerable", "easy" (another article's paragraphs) or "hard" (same article, answer removed)


def contains_gold(text: str, answers: list[str]) -> bool:
    norm = normalize_answer(text)
    return any(normalize_answer(a) and normalize_answer(a) in norm for a in answers)


def build_cases(
    articles: list[dict],
    para_vecs: list[np.ndarray],
    embed_questions: Callable[[list[str]], np.ndarray],
    n: int,
    rng: random.Random,
) -> list[Case]:
    """``n`` questions from ``articles`` (at least two), each giving three cases.

    - answerable: the gold paragraph first, then the top three other paragraphs of its article by dense
      similarity to the question (the gold paragraph is put first, not left at its retrieved position);
    - easy negative: four random paragraphs of a different article;
    - hard negative: the top four paragraphs of the same article by dense similarity to the question,
      leaving out the gold paragraph and every paragraph that contains a gold answer (normalised).
    """
    questions = [
        (a, p, qa) for a, art in enumerate(articles) for p, para in enumerate(art["paragraphs"]) for qa in para["qas"]
    ]
    rng.shuffle(questions)
    normalized: dict[int, list[str]] = {}
    cases: list[Case] = []
    taken = 0
    for i, (a, p, qa) in enumerate(questions):
        if taken == n:
            break
        if i % n == 0:  # the questions' vectors, a batch of n at a time
            batch = embed_questions([x[2]["question"] for x in questions[i : i + n]])
        answers = [x["text"] for x in qa["answers"]]
        paras = [x["context"] for x in articles[a]["paragraphs"]]
        sims = para_vecs[a] @ batch[i % n]
        ranked = [int(j) for j in np.argsort(-sims, kind="stable")]
        others = [j for j in ranked if j != p]
        if a not in normalized:
            normalized[a] = [normalize_answer(x) for x in paras]
        gold = [g for g in (normalize_answer(x) for x in answers) if g]
        hard = [j for j in others if not any(g in normalized[a][j] for g in gold)][: OTHER_PASSAGES + 1]
        if len(hard) < OTHER_PASSAGES + 1:
            continue
        taken += 1
        q = qa["question"]
        cases.append(Case(q, [paras[p]] + [paras[j] for j in others[:OTHER_PASSAGES]], True, answers, "answerable"))
        b = rng.choice([j for j in range(len(articles)) if j != a])
        foreign = [x["context"] for x in articles[b]["paragraphs"]]
        cases.append(Case(q, rng.sample(foreign, min(OTHER_PASSAGES + 1, len(foreign))), False, answers, "easy"))
        cases.append(Case(q, [paras[j] for j in hard], False, answers, "hard"))
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


FIXED_THRESHOLDS = (0.37, 0.45, 0.5, 0.55, 0.6)


def rates(pos: np.ndarray, neg: np.ndarray, t: float) -> tuple[float, float, float]:
    """Balanced accuracy, answered-when-answerable and declined-when-unanswerable at threshold ``t``."""
    tpr, tnr = float((pos >= t).mean()), float((neg < t).mean())
    return (tpr + tnr) / 2, tpr, tnr


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=250, help="questions per split (each: answerable, easy, hard case)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--latency", type=int, default=30, help="uncached answers timed on the held-out split")
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

    embedder = load_embedder()
    # Each article's paragraphs are embedded once, for ranking them against its questions (hard negatives).
    t0 = time.perf_counter()
    flat = embedder.embed([p["context"] for art in articles for p in art["paragraphs"]])
    bounds = np.cumsum([0] + [len(art["paragraphs"]) for art in articles])
    para_vecs = [flat[bounds[i] : bounds[i + 1]] for i in range(len(articles))]
    print(f"embedded {len(flat)} paragraphs in {time.perf_counter() - t0:.1f} s")

    def split(ids: list[int]) -> list[Case]:
        return build_cases([articles[i] for i in ids], [para_vecs[i] for i in ids], embedder.embed, args.n, rng)

    calib, held = split(order[:half]), split(order[half:])

    cached = CachedEmbed(embedder.embed)
    answerer = ExtractiveAnswerer(cached)

    # Record every text the answerer will embed, then embed them in large batches once; the three cases
    # of a question share its text, and an answerable and a hard case share most of their paragraphs.
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

    def best(scored: list, kind: str, weights: tuple[float, float, float] | None = None) -> np.ndarray:
        """The best sentence score per case of ``kind``; ``weights`` re-blends its parts."""
        out = []
        for c, sents in scored:
            if c.kind != kind:
                continue
            if weights is None:
                out.append(sents[0].score if sents else 0.0)
            else:
                wc, wl, wr = weights
                prior = [1.0 / (1 + r) for r in range(len(c.passages))]
                out.append(max((wc * s.cosine + wl * s.lexical + wr * prior[s.passage] for s in sents), default=0))
        return np.asarray(out)

    n_cal = sum(c.kind == "answerable" for c in calib)
    n_held = sum(c.kind == "answerable" for c in held)
    print(f"\n{n_cal} calibration and {n_held} held-out questions (articles split in halves by seed {args.seed});")
    print("each gives an answerable case and two unanswerable ones (easy: another article; hard: same article,")
    print("top-4 paragraphs by similarity without the gold paragraph or any paragraph holding a gold answer).")

    print("\nSeparation on the calibration split (ROC AUC of the best sentence score, answerable vs not):")
    print("| scoring | AUC easy | AUC hard |\n|---|---|---|")
    for name, w in [
        ("cosine only", (1.0, 0.0, 0.0)),
        ("lexical overlap only", (0.0, 1.0, 0.0)),
        ("the answerer's blend (0.7 cos + 0.3 lex + 0.05 rank prior)", None),
    ]:
        pos = best(calib_scored, "answerable", w)
        row = [auc(pos, best(calib_scored, k, w)) for k in ("easy", "hard")]
        print(f"| {name} | {row[0]:.3f} | {row[1]:.3f} |")

    pos_cal, pos = best(calib_scored, "answerable"), best(held_scored, "answerable")
    chosen = {k: best_threshold(pos_cal, best(calib_scored, k)) for k in ("easy", "hard")}
    print("\nThresholds chosen on the calibration split (max balanced accuracy against each kind of negative):")
    print("| negatives | min_score | balanced accuracy (calibration) |\n|---|---|---|")
    for k, (t, acc) in chosen.items():
        print(f"| {k} | {t:.3f} | {acc:.3f} |")

    print(f"\nHeld-out split ({n_held} questions, other articles):\n")
    print("| min_score | answered when answerable | declined easy | declined hard | bal. acc. easy | bal. acc. hard |")
    print("|---|---|---|---|---|---|")
    neg = {k: best(held_scored, k) for k in ("easy", "hard")}
    rows = [(f"{t:.3f} (chosen on {k})", t) for k, (t, _) in chosen.items()]
    rows += [(f"{t:.2f}", t) for t in FIXED_THRESHOLDS]
    for label, t in rows:
        (be, tpr, tne), (bh, _, tnh) = rates(pos, neg["easy"], t), rates(pos, neg["hard"], t)
        print(f"| {label} | {tpr:.3f} | {tne:.3f} | {tnh:.3f} | {be:.3f} | {bh:.3f} |")
    print(f"\nHeld-out ROC AUC of the best score: easy {auc(pos, neg['easy']):.3f}, hard {auc(pos, neg['hard']):.3f}")

    t = answerer.min_score = chosen["hard"][0]
    answerable = [(c, s) for c, s in held_scored if c.kind == "answerable" and s]
    top_gold = np.mean([contains_gold(s[0].text, c.answers) for c, s in answerable])
    top_own = np.mean([s[0].passage == 0 for c, s in answerable])
    answers = [answerer.answer(c.question, c.passages) for c, _ in answerable]
    ans_gold = np.mean(
        [contains_gold(r.text, c.answers) for (c, _), r in zip(answerable, answers, strict=True) if r.answered]
    )
    print(f"\nOn held-out answerable cases, at min_score = {t:.3f} (chosen on hard negatives):\n")
    print("| metric | value |\n|---|---|")
    print(f"| top sentence contains a gold answer | {top_gold:.3f} |")
    print(f"| top sentence from the question's own paragraph | {top_own:.3f} |")
    print(f"| answer text contains a gold answer (answered cases) | {ans_gold:.3f} |")

    # Latency: uncached, one embed call per answer, as in use.
    live = ExtractiveAnswerer(embedder.embed)
    embed_s: list[float] = []

    def timed(texts: list[str]) -> np.ndarray:
        t0 = time.perf_counter()
        v = embedder.embed(texts)
        embed_s.append(time.perf_counter() - t0)
        return v

    live.embed = timed
    total, sizes = [], []
    for c in [c for c in held if c.kind == "answerable"][: args.latency]:
        t0 = time.perf_counter()
        r = live.answer(c.question, c.passages)
        total.append(time.perf_counter() - t0)
        sizes.append(r.candidates + 1)
    if total:
        tot, emb = np.asarray(total) * 1000, np.asarray(embed_s) * 1000
        print(f"\nLatency over {len(total)} answers ({np.mean(sizes):.0f} texts per embed call on average):")
        print("| | median ms | p90 ms |\n|---|---|---|")
        print(f"| whole answer | {np.median(tot):.1f} | {np.percentile(tot, 90):.1f} |")
        print(f"| the one embed call | {np.median(emb):.1f} | {np.percentile(emb, 90):.1f} |")
        print(f"| everything else | {np.median(tot - emb):.2f} | {np.percentile(tot - emb, 90):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
