"""Reading a comparison: does retrieval help this model? One plain sentence per retrieval strategy and its
closed-book twin (rag ↔ base, hybrid ↔ ft), written from ``summary.json`` alone.

Each says whether the retrieval strategy is better on the same questions (the paired difference), whether the two
strategies' own 95% intervals overlap anyway (intervals of means over different answers are wider than the
interval of the paired difference), what token F1 says (it needs the reference's words, so it does not credit an
on-topic answer that states no fact, as semantic similarity partly does), and how much of the retrieval
strategy's answers is grounded in and cites its sources, and whether the answers state the reference's numbers
(``facts``: the check that a fluent invented price fails).
"""

from __future__ import annotations

from typing import Any

TWINS = (("rag", "base"), ("hybrid", "ft"))


def _mean_ci(entry: dict[str, Any], metric: str) -> tuple[float, float, float] | None:
    m = (entry.get("metrics") or {}).get(metric) or {}
    if m.get("mean") is None or m.get("ci_low") is None or m.get("ci_high") is None:
        return None
    return float(m["mean"]), float(m["ci_low"]), float(m["ci_high"])


def _fmt(v: tuple[float, float, float]) -> str:
    return f"{v[0]:.2f} [{v[1]:.2f}, {v[2]:.2f}]"


def _apart(x: tuple[float, float, float], y: tuple[float, float, float]) -> str:
    return "intervals apart" if x[1] > y[2] or y[1] > x[2] else "intervals overlap"


def _paired(summary: dict[str, Any], metric: str, first: str, second: str) -> str | None:
    """The paired difference ``first − second`` on ``metric`` as text, or None when it was not computed."""
    for c in summary.get("comparisons") or []:
        if c["metric"] == metric and {c["a"], c["b"]} == {first, second}:
            sign = 1 if c["a"] == first else -1
            lo, hi = sorted((sign * c["ci_low"], sign * c["ci_high"]))
            verdict = "significant" if c["significant"] else "not significant"
            return f"{sign * c['diff']:+.3f} [{lo:+.3f}, {hi:+.3f}], {verdict}"
    return None


def retrieval_readings(summary: dict[str, Any]) -> list[str]:
    """A sentence per (retrieval, closed-book) pair that both ran; empty when none did."""
    strategies = summary.get("strategies") or {}
    metric = summary.get("quality_metric", "quality")
    out = []
    for rag, closed in TWINS:
        a, b = strategies.get(rag) or {}, strategies.get(closed) or {}
        if a.get("status") != "ok" or b.get("status") != "ok":
            continue
        qa, qb = _mean_ci(a, "quality"), _mean_ci(b, "quality")
        if qa is None or qb is None:
            continue
        parts = [f"{rag} vs {closed} ({metric}): {_fmt(qa)} vs {_fmt(qb)}"]
        diff = _paired(summary, "quality", rag, closed)
        if diff is not None:
            parts.append(f"paired difference on the same questions {diff}")
            overlap = qa[1] <= qb[2] and qb[1] <= qa[2]
            if diff.endswith(", significant") and overlap:
                parts.append(
                    "the two 95% intervals overlap although the paired difference is significant: each interval "
                    "also carries how hard the questions are, which the paired difference cancels"
                )
        fa, fb = _mean_ci(a, "f1"), _mean_ci(b, "f1")
        if fa is not None and fb is not None:
            parts.append(
                f"token F1 {_fmt(fa)} vs {_fmt(fb)} ({_apart(fa, fb)}; F1 needs "
                "the reference's words, semantic similarity also credits an on-topic answer that states no fact)"
            )
        ka, kb = _mean_ci(a, "facts"), _mean_ci(b, "facts")
        if metric != "facts" and ka is not None and kb is not None:
            facts_diff = _paired(summary, "facts", rag, closed)
            parts.append(
                f"facts stated {_fmt(ka)} vs {_fmt(kb)} ({_apart(ka, kb)}"
                + (f"; paired {facts_diff}" if facts_diff else "")
                + "; every number of the reference must appear in the answer, so a fluent invented price scores 0)"
            )
        g, c = a.get("groundedness"), a.get("citation_recall")
        if g is not None or c is not None:
            gs = f"groundedness {g:.2f}" if g is not None else "groundedness n/a"
            cs = f"citation recall {c:.2f}" if c is not None else "citation recall n/a"
            parts.append(f"{rag}'s answers: {gs}, {cs}")
        out.append("; ".join(parts) + ".")
    return out
