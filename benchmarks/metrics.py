"""The benchmarks' metrics, now defined in :mod:`ragtune.evaluate` (one place); re-exported for the scripts."""

from __future__ import annotations

from ragtune.evaluate.metrics.answer import squad_normalize
from ragtune.evaluate.metrics.retrieval import dcg, mrr_at_k, ndcg_at_k, recall_at_k
from ragtune.evaluate.metrics.retrieval import evaluate_retrieval as evaluate

__all__ = ["dcg", "evaluate", "mrr_at_k", "ndcg_at_k", "recall_at_k", "squad_normalize"]
