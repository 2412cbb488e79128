"""The report's charts, drawn with matplotlib's Agg renderer (no display) from summary.json alone.

- ``quality_cost.png``: quality vs cost per query, one labelled point per strategy with its 95% CI;
- ``latency.png``: the distribution of end-to-end latency per strategy (box plot, log axis when ranges differ);
- ``learning_curve.png``: quality vs training examples (log x), CI band, the reference strategy's quality and
  the estimated examples to match it;
- ``freshness.png``: stale and old-fact rates after the change, and seconds until the change is reflected.

A chart whose data is absent is skipped. Output is deterministic: fixed size and dpi, no timestamps or
software version in the PNG metadata, a fixed SVG hash salt, figures on their own Agg canvas (pyplot's global
state and backend are never touched).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from ragtune.evaluate.report.format import fmt_money, fmt_pct, fmt_seconds, strategies_run

FIGSIZE = (7.0, 4.2)
DPI = 110
_RC: Any = {"svg.hashsalt": "ragtune", "font.size": 9, "axes.grid": True, "grid.alpha": 0.3, "path.simplify": False}
_PNG_METADATA: dict[str, Any] = {"Software": None}  # the default embeds matplotlib's version

CHART_TITLES = {
    "quality_cost": "Quality vs cost per query",
    "latency": "Latency distribution (end to end)",
    "learning_curve": "Learning curve",
    "freshness": "Freshness after a document change",
}


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def _spread_is_wide(values: list[float], ratio: float = 30.0) -> bool:
    positive = [v for v in values if v > 0]
    return len(positive) == len(values) and bool(positive) and max(positive) / min(positive) > ratio


def _quality_cost(summary: dict[str, Any], fig: Figure) -> bool:
    points = []
    for name in strategies_run(summary):
        s = summary["strategies"][name]
        cost, quality = _num(s.get("cost_per_query")), _num(s.get("quality"))
        if cost is not None and quality is not None:
            ci = s.get("quality_ci") or [None, None]
            low, high = (_num(ci[0]), _num(ci[1])) if len(ci) == 2 else (None, None)
            points.append(
                (
                    name,
                    cost,
                    quality,
                    quality - low if low is not None else 0.0,
                    high - quality if high is not None else 0.0,
                )
            )
    if not points:
        return False
    ax = fig.add_subplot()
    for name, cost, quality, below, above in points:
        ax.errorbar([cost], [quality], yerr=[[max(below, 0.0)], [max(above, 0.0)]], fmt="o", capsize=4)
        ax.annotate(name, (cost, quality), textcoords="offset points", xytext=(6, 6))
    if _spread_is_wide([p[1] for p in points]):
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_minor_formatter(NullFormatter())
    else:  # from $0, so the distance between points reads as a real cost difference
        ax.set_xlim(0, max(max(p[1] for p in points) * 1.25, 1e-9))
    if all(0 <= p[2] <= 1 for p in points):
        ax.set_ylim(0, 1.05)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: fmt_money(v)))
    ax.set_xlabel("cost per query ($)")
    ax.set_ylabel(f"quality ({summary.get('quality_metric') or 'quality'})")
    ax.set_title(CHART_TITLES["quality_cost"] + " (bars: 95% CI)")
    return True


def _latency(summary: dict[str, Any], fig: Figure) -> bool:
    data = []
    for name in strategies_run(summary):
        samples = [
            v for v in (_num(x) for x in summary["strategies"][name].get("latency_samples_ms") or []) if v is not None
        ]
        if samples:
            data.append((name, samples))
    if not data:
        return False
    ax = fig.add_subplot()
    ax.boxplot([d[1] for d in data], showfliers=True)
    ax.set_xticks(range(1, len(data) + 1), [d[0] for d in data])
    if _spread_is_wide([min(d[1]) for d in data] + [max(d[1]) for d in data]):
        ax.set_yscale("log")
    ax.set_ylabel("milliseconds per question")
    ax.set_title(CHART_TITLES["latency"])
    return True


def _learning_curve(summary: dict[str, Any], fig: Figure) -> bool:
    lc = summary.get("learning_curve") or {}
    points = [p for p in lc.get("points") or [] if _num(p.get("examples")) and _num(p.get("quality")) is not None]
    if not points:
        return False
    ax = fig.add_subplot()
    xs = [float(p["examples"]) for p in points]
    ys = [float(p["quality"]) for p in points]
    if all(_num(p.get("ci_low")) is not None and _num(p.get("ci_high")) is not None for p in points):
        ax.fill_between(xs, [p["ci_low"] for p in points], [p["ci_high"] for p in points], alpha=0.2, label="95% CI")
    ax.plot(xs, ys, "o-", label=str(lc.get("strategy") or "fine-tuned"))
    ref = lc.get("reference") or {}
    if _num(ref.get("quality")) is not None:
        ax.axhline(ref["quality"], color="tab:red", linestyle="--", label=f"{ref.get('strategy', 'reference')} quality")
    match = _num(lc.get("examples_to_match"))
    if match is not None and match > 0:
        ax.axvline(match, color="tab:green", linestyle=":", label=f"≈{match:,.0f} examples to match")
    ax.set_xscale("log")
    ax.set_xlabel("training examples (log scale)")
    metric = lc.get("metric") if lc.get("metric") not in (None, "quality") else summary.get("quality_metric")
    ax.set_ylabel(f"quality ({metric or 'quality'})")
    ax.set_title(CHART_TITLES["learning_curve"])
    ax.legend(loc="lower right")
    return True


def _freshness(summary: dict[str, Any], fig: Figure) -> bool:
    per = (summary.get("freshness") or {}).get("per_strategy") or {}
    names = list(per)
    if not names:
        return False
    left, right = fig.subplots(1, 2)
    _bars(left, names, [("stale", "stale_rate"), ("old fact", "old_fact_rate")], per)
    left.set_ylim(0, 1.05)
    left.set_ylabel("share of changed questions")
    left.set_title("Answers after the change")
    seconds = [_num(per[n].get("seconds_to_reflect")) for n in names]
    bars = right.bar(names, [s if s is not None else 0.0 for s in seconds], color="tab:purple")
    right.bar_label(bars, labels=[fmt_seconds(s) for s in seconds])
    if _spread_is_wide([s for s in seconds if s is not None]):
        right.set_yscale("log")
    right.set_ylabel("seconds to reflect the change")
    right.set_title("Time until answers are fresh")
    for ax in (left, right):
        ax.tick_params(axis="x", labelrotation=20)
    fig.suptitle(CHART_TITLES["freshness"])
    return True


def _bars(ax: Axes, names: list[str], series: list[tuple[str, str]], per: dict[str, Any]) -> None:
    width = 0.8 / len(series)
    for i, (label, key) in enumerate(series):
        xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(names))]
        values = [_num(per[n].get(key)) for n in names]
        bars = ax.bar(xs, [v or 0.0 for v in values], width=width, label=label)
        ax.bar_label(bars, labels=[fmt_pct(v) for v in values], fontsize=7)
    ax.set_xticks(range(len(names)), names)
    ax.legend()


_CHARTS: dict[str, Callable[[dict[str, Any], Figure], bool]] = {
    "quality_cost": _quality_cost,
    "latency": _latency,
    "learning_curve": _learning_curve,
    "freshness": _freshness,
}


def write_charts(summary: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """Draw every chart whose data is present into ``out_dir/<name>.png``; return ``{name: path}``.

    A stale chart from an earlier run whose data is now absent is removed, so the directory matches the report.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    with matplotlib.rc_context(_RC):
        for name, draw in _CHARTS.items():
            path = out_dir / f"{name}.png"
            fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
            FigureCanvasAgg(fig)  # render with Agg explicitly, leaving the process's pyplot backend alone
            if draw(summary, fig):
                fig.savefig(path, format="png", dpi=DPI, metadata=_PNG_METADATA)
                written[name] = path
            elif path.exists():
                path.unlink()
    return written
