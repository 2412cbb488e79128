"""Report rendering: a results directory written by hand → terminal table, report.md, report.html, charts."""

from __future__ import annotations

import base64
import html as html_lib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

from ragtune.cli.main import cli
from ragtune.errors import DatasetError
from ragtune.evaluate.report.advice import AdviceView, advice_view
from ragtune.evaluate.report.document import Table, to_markdown
from ragtune.evaluate.report.format import (
    DASH,
    fmt_bytes,
    fmt_ci,
    fmt_count,
    fmt_money,
    fmt_ms,
    fmt_p,
    fmt_pct,
    fmt_seconds,
    load_summary,
)
from ragtune.evaluate.report.rows import build_sections
from ragtune.evaluate.report.table import print_summary_table
from ragtune.evaluate.report.write import write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

QUESTIONS = [
    ("q001", "How much is the Team plan?", "$12 per user per month", ["billing/plans.md"], False),
    ("q002", "Can I export my data?", "Yes, as CSV or JSON from Settings", ["data/export.md"], False),
    ("q003", "How long are invoices kept?", "Seven years", ["billing/invoices.md"], False),
    ("q004", "Does the app support SSO?", "Yes, SAML on the Enterprise plan", ["security/sso.md"], False),
    ("q005", "What is the API rate limit?", "600 requests per minute", ["api/limits.md"], False),
    ("q006", "Who founded the company?", "", [], True),
]

# name → (status, reason, kind, retrieve, generator, adapter, quality per question, ms per question)
STRATEGIES: dict[str, tuple[Any, ...]] = {
    "rag-extractive": ("ok", None, "rag", True, "extractive", None, [0.9, 0.8, 0.7, 0.85, 0.6, 1.0], 12),
    "base": ("ok", None, "base", False, "hf:tiny", None, [0.2, 0.3, 0.1, 0.25, 0.2, 0.0], 400),
    "ft": ("ok", None, "ft", False, "hf:tiny", "models/ft-1", [0.4, 0.5, 0.3, 0.45, 0.3, 1.0], 420),
    "rag": ("ok", None, "rag", True, "hf:tiny", None, [0.7, 0.6, 0.65, 0.8, 0.5, 1.0], 450),
    "hybrid": ("not_run", "needs a fine-tuned model trained on RAFT data: give --ft-model", "hybrid", True, "hf:tiny",
               None, None, 0),
    "openai": ("failed", "endpoint http://localhost:9 refused the connection", "rag", True, "openai:gpt", None,
               None, 0),
}  # fmt: skip


def _record(name: str, q: tuple[Any, ...], quality: float, ms: float) -> dict[str, Any]:
    qid, question, reference, sources, unanswerable = q
    retrieve = STRATEGIES[name][3]
    answer = "The help center does not say." if unanswerable else f"{name} says: {reference if quality > 0.5 else 'no'}"
    return {
        "id": qid, "question": question, "reference": reference, "sources": sources, "tags": ["t"],
        "unanswerable": unanswerable, "answer": answer,
        "citations": [{"n": 1, "doc_id": sources[0], "source": sources[0], "text": "..."}] if retrieve and sources
        else [],
        "retrieved": sources if retrieve else None,
        "timings_ms": {"retrieve": 3.0, "generate": ms - 3.0, "total": ms} if retrieve
        else {"generate": ms, "total": ms},
        "tokens_in": 500 if retrieve else 40, "tokens_out": 30, "cost": 0.00012, "declined": unanswerable,
        "metrics": {"em": float(quality > 0.8), "f1": quality, "semantic": quality, "quality": quality},
        "error": None,
    }  # fmt: skip


def _entry(name: str) -> dict[str, Any]:
    status, reason, kind, retrieve, generator, adapter, qualities, ms = STRATEGIES[name]
    entry: dict[str, Any] = {
        "name": name, "status": status, "reason": reason, "description": f"{name} strategy", "generator": generator,
        "adapter": adapter, "retrieve": retrieve, "kind": kind,
    }  # fmt: skip
    if status != "ok":
        return entry
    samples = [ms * (1 + 0.1 * i) for i in range(len(QUESTIONS))]
    entry.update(
        n=6, errors=0, quality=sum(qualities) / 6, quality_ci=[min(qualities), max(qualities)],
        metrics={
            "semantic": {"mean": sum(qualities) / 6, "ci_low": min(qualities), "ci_high": max(qualities), "n": 6},
            "em": {"mean": 0.5, "ci_low": 0.1, "ci_high": 0.9, "n": 6},
            "f1": {"mean": 0.6123, "ci_low": 0.4, "ci_high": 0.8, "n": 6},
            "style_similarity": {"mean": 0.44, "ci_low": 0.4, "ci_high": 0.48, "n": 6},
            "style_rules": {"mean": 0.75, "ci_low": 0.5, "ci_high": 1.0, "n": 6},
            "correct_decline": {"mean": 1.0 if name != "base" else 0.0, "ci_low": None, "ci_high": None, "n": 1},
            "citation_precision": {"mean": 0.9 if retrieve else None, "ci_low": None, "ci_high": None, "n": 5},
            "recall@5": {"mean": 1.0, "ci_low": 1.0, "ci_high": 1.0, "n": 5} if retrieve else {},
        },
        latency_ms={"total": {"p50": ms, "p95": ms * 1.5, "mean": ms * 1.1}, "generate": {"p50": ms - 3, "p95": ms}}
        | ({"retrieve": {"p50": 3.0, "p95": 5.0, "mean": 3.2}} if retrieve else {}),
        latency_p50_ms=ms, latency_p95_ms=ms * 1.5, latency_samples_ms=samples,
        tokens_in_mean=512.0 if retrieve else 40.0, tokens_out_mean=30.5,
        cost_per_query=0.00012 * (ms / 12), cost_method=f"self-hosted: $0.20/h x {ms / 1000} s",
        setup_cost=0.02 if adapter else 0.0, setup_seconds=180.0 if adapter else 0.4,
        setup_method="training 170 s + data build 10 s at $0.20/h" if adapter else "ingest, measured",
        examples_used=148 if adapter else 0, memory_bytes=123456789,
    )  # fmt: skip
    if adapter:
        entry["lineage"] = {"model": "ft-1", "base": "hf:tiny", "run_id": "r1", "data_path": "style.jsonl",
                            "kb_version": 2, "train_seconds": 170.0, "examples": 148}  # fmt: skip
    return entry


def write_results_dir(out: Path, full: bool = True) -> dict[str, Any]:
    """A realistic results directory; ``full`` adds freshness, learning curve and advice."""
    out.mkdir(parents=True, exist_ok=True)
    strategies = {name: _entry(name) for name in STRATEGIES}
    for name, spec in STRATEGIES.items():
        if spec[0] == "ok":
            lines = [json.dumps(_record(name, q, spec[6][i], spec[7] * (1 + 0.1 * i))) for i, q in enumerate(QUESTIONS)]
            (out / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary: dict[str, Any] = {
        "format": 1, "created": "2026-11-24T10:00:00Z", "ragtune_version": "0.1.0",
        "command": "ragtune compare --eval eval.jsonl --out results",
        "machine": {"cpu": "Test CPU", "cores": 2, "memory_gb": 23.5, "gpu": None, "torch": "2.13.0"},
        "kb": {"path": ".ragtune", "version": 3, "documents": 36, "chunks": 412, "db_bytes": 2_000_000,
               "index_bytes": 650_000},
        "eval": {"path": "eval.jsonl", "sha256": "ab" * 32, "n": 6, "answerable": 5, "unanswerable": 1},
        "quality_metric": "semantic", "prices": {"hardware_per_hour": 0.2},
        "stages": {"load": 1.2, "run:rag-extractive": 8.1, "run:ft": 40.0, "metrics": 2.0},
        "strategies": strategies,
        "comparisons": [
            {"a": "rag", "b": "ft", "metric": "quality", "diff": 0.2167, "ci_low": 0.05, "ci_high": 0.19,
             "p_value": 0.002, "significant": True},
            {"a": "ft", "b": "base", "metric": "quality", "diff": 0.03, "ci_low": -0.02, "ci_high": 0.08,
             "p_value": 0.41, "significant": False},
        ],
        "freshness": None, "learning_curve": None, "advice": None,
    }  # fmt: skip
    if full:
        summary["stages"] |= {"freshness": 30.2, "learning_curve": 120.0}
        per = {
            "rag-extractive": {"stale_rate": 0.0, "old_fact_rate": 0.0, "seconds_to_reflect": 0.4,
                               "method": "measured re-ingest"},
            "ft": {"stale_rate": 1.0, "old_fact_rate": 0.5, "seconds_to_reflect": 5400.0,
                   "method": "retraining, estimated from throughput"},
        }  # fmt: skip
        for name, p in per.items():
            verdict = "fresh" if p["stale_rate"] == 0 else "old-fact"
            p["answers"] = [
                {"id": "q001", "before": "$10 per user", "after": "$12 per user", "verdict_before": "old-fact",
                 "verdict": verdict}
            ]  # fmt: skip
            strategies[name].update(
                freshness_seconds=p["seconds_to_reflect"], stale_rate=p["stale_rate"], freshness_method=p["method"]
            )
        summary["freshness"] = {
            "change": "01-team-price-increase", "description": "Team plan goes from $10 to $12",
            "files": ["billing/plans.md"], "questions": ["q001", "q002"], "reingest_seconds": 0.4, "per_strategy": per,
        }  # fmt: skip
        summary["learning_curve"] = {
            "strategy": "ft", "metric": "quality", "train_data": "style.jsonl",
            "points": [{"share": s, "examples": e, "quality": q, "ci_low": q - 0.05, "ci_high": q + 0.05,
                        "train_seconds": e / 2} for s, e, q in ((0.1, 15, 0.21), (0.5, 74, 0.33), (1.0, 148, 0.38))],
            "reference": {"strategy": "rag", "quality": 0.708},
            "examples_to_match": 2400,
            "method": "least-squares fit quality = a + b*log(examples), solved for the reference",
        }  # fmt: skip
        summary["advice"] = {  # ragtune.advise Recommendation.as_dict()
            "strategy": "rag", "family": "RAG", "estimate": False,
            "reasons": [{"rule": "freshness", "message": "documents change weekly; ft takes 90 min to retrain",
                         "excluded": {"ft": "stale"}, "chosen": None},
                        {"rule": "volume", "message": "fine-tuning needs about 2,400 examples; you have 148",
                         "excluded": {}, "chosen": "rag"}],
            "rejected": {"ft": ["stale after document changes"]},
            "monthly_cost": {"rag": 45.0, "ft": 120.5},
            "break_even": {"rag": "rag", "ft": "ft", "rag_per_query": 0.0045, "ft_per_query": 0.0042,
                           "rag_fixed_per_month": 0.0, "ft_fixed_per_month": 375.0, "queries_per_month": 1250000.0},
            "assumptions": ["10,000 queries/month assumed"],
            "strategies": {},
        }  # fmt: skip
    (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary


@pytest.fixture(scope="module")
def built_full(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path], dict[str, Any]]:
    """A full results directory with its report built once (charts take about a second)."""
    out = tmp_path_factory.mktemp("results") / "full"
    summary = write_results_dir(out, full=True)
    return out, write_report(out), summary


def _console_text(summary: dict[str, Any]) -> str:
    console = Console(record=True, width=400, color_system=None)
    print_summary_table(summary, console=console)
    return console.export_text()


def _expected_figures(summary: dict[str, Any]) -> list[str]:
    """Figures every rendering must show, formatted straight from summary.json."""
    out = []
    for s in summary["strategies"].values():
        if s["status"] != "ok":
            continue
        out += [
            fmt_ci(s["quality"], *s["quality_ci"]),
            fmt_money(s["cost_per_query"]),
            f"{fmt_ms(s['latency_p50_ms'])} / {fmt_ms(s['latency_p95_ms'])}",
            f"{fmt_money(s['setup_cost'])} / {fmt_seconds(s['setup_seconds'])}",
        ]
    for c in summary["comparisons"]:
        out.append(f"{c['diff']:+.3f}")
    return out


def test_formatters() -> None:
    assert fmt_money(0.00012) == "$0.00012"
    assert fmt_money(4.5) == "$4.50"
    assert fmt_money(0) == "$0"
    assert fmt_seconds(0.4) == "400 ms"
    assert fmt_seconds(8.1) == "8.1 s"
    assert fmt_seconds(5400) == "90 min"
    assert fmt_ms(1500) == "1.5 s"
    assert fmt_ci(0.6123, 0.55, 0.67) == "0.612 [0.550, 0.670]"
    assert fmt_ci(0.6123, None, 0.67) == "0.612"
    assert fmt_p(0.0001) == "<0.001"
    assert fmt_pct(1 / 3) == "33.3%"
    assert fmt_count(2400) == "2,400"
    assert fmt_count(30.5) == "30.5"
    assert fmt_bytes(650_000) == "635 KiB"
    for f in (fmt_money, fmt_seconds, fmt_ms, fmt_pct, fmt_count, fmt_bytes, fmt_p):
        assert f(None) == DASH
        assert f(float("nan")) == DASH


def test_report_shows_the_numbers_of_summary_json(built_full: tuple[Path, dict[str, Path], dict[str, Any]]) -> None:
    out, paths, summary = built_full
    assert set(paths) == {
        "md",
        "html",
        "chart:quality_cost",
        "chart:latency",
        "chart:learning_curve",
        "chart:freshness",
    }
    md = paths["md"].read_text(encoding="utf-8")
    html = paths["html"].read_text(encoding="utf-8")
    terminal = _console_text(load_summary(out))
    for figure in [*_expected_figures(summary), "2,400", "90 min", "not significant", "significant"]:
        assert figure in md, figure
        assert html_lib.escape(figure, quote=False) in html, figure
        assert figure in terminal, figure
    # Every table row reads the same in the terminal and in the files.
    for section in build_sections(summary):
        assert section.title in md and section.title in terminal
        assert html_lib.escape(section.title, quote=False) in html
        for row in section.rows:
            line = "| " + " | ".join([row.label, *row.values.values(), row.note]) + " |"
            assert line.replace("*", r"\*") in md, line
    # The details: stages, machine, freshness verdicts, learning-curve points, example answers.
    for text in ("run:ft", "Test CPU", "Verdict before", "$12 per user", "least-squares fit", "Example answers"):
        assert text in md and text in html, text
    assert "Recommended: rag (RAG)" in md and "fine-tuning needs about 2,400 examples; you have 148" in html
    assert "ft becomes cheaper than rag above 1,250,000 queries/month" in md
    assert "model ft-1 (base hf:tiny, run r1, data style.jsonl, KB v2)" in md


def test_not_run_strategies_are_listed_with_their_reason(
    built_full: tuple[Path, dict[str, Path], dict[str, Any]],
) -> None:
    _, paths, summary = built_full
    md = paths["md"].read_text(encoding="utf-8")
    header = next(line for line in md.splitlines() if line.startswith("|  | "))
    assert "hybrid" not in header and "openai" not in header and "rag-extractive" in header
    for text in (summary["strategies"]["hybrid"]["reason"], summary["strategies"]["openai"]["reason"], "(not run)"):
        assert text in md
        assert text in paths["html"].read_text(encoding="utf-8")
        assert text in _console_text(summary)


def test_html_is_self_contained(built_full: tuple[Path, dict[str, Path], dict[str, Any]]) -> None:
    _, paths, _ = built_full
    html = paths["html"].read_text(encoding="utf-8")
    assert "<script" not in html and "<link" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    sources = re.findall(r'<img src="([^"]+)"', html)
    assert len(sources) == 4
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG_MAGIC)


def test_charts_are_valid_pngs_of_a_fixed_size(built_full: tuple[Path, dict[str, Path], dict[str, Any]]) -> None:
    _, paths, _ = built_full
    md = paths["md"].read_text(encoding="utf-8")
    for key, path in paths.items():
        if not key.startswith("chart:"):
            continue
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC) and data[12:16] == b"IHDR"
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert (width, height) == (770, 462)
        assert f"](charts/{path.name})" in md


def test_rebuilding_gives_identical_files(built_full: tuple[Path, dict[str, Path], dict[str, Any]]) -> None:
    out, paths, _ = built_full
    first = {k: p.read_bytes() for k, p in paths.items()}
    again = write_report(out)
    assert again == paths
    assert {k: p.read_bytes() for k, p in again.items()} == first


def test_missing_optional_parts_do_not_crash(tmp_path: Path) -> None:
    out = tmp_path / "bare"
    write_results_dir(out, full=False)
    (out / "charts").mkdir()
    (out / "charts" / "learning_curve.png").write_bytes(b"stale")  # from an earlier run that had a curve
    paths = write_report(out)
    assert set(paths) == {"md", "html", "chart:quality_cost", "chart:latency"}
    assert not (out / "charts" / "learning_curve.png").exists()
    md = paths["md"].read_text(encoding="utf-8")
    assert "freshness was not measured" in md and "learning curve was not run" in md
    assert "Recommendation" not in md and "Freshness: time to reflect" not in md
    terminal = _console_text(load_summary(out))
    assert "Volume needed: examples used" in terminal and "Freshness: time to reflect" not in terminal


def test_minimal_and_empty_summaries_render(tmp_path: Path) -> None:
    minimal = {
        "format": 1,
        "strategies": {
            "rag": {
                "status": "ok",
                "quality": None,
                "metrics": {"f1": {"mean": None, "ci_low": None, "ci_high": None}},
            },
            "ft": {"status": "not_run", "reason": None},
        },
    }
    out = tmp_path / "minimal"
    out.mkdir()
    (out / "summary.json").write_text(json.dumps(minimal), encoding="utf-8")
    paths = write_report(out)
    assert set(paths) == {"md", "html"}
    md = paths["md"].read_text(encoding="utf-8")
    assert "not measured in this run" in md and "no reason recorded" in md
    assert "ft (not run)" in _console_text(minimal)
    nothing_ran = {"format": 1, "strategies": {"ft": {"status": "failed", "reason": "out of memory"}}}
    (out / "summary.json").write_text(json.dumps(nothing_ran), encoding="utf-8")
    assert "out of memory" in write_report(out)["md"].read_text(encoding="utf-8")
    assert "out of memory" in _console_text(nothing_ran)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        ('{"format": 1,\n "strategies": }', ":2: invalid JSON"),
        ('{"format": 2, "strategies": {}}', "format 1"),
        ('{"format": 1, "strategies": []}', "strategies"),
    ],
)
def test_bad_results_directory_is_a_clear_error(tmp_path: Path, content: str | None, message: str) -> None:
    if content is not None:
        (tmp_path / "summary.json").write_text(content, encoding="utf-8")
    with pytest.raises(DatasetError, match=re.escape(message)) as caught:
        write_report(tmp_path)
    assert "summary.json" in str(caught.value)


def test_bad_record_names_file_and_line(tmp_path: Path) -> None:
    write_results_dir(tmp_path, full=False)
    with (tmp_path / "rag.jsonl").open("a", encoding="utf-8") as fh:
        fh.write("{not json\n")
    with pytest.raises(DatasetError, match=r"rag\.jsonl:7: invalid JSON"):
        write_report(tmp_path)


def test_markdown_cells_and_advice_shapes() -> None:
    md = to_markdown([Table(["a", "b"], [["x | y", "*bold* _it_ snake_case <b>"]])])
    row = md.splitlines()[2]
    assert row == r"| x \| y | \*bold\* \_it\_ snake_case \<b> |"
    assert advice_view({"advice": "rag"}) is not None
    view = advice_view({"advice": {"choice": "hybrid", "estimate": True, "why": [{"reason": "brand voice"}]}})
    assert view is not None and view.recommendation == "hybrid"
    assert view.reasons == ["brand voice"] and view.facts[0][0] == "Estimate"
    other = advice_view({"advice": {"recommendation": "rag", "reasons": ["cheap"], "queries": 10000, "ok": False}})
    assert other == AdviceView("rag", ["cheap"], [("queries", "10,000"), ("ok", "no")])
    assert advice_view({"advice": None}) is None


def test_cli_report(tmp_path: Path) -> None:
    out = tmp_path / "r"
    summary = write_results_dir(out, full=True)
    runner = CliRunner()
    result = runner.invoke(cli, ["report", str(out), "--no-html"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "RAG vs fine-tuning, measured" in result.output and "0.808 [0.600, 1.000]" in result.output
    assert (out / "report.md").is_file() and not (out / "report.html").exists()
    first = (out / "report.md").read_bytes()
    result = runner.invoke(cli, ["report", str(out), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["strategies"]["rag"]["quality"] == summary["strategies"]["rag"]["quality"]
    assert data["strategies"]["hybrid"]["status"] == "not_run"
    assert data["examples_to_match"] == 2400 and set(data["files"]) >= {"md", "html"}
    assert (out / "report.md").read_bytes() == first
    result = runner.invoke(cli, ["report", str(tmp_path)])
    assert isinstance(result.exception, DatasetError)
    assert "--no-html" in runner.invoke(cli, ["report", "--help"]).output


def test_retrieval_reading_explains_overlapping_intervals_with_a_significant_paired_difference() -> None:
    from ragtune.evaluate.report.reading import retrieval_readings

    def entry(
        q: tuple[float, float, float], f1: tuple[float, float, float], facts: tuple[float, float, float], **kw: float
    ) -> dict[str, Any]:
        pairs = (("quality", q), ("f1", f1), ("facts", facts))
        metrics = {name: {"mean": v[0], "ci_low": v[1], "ci_high": v[2]} for name, v in pairs}
        return {"status": "ok", "metrics": metrics, **kw}

    summary = {
        "quality_metric": "semantic",
        "strategies": {
            "rag": entry(
                (0.61, 0.55, 0.67), (0.31, 0.25, 0.36), (0.27, 0.16, 0.41), groundedness=0.53, citation_recall=0.8
            ),
            "base": entry((0.54, 0.49, 0.60), (0.18, 0.15, 0.22), (0.0, 0.0, 0.0)),
            "ft": {"status": "not_run"},
        },
        "comparisons": [
            {
                "a": "base",
                "b": "rag",
                "metric": "quality",
                "diff": -0.066,
                "ci_low": -0.112,
                "ci_high": -0.024,
                "significant": True,
            },
            {"a": "base", "b": "rag", "metric": "facts", "diff": -0.27, "ci_low": -0.4, "ci_high": -0.15,
             "significant": True},
        ],
    }  # fmt: skip
    (reading,) = retrieval_readings(summary)
    assert reading.startswith("rag vs base (semantic): 0.61 [0.55, 0.67] vs 0.54 [0.49, 0.60]")
    assert "+0.066 [+0.024, +0.112], significant" in reading and "intervals overlap although" in reading
    assert "token F1 0.31 [0.25, 0.36] vs 0.18 [0.15, 0.22] (intervals apart" in reading
    assert "groundedness 0.53, citation recall 0.80" in reading
    assert "facts stated 0.27 [0.16, 0.41] vs 0.00 [0.00, 0.00] (intervals apart; paired +0.270 [+0.150, +0.400]" in (
        reading
    )
    assert retrieval_readings({"strategies": {"rag": summary["strategies"]["rag"]}}) == []
