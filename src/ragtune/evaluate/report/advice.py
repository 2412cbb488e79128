"""The advice of a run (``summary["advice"]``, i.e. ``ragtune advise``'s ``Recommendation.as_dict()``) for display.

Read defensively: the report must render whatever advice a results directory holds, so unknown keys are
shown as plain facts and missing ones are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ragtune.evaluate.report.format import DASH, fmt_count, fmt_money, fmt_text


@dataclass(frozen=True)
class AdviceView:
    """The advice flattened for display: the recommendation, the reasons for it, other facts."""

    recommendation: str
    reasons: list[str]
    facts: list[tuple[str, str]]


_CHOICE_KEYS = ("strategy", "recommendation", "recommended", "choice")
_REASON_KEYS = ("reasons", "why")
_SHOWN = {*_CHOICE_KEYS, *_REASON_KEYS, "family", "estimate", "rejected", "monthly_cost", "break_even", "assumptions"}


def _reason_text(item: Any) -> str:
    if isinstance(item, dict):
        text = item.get("message") or item.get("text") or item.get("reason")
        return str(text) if text else ", ".join(f"{k}: {v}" for k, v in item.items())
    return str(item)


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return fmt_count(value) if isinstance(value, (int, float)) else fmt_text(value)


def _break_even_text(be: dict[str, Any]) -> str:
    ft, rag = be.get("ft", "fine-tuning"), be.get("rag", "RAG")
    volume = be.get("queries_per_month")
    if volume is None:
        return f"{ft} never becomes cheaper than {rag} (it costs as much or more per query)"
    return f"{ft} becomes cheaper than {rag} above {fmt_count(round(volume))} queries/month"


def advice_view(summary: dict[str, Any]) -> AdviceView | None:
    """The run's advice for display; None when the run has none."""
    advice = summary.get("advice")
    if not advice:
        return None
    if not isinstance(advice, dict):
        return AdviceView(str(advice), [], [])
    choice = next((str(advice[k]) for k in _CHOICE_KEYS if advice.get(k)), DASH)
    if advice.get("family") and str(advice["family"]) != choice:
        choice = f"{choice} ({advice['family']})"
    reasons = [_reason_text(item) for key in _REASON_KEYS for item in advice.get(key) or []]
    facts: list[tuple[str, str]] = []
    if advice.get("estimate"):
        facts.append(("Estimate", "yes: from the stated constraints and typical values, not from measurements"))
    for name, why in (advice.get("rejected") or {}).items():
        facts.append((f"Not {name}", "; ".join(map(str, why)) if isinstance(why, list) else str(why)))
    costs = advice.get("monthly_cost") or {}
    if isinstance(costs, dict) and costs:
        facts.append(("Monthly cost", ", ".join(f"{n} {fmt_money(c)}" for n, c in costs.items())))
    if isinstance(advice.get("break_even"), dict):
        facts.append(("Break-even", _break_even_text(advice["break_even"])))
    facts += [("Assumption", str(a)) for a in advice.get("assumptions") or []]
    for key, value in advice.items():
        if key not in _SHOWN and value is not None and not isinstance(value, (dict, list)):
            facts.append((key.replace("_", " "), _value_text(value)))
    return AdviceView(choice, reasons, facts)
