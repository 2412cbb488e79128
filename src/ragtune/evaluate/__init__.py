"""Evaluation: eval sets, answer and retrieval metrics, bootstrap intervals, cost model, comparison."""

from ragtune.evaluate.evalset import EvalItem, build_eval_set, read_eval_set, write_eval_set
