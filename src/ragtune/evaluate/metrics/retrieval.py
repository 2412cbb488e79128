"""Retrieval metrics as BEIR computes them (pytrec_eval semantics), written out so they can be checked.

- nDCG@k: DCG = Σ_{i=1..k} rel_i / log2(i + 1) with graded relevance (gain = the grade, not 2^grade - 1,
  as trec_eval's ndcg_cut), normalized by the DCG of the ideal ordering of the judged documents.
- Recall@k: judged relevant documents (grade > 0) among the top k, over all judged relevant ones.
- MRR@k: 1 / rank of the first relevant document within the top k, else 0.

Rankings are lists of document ids, possibly with repeats: a RAG retriever returns *chunks*, several of
which may come from one document. A document counts once, at its first (best) rank, and the ranks of the
documents after it move up; this is what a reader of the passages sees (a second chunk of a document
already seen adds no new source).

Queries without any relevant judgment are skipped by :func:`evaluate_retrieval` (as BEIR does), and
:func:`retrieval_scores` returns ``None`` for them (an unanswerable question has no right source).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

Relevance = Mapping[str, int] | Iterable[str]


def _grades(relevant: Relevance) -> dict[str, int]:
    """Doc id → grade; a plain collection of ids means grade 1 each."""
    if isinstance(relevant, Mapping):
        return {str(k): int(v) for k, v in relevant.items()}
    return {str(d): 1 for d in relevant}


def first_occurrences(ranked: Sequence[str]) -> list[str]:
    """The ranked ids with repeats removed, each kept at its first rank (chunk ranks → document ranks)."""
    return list(dict.fromkeys(ranked))


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain of gains in rank order (rank 1 is undiscounted)."""
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg_at_k(ranked: Sequence[str], qrels: Relevance, k: int = 10) -> float:
    """nDCG@k of one ranked list of doc ids against graded judgments (doc id → grade) or a set of ids."""
    grades = _grades(qrels)
    ideal = sorted((g for g in grades.values() if g > 0), reverse=True)[:k]
    if not ideal:
        return 0.0
    gains = [max(grades.get(d, 0), 0) for d in first_occurrences(ranked)[:k]]
    return dcg(gains) / dcg(ideal)


def recall_at_k(ranked: Sequence[str], qrels: Relevance, k: int = 100) -> float:
    """Share of the relevant documents found among the first ``k`` distinct documents."""
    grades = _grades(qrels)
    relevant = {d for d, g in grades.items() if g > 0}
    if not relevant:
        return 0.0
    top = set(first_occurrences(ranked)[:k])
    return len(relevant & top) / len(relevant)


def mrr_at_k(ranked: Sequence[str], qrels: Relevance, k: int = 10) -> float:
    """Reciprocal rank of the first relevant document among the first ``k`` distinct ones (0 if none)."""
    grades = _grades(qrels)
    for i, d in enumerate(first_occurrences(ranked)[:k], start=1):
        if grades.get(d, 0) > 0:
            return 1.0 / i
    return 0.0


def retrieval_scores(
    ranked: Sequence[str], relevant: Relevance, ks: Sequence[int] = (1, 5, 10), ndcg_k: int = 10
) -> dict[str, float | None]:
    """Per-question ``recall@k`` for each k, ``mrr`` (MRR@10) and ``ndcg@{ndcg_k}``.

    All values are ``None`` when nothing is relevant (an unanswerable question), so a mean skips them.
    """
    grades = _grades(relevant)
    keys = [f"recall@{k}" for k in ks] + ["mrr", f"ndcg@{ndcg_k}"]
    if not any(g > 0 for g in grades.values()):
        return dict.fromkeys(keys, None)
    out: dict[str, float | None] = {f"recall@{k}": recall_at_k(ranked, grades, k) for k in ks}
    out["mrr"] = mrr_at_k(ranked, grades, 10)
    out[f"ndcg@{ndcg_k}"] = ndcg_at_k(ranked, grades, ndcg_k)
    return out


def evaluate_retrieval(
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
