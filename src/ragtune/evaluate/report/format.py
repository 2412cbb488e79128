"""Reading a results directory and formatting its numbers: one formatter per kind of quantity.

The terminal table, report.md and report.html all format through these functions, so a figure reads the
same everywhere (``0.612 [0.550, 0.670]``, ``$0.00012``, ``8.1 s``). ``None`` (not measured, does not apply)
is always :data:`DASH`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ragtune.errors import DatasetError
from ragtune.jsonl import iter_jsonl

SUMMARY_NAME = "summary.json"
SUPPORTED_FORMAT = 1
DASH = "—"


def load_summary(results_dir: Path) -> dict[str, Any]:
    """Read and sanity-check ``results_dir/summary.json``; raise :class:`DatasetError` naming what is wrong."""
    path = Path(results_dir) / SUMMARY_NAME
    if not path.is_file():
        raise DatasetError(path, None, "not found: is this a results directory written by `ragtune compare --out`?")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DatasetError(path, exc.lineno, f"invalid JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise DatasetError(path, None, "expected a JSON object at the top level")
    if data.get("format") != SUPPORTED_FORMAT:
        raise DatasetError(path, None, f"field 'format' is {data.get('format')!r}; this ragtune reads format 1")
    if not isinstance(data.get("strategies"), dict):
        raise DatasetError(path, None, "field 'strategies': expected an object of strategy name → results")
    for name, entry in data["strategies"].items():
        if not isinstance(entry, dict):
            raise DatasetError(path, None, f"strategies.{name}: expected an object")
    return data


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """The per-question records of one ``<strategy>.jsonl`` (blank lines skipped)."""
    for lineno, record in iter_jsonl(path, column=False):
        if not isinstance(record, dict):
            raise DatasetError(path, lineno, "expected a JSON object")
        yield record


def strategies_run(summary: dict[str, Any]) -> list[str]:
    """Names of the strategies that ran (status ``ok``), in summary order: the table's columns."""
    return [name for name, s in summary["strategies"].items() if s.get("status", "ok") == "ok"]


def strategies_not_run(summary: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(name, status, reason)`` of every strategy that did not run or failed."""
    out = []
    for name, s in summary["strategies"].items():
        status = s.get("status", "ok")
        if status != "ok":
            out.append((name, str(status).replace("_", " "), str(s.get("reason") or "no reason recorded")))
    return out


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def _sig(x: float, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits, never in scientific notation, trailing zeros dropped."""
    if x == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    text = f"{x:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_money(value: Any) -> str:
    """Dollars: cents above $1, else three significant digits (``$0.00012``)."""
    x = _num(value)
    if x is None:
        return DASH
    return f"${x:,.2f}" if abs(x) >= 1 else f"${_sig(x)}"


def fmt_seconds(value: Any) -> str:
    """A duration in seconds, in the unit that reads best (ms, s, min, h, days)."""
    x = _num(value)
    if x is None:
        return DASH
    if abs(x) < 1:
        return f"{_sig(x * 1000)} ms"
    for limit, unit, scale in ((120, "s", 1), (7200, "min", 60), (172800, "h", 3600)):
        if abs(x) < limit:
            return f"{_sig(x / scale)} {unit}"
    return f"{_sig(x / 86400)} days"


def fmt_ms(value: Any) -> str:
    """A duration given in milliseconds."""
    x = _num(value)
    return DASH if x is None else fmt_seconds(x / 1000)


def fmt_score(value: Any) -> str:
    """A 0–1 metric to three decimals."""
    x = _num(value)
    return DASH if x is None else f"{x:.3f}"


def fmt_ci(mean: Any, low: Any, high: Any) -> str:
    """A metric with its 95% interval: ``0.612 [0.550, 0.670]`` (the interval left out when unknown)."""
    if _num(mean) is None:
        return DASH
    if _num(low) is None or _num(high) is None:
        return fmt_score(mean)
    return f"{fmt_score(mean)} [{fmt_score(low)}, {fmt_score(high)}]"


def fmt_diff(value: Any) -> str:
    """A signed difference of two metrics."""
    x = _num(value)
    return DASH if x is None else f"{x:+.3f}"


def fmt_pct(value: Any) -> str:
    """A rate in 0–1 as a percentage."""
    x = _num(value)
    return DASH if x is None else f"{x * 100:.1f}%"


def fmt_p(value: Any) -> str:
    """A p-value."""
    x = _num(value)
    if x is None:
        return DASH
    return "<0.001" if x < 0.001 else f"{x:.3f}"


def fmt_count(value: Any) -> str:
    """A count or a mean count: ``2,400``, ``512.3``."""
    x = _num(value)
    if x is None:
        return DASH
    return f"{int(x):,}" if x == int(x) else f"{x:,.1f}"


def fmt_bytes(value: Any) -> str:
    """A size in bytes, binary units."""
    x = _num(value)
    if x is None:
        return DASH
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(x) < 1024 or unit == "GiB":
            return f"{_sig(x)} {unit}" if unit != "B" else f"{int(x)} B"
        x /= 1024
    raise AssertionError("unreachable")


def fmt_pair(first: str, second: str) -> str:
    """Two figures of one row (``p50 / p95``, ``in / out``); a dash when neither is known."""
    return DASH if first == DASH and second == DASH else f"{first} / {second}"


def fmt_text(value: Any) -> str:
    """Free text (a method, a reason); a dash when empty."""
    return DASH if value is None or value == "" else str(value)


def metric(entry: dict[str, Any], name: str) -> dict[str, Any]:
    """``entry["metrics"][name]`` or an empty dict when the metric was not computed."""
    found = (entry.get("metrics") or {}).get(name)
    return found if isinstance(found, dict) else {}


def metric_text(entry: dict[str, Any], name: str, with_ci: bool = False) -> str:
    """A strategy's metric mean (and interval), formatted."""
    m = metric(entry, name)
    return fmt_ci(m.get("mean"), m.get("ci_low"), m.get("ci_high")) if with_ci else fmt_score(m.get("mean"))


def quality_text(entry: dict[str, Any]) -> str:
    """The headline quality with its interval, from ``quality`` / ``quality_ci`` (falling back to metrics)."""
    ci = entry.get("quality_ci")
    if entry.get("quality") is not None:
        low, high = ci if isinstance(ci, (list, tuple)) and len(ci) == 2 else (None, None)
        return fmt_ci(entry.get("quality"), low, high)
    return metric_text(entry, "quality", with_ci=True)
