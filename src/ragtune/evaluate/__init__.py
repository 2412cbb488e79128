"""Evaluation: eval sets, answer and retrieval metrics, bootstrap intervals, cost model, comparison."""
