"""Retrieval metrics as BEIR computes them (pytrec_eval semantics), written out so they can be checked.

- nDCG@k: DCG = Σ_{i=1..k} rel_i / log2(i + 1) with graded relevance (gain = the grade, not 2^grade - 1,
  as trec_eval's ndcg_cut), normalized by the DCG of the ideal ordering of the judged documents.
- Recall@k: judged relevant documents (grade > 0) among the top k, over all judged relevant ones.
Queries without any relevant judgment are skipped (as BEIR does); the mean is over the remaining ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def dcg(gains: Sequence[float]) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k of one ranked list of doc ids against graded judgments (doc id → grade)."""
    ideal = sorted((g for g in qrels.values() if g > 0), reverse=True)[:k]
    if not ideal:
        return 0.0
    seen: set[str] = set()
    gains = []
    for d in ranked:
        if d in seen:  # a document counts once, at its best rank
            continue
        seen.add(d)
        gains.append(max(qrels.get(d, 0), 0))
        if len(gains) == k:
            break
    return dcg(gains) / dcg(ideal)


def recall_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int = 100) -> float:
    relevant = {d for d, g in qrels.items() if g > 0}
    if not relevant:
        return 0.0
    top = set(list(dict.fromkeys(ranked))[:k])
    return len(relevant & top) / len(relevant)


def mrr_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int = 10) -> float:
    for i, d in enumerate(list(dict.fromkeys(ranked))[:k], start=1):
        if qrels.get(d, 0) > 0:
            return 1.0 / i
    return 0.0


def evaluate(
    runs: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]], k_ndcg: int = 10, k_recall: int = 100
) -> dict[str, float]:
    """Mean nDCG@k, Recall@k and MRR@10 over the judged queries (a query with no run scores 0)."""
    judged = [q for q, rels in qrels.items() if any(g > 0 for g in rels.values())]
    if not judged:
        return {f"ndcg@{k_ndcg}": 0.0, f"recall@{k_recall}": 0.0, "mrr@10": 0.0, "queries": 0}
    n = len(judged)
    return {
        f"ndcg@{k_ndcg}": sum(ndcg_at_k(runs.get(q, []), qrels[q], k_ndcg) for q in judged) / n,
        f"recall@{k_recall}": sum(recall_at_k(runs.get(q, []), qrels[q], k_recall) for q in judged) / n,
        "mrr@10": sum(mrr_at_k(runs.get(q, []), qrels[q], 10) for q in judged) / n,
        "queries": n,
    }


_ARTICLES = {"a", "an", "the"}


def squad_normalize(text: str) -> str:
    """SQuAD v1.1 answer normalization: lowercase, drop punctuation and articles, collapse whitespace."""
    import re
    import string

    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())
