"""Advice: which of RAG, fine-tuning or hybrid to use, from measured results and stated constraints.

The rules are in :mod:`ragtune.advise.rules` (one function each), the inputs in
:mod:`ragtune.advise.inputs`, and :func:`advise` in :mod:`ragtune.advise.decision`. See ``docs/advise.md``.
"""

from ragtune.advise.decision import (
    BreakEven,
    Recommendation,
    advise,
    advise_from_results,
    break_even_volume,
    load_comparisons,
    read_summary,
)
from ragtune.advise.inputs import Constraints, MeasuredStrategy, load_measurements, parse_change_interval

__all__ = [
    "BreakEven",
    "Constraints",
    "MeasuredStrategy",
    "Recommendation",
    "advise",
    "advise_from_results",
    "break_even_volume",
    "load_comparisons",
    "load_measurements",
    "parse_change_interval",
    "read_summary",
]
