"""Reading a comparison: does retrieval help this model? One plain sentence per retrieval strategy and its
closed-book twin (rag ↔ base, hybrid ↔ ft), written from ``summary.json`` alone.

Each says whether the retrieval strategy is better on the same questions (the paired difference), whether the two
strategies' own 95% intervals overlap anyway (intervals of means over different answers are wider than the
interval of the paired difference), what token F1 says (it needs the reference's words, so it does not credit an
on-topic answer that states no fact, as semantic similarity partly does), and how much of the retrieval
strategy's answers is grounded in and cites its sources.
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
        diff = next(
            (
                c
                for c in summary.get("comparisons") or []
                if c["metric"] == "quality" and {c["a"], c["b"]} == {rag, closed}
            ),
            None,
        )
        parts = [f"{rag} vs {closed} ({metric}): {_fmt(qa)} vs {_fmt(qb)}"]
        if diff is not None:
            sign = 1 if diff["a"] == rag else -1
            d, lo, hi = sign * diff["diff"], *(sorted((sign * diff["ci_low"], sign * diff["ci_high"])))
            verdict = "significant" if diff["significant"] else "not significant"
            parts.append(f"paired difference on the same questions {d:+.3f} [{lo:+.3f}, {hi:+.3f}], {verdict}")
            overlap = qa[1] <= qb[2] and qb[1] <= qa[2]
            if diff["significant"] and overlap:
                parts.append(
                    "the two 95% intervals overlap although the paired difference is significant: each interval "
                    "also carries how hard the questions are, which the paired difference cancels"
                )
        fa, fb = _mean_ci(a, "f1"), _mean_ci(b, "f1")
        if fa is not None and fb is not None:
            apart = fa[1] > fb[2] or fb[1] > fa[2]
            parts.append(
                f"token F1 {_fmt(fa)} vs {_fmt(fb)} ({'intervals apart' if apart else 'intervals overlap'}; F1 needs "
                "the reference's words, semantic similarity also credits an on-topic answer that states no fact)"
            )
        g, c = a.get("groundedness"), a.get("citation_recall")
        if g is not None or c is not None:
            gs = f"groundedness {g:.2f}" if g is not None else "groundedness n/a"
            cs = f"citation recall {c:.2f}" if c is not None else "citation recall n/a"
            parts.append(f"{rag}'s answers: {gs}, {cs}")
        out.append("; ".join(parts) + ".")
    return out
