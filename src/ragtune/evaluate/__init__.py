"""Evaluation: eval sets, answer and retrieval metrics, bootstrap intervals, cost model, comparison."""

from ragtune.evaluate.evalset import EvalItem, build_eval_set, read_eval_set, write_eval_set
from ragtune.evaluate.report import print_summary_table, render_table, write_report

__all__ = [
    "EvalItem",
    "build_eval_set",
    "print_summary_table",
    "read_eval_set",
    "render_table",
    "write_eval_set",
    "write_report",
]
