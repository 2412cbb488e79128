"""Evaluation: eval sets (:mod:`.evalset`), metrics (:mod:`.metrics`), the comparison run (:mod:`.run`) and its
report (:mod:`.report`)."""

from ragtune.evaluate.evalset import EvalItem, build_eval_set, read_eval_set, write_eval_set
from ragtune.evaluate.report.table import print_summary_table, render_table
from ragtune.evaluate.report.write import write_report

__all__ = [
    "EvalItem",
    "build_eval_set",
    "print_summary_table",
    "read_eval_set",
    "render_table",
    "write_eval_set",
    "write_report",
]
