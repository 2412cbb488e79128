"""``advise``: each rule flips the recommendation; break-even by hand; summary.json loading; the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ragtune.advise import (
    Constraints,
    MeasuredStrategy,
    advise,
    break_even_volume,
    load_measurements,
    parse_change_interval,
)
from ragtune.advise.decision import DAYS_PER_MONTH, fixed_per_month, load_comparisons
from ragtune.cli.main import cli
from ragtune.errors import ConfigError


def strategies(**changes: dict[str, Any]) -> dict[str, MeasuredStrategy]:
    """rag, ft, hybrid with equal quality (overlapping intervals) unless changed; rag cheapest to set up."""
    base: dict[str, dict[str, Any]] = {
        "rag": dict(quality=0.70, quality_ci=(0.62, 0.78), latency_p95_ms=2000, cost_per_query=0.002,
                    setup_cost=1.0, setup_seconds=300, freshness_seconds=30, style_score=0.4),
        "ft": dict(quality=0.70, quality_ci=(0.62, 0.78), latency_p95_ms=700, cost_per_query=0.001,
                   setup_cost=50.0, setup_seconds=3600, freshness_seconds=3600, style_score=0.8, examples_used=1000),
        "hybrid": dict(quality=0.71, quality_ci=(0.63, 0.79), latency_p95_ms=2100, cost_per_query=0.002,
                       setup_cost=60.0, setup_seconds=4000, freshness_seconds=30, style_score=0.8, examples_used=300),
    }  # fmt: skip
    for name, values in changes.items():
        base[name] = {**base[name], **values}
    return {name: MeasuredStrategy(name=name, **values) for name, values in base.items()}


def pick(c: Constraints, table: dict[str, MeasuredStrategy], **kw: Any) -> str:
    return advise(c, table, **kw).strategy


FT_BEST = {"ft": dict(quality=0.85, quality_ci=(0.80, 0.90))}
HYBRID_BEST = {"hybrid": dict(quality=0.85, quality_ci=(0.80, 0.90))}
RAG_BEST = {"rag": dict(quality=0.85, quality_ci=(0.80, 0.90))}


def test_equal_quality_goes_to_the_cheapest() -> None:
    rec = advise(Constraints(queries_per_month=1000), strategies())
    # rag: 1/12 + 2 = 2.08; ft: 50/12 + 1 = 5.17; hybrid: 5 + 2 = 7
    assert rec.strategy == "rag" and rec.family == "RAG" and not rec.estimate
    assert rec.reasons[-1].rule == "quality_tie_prefers_cheaper"
    assert "not significantly different" in rec.rejected["ft"][0]


def test_rule_quality_tie_prefers_cheaper_flips_with_volume() -> None:
    # at 100k queries/month ft's lower per-query cost pays for its setup: 50/12 + 100 < 1/12 + 200
    assert pick(Constraints(queries_per_month=1000), strategies()) == "rag"
    assert pick(Constraints(queries_per_month=100_000), strategies()) == "ft"


def test_rule_significantly_best_quality() -> None:
    assert pick(Constraints(queries_per_month=1000), strategies(**HYBRID_BEST)) == "hybrid"
    rec = advise(Constraints(queries_per_month=1000), strategies(**HYBRID_BEST))
    assert rec.reasons[-1].rule == "significantly_best_quality" and "0.85" in rec.reasons[-1].message
    assert "significantly below" in rec.rejected["rag"][0]


def test_paired_comparisons_decide_significance_over_intervals() -> None:
    table = strategies(hybrid=dict(quality=0.75, quality_ci=(0.67, 0.83)))  # intervals overlap: a tie
    c = Constraints(queries_per_month=1000)
    assert pick(c, table) == "rag"
    paired = {
        ("hybrid", "rag"): {"diff": 0.05, "significant": True},
        ("hybrid", "ft"): {"diff": 0.05, "significant": True},
    }
    assert pick(c, table, comparisons=paired) == "hybrid"
    summary = {
        "comparisons": [
            {"a": "hybrid", "b": "rag", "metric": "quality", "diff": 0.05, "significant": True},
            {"a": "hybrid", "b": "rag", "metric": "f1", "diff": 0.0, "significant": False},
        ]
    }
    assert load_comparisons(summary)[("hybrid", "rag")]["significant"] is True


def test_rule_citations_need_retrieval() -> None:
    table = strategies(**FT_BEST)
    assert pick(Constraints(queries_per_month=1000), table) == "ft"
    rec = advise(Constraints(queries_per_month=1000, citations_required=True), table)
    assert rec.strategy == "rag"
    assert rec.reasons[0].rule == "citations_need_retrieval" and "ft" in rec.reasons[0].excluded


def test_rule_documents_change_faster_than_retraining() -> None:
    table = strategies(ft=dict(quality=0.85, quality_ci=(0.80, 0.90), freshness_seconds=2 * 86_400))
    assert pick(Constraints(queries_per_month=1000, doc_change_days=365), table) == "ft"
    rec = advise(Constraints(queries_per_month=1000, doc_change_days=7), table)
    assert rec.strategy != "ft"
    finding = next(f for f in rec.reasons if f.rule == "documents_change_faster_than_retraining")
    assert "48.0 h" in finding.excluded["ft"] and "29%" in finding.excluded["ft"]


def test_rule_strict_brand_voice_needs_tuning() -> None:
    assert pick(Constraints(queries_per_month=1000), strategies()) == "rag"
    assert pick(Constraints(queries_per_month=1000, brand_voice="strict"), strategies()) == "ft"
    assert (
        pick(Constraints(queries_per_month=1000, brand_voice="strict", citations_required=True), strategies())
        == "hybrid"
    )


def test_rule_nice_brand_voice_prefers_tuning() -> None:
    table = strategies(ft=dict(quality=0.5, quality_ci=(0.45, 0.55)))
    assert pick(Constraints(queries_per_month=1000), table) == "rag"
    rec = advise(Constraints(queries_per_month=1000, brand_voice="nice"), table)
    assert rec.strategy == "hybrid"
    assert any(f.rule == "nice_brand_voice_prefers_tuning" for f in rec.reasons)


def test_rule_too_few_examples() -> None:
    table = strategies(**FT_BEST)
    assert pick(Constraints(queries_per_month=1000, examples_available=5000), table) == "ft"
    assert pick(Constraints(queries_per_month=1000, examples_available=200), table) == "rag"
    # the learning curve's estimate, when measured, is what counts
    summary = {"strategies": {n: {"quality": m.quality, "quality_ci": list(m.quality_ci or ()),
                                  "cost_per_query": m.cost_per_query, "setup_cost": m.setup_cost,
                                  "examples_used": m.examples_used} for n, m in table.items()},
               "examples_needed": 150}  # fmt: skip
    measured = load_measurements(summary)
    assert measured["ft"].examples_needed == 150 and measured["rag"].examples_needed is None
    assert pick(Constraints(queries_per_month=1000, examples_available=200), measured) == "ft"


def test_rule_latency_target() -> None:
    table = strategies(**RAG_BEST)
    assert pick(Constraints(queries_per_month=1000, latency_target_ms=3000), table) == "rag"
    assert pick(Constraints(queries_per_month=1000, latency_target_ms=1000), table) == "ft"


def test_rule_over_budget() -> None:
    table = strategies(**HYBRID_BEST)
    assert pick(Constraints(queries_per_month=10_000, budget_per_month=100), table) == "hybrid"  # 5 + 20
    assert pick(Constraints(queries_per_month=10_000, budget_per_month=22), table) == "ft"  # rag 20.08, ft 14.17


def test_a_rule_never_rules_out_everything() -> None:
    rec = advise(Constraints(queries_per_month=1000, latency_target_ms=10), strategies(**RAG_BEST))
    assert rec.strategy == "rag"
    assert "no option satisfies it" in rec.reasons[0].message and not rec.reasons[0].excluded


def test_break_even_by_hand() -> None:
    # setup $500 repeated every document change (once a month), RAG setup free:
    # 500 + 0.001·Q = 0 + 0.003·Q  →  Q = 250,000 queries/month
    assert break_even_volume(0.003, 0.001, 0.0, 500.0) == pytest.approx(250_000)
    assert break_even_volume(0.001, 0.003, 0.0, 500.0) is None  # RAG cheaper per query: never
    assert break_even_volume(0.003, 0.001, 600.0, 500.0) == 0.0  # ft cheaper at any volume
    table = strategies(rag=dict(cost_per_query=0.003, setup_cost=0.0), ft=dict(cost_per_query=0.001, setup_cost=500.0))
    c = Constraints(queries_per_month=1000, doc_change_days=DAYS_PER_MONTH)
    assert fixed_per_month(table["ft"], c) == pytest.approx(500.0)
    assert fixed_per_month(table["hybrid"], c) == pytest.approx(60.0 / 12)  # facts come from retrieval
    be = advise(c, table).break_even
    assert be is not None and (be.rag, be.ft) == ("rag", "ft")
    assert be.queries_per_month == pytest.approx(250_000)


def test_without_measurements_it_is_an_estimate() -> None:
    rec = advise(Constraints())
    assert rec.estimate and set(rec.strategies) == {"rag", "ft", "hybrid"}
    assert rec.strategy == "rag" and any("typical values" in a for a in rec.assumptions)
    assert advise(Constraints(brand_voice="strict", citations_required=True)).strategy == "hybrid"
    assert advise(Constraints(latency_target_ms=900)).strategy == "ft"


def test_load_measurements_reads_the_documented_keys() -> None:
    summary = {
        "strategies": {
            "rag-extractive": {"quality": 0.6, "quality_ci": {"low": 0.5, "high": 0.7}, "latency_p50_ms": 40,
                               "latency_p95_ms": 90, "cost_per_query": 1e-5, "setup_cost": 0.01, "setup_seconds": 30,
                               "freshness_seconds": 5, "stale_rate": 0.0, "style_score": 0.3,
                               "citation_precision": 0.9, "examples_used": 0, "extra": "ignored"},
            "base": {"status": "not run", "reason": "no --model"},
            "mine": {"quality": 0.5, "retrieval": False, "tuned": True},
        }
    }  # fmt: skip
    out = load_measurements(summary)
    assert set(out) == {"rag-extractive", "mine"}
    m = out["rag-extractive"]
    assert m.quality_ci == (0.5, 0.7) and m.latency_p95_ms == 90 and m.family == "RAG" and m.retrieval
    assert out["mine"].family == "fine-tuning"
    with pytest.raises(ConfigError, match=r"strategies\.rag\.quality"):
        load_measurements({"strategies": {"rag": {"quality": "high"}}})
    with pytest.raises(ConfigError, match="strategies"):
        load_measurements({})


@pytest.mark.parametrize(
    ("text", "days"), [("never", None), ("weekly", 7.0), ("3", 3.0), ("3d", 3.0), ("12h", 0.5), ("hourly", 1 / 24)]
)
def test_parse_change_interval(text: str, days: float | None) -> None:
    assert parse_change_interval(text) == (pytest.approx(days) if days else None)


def test_bad_constraints() -> None:
    with pytest.raises(ConfigError, match="brand voice"):
        Constraints(brand_voice="loud")
    with pytest.raises(ConfigError):
        parse_change_interval("sometimes")


def test_cli_with_results_json_and_text(tmp_path: Path) -> None:
    summary = {"strategies": {n: m.as_dict() for n, m in strategies(**FT_BEST).items()}}
    (tmp_path / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    runner = CliRunner()
    args = ["advise", "--results", str(tmp_path), "--queries-per-month", "1000"]
    out = runner.invoke(cli, [*args, "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["strategy"] == "ft" and data["estimate"] is False and data["break_even"]["ft"] == "ft"
    out = runner.invoke(cli, [*args, "--citations"])
    assert out.exit_code == 0, out.output
    assert "Recommendation: rag" in out.output and "citations_need_retrieval" in out.output
    out = runner.invoke(cli, ["advise", "--doc-changes", "sometimes"])
    assert out.exit_code != 0 and "--doc-changes" in out.output
    out = runner.invoke(cli, ["advise", "--brand-voice", "strict", "--json"])
    assert json.loads(out.output)["estimate"] is True


def test_sources_unused_caveat_says_what_to_try() -> None:
    def summary(groundedness: float, recall: float) -> dict[str, Any]:
        rag = {"quality": 0.2, "quality_ci": [0.13, 0.26], "groundedness": groundedness, "citation_recall": 0.0,
               "retrieval_recall": recall}  # fmt: skip
        return {"strategies": {"rag": rag, "base": {"quality": 0.34, "quality_ci": [0.28, 0.4]}}}

    fired = advise(Constraints(), load_measurements(summary(0.0, 0.99)))
    (caveat,) = [f for f in fired.reasons if f.rule == "sources_unused"]
    assert "rag (recall@5 0.99 but groundedness 0.00, citation recall 0.00; quality 0.20 vs base closed book 0.34)" in (
        caveat.message
    )
    assert "sweep --rag" in caveat.message and "RAFT" in caveat.message and not caveat.excluded
    weak_retrieval = advise(Constraints(), load_measurements(summary(0.0, 0.4)))
    assert "sources_unused" not in [f.rule for f in weak_retrieval.reasons]  # then retrieval is the problem
    grounded = advise(Constraints(), load_measurements(summary(0.8, 0.99)))
    assert "sources_unused" in [f.rule for f in grounded.reasons]  # citation recall 0.0 alone still fires


def test_lenient_quality_metric_caveat_when_facts_separate_what_quality_does_not() -> None:
    def summary(base_facts_ci: list[float]) -> dict[str, Any]:
        return {
            "strategies": {
                "rag": {"quality": 0.60, "quality_ci": [0.54, 0.66], "facts": 0.27, "facts_ci": [0.16, 0.41]},
                "base": {"quality": 0.54, "quality_ci": [0.49, 0.60], "facts": 0.0, "facts_ci": base_facts_ci},
            }
        }

    fired = advise(Constraints(), load_measurements(summary([0.0, 0.0])))
    (caveat,) = [f for f in fired.reasons if f.rule == "quality_metric_lenient"]
    assert "rag vs base: quality 0.60 vs 0.54 (intervals overlap), facts stated 0.27 [0.16, 0.41] vs 0.00" in (
        caveat.message
    )
    assert "--quality facts" in caveat.message and not caveat.excluded and caveat.chosen is None
    overlapping_facts = advise(Constraints(), load_measurements(summary([0.0, 0.2])))
    assert "quality_metric_lenient" not in [f.rule for f in overlapping_facts.reasons]


def test_retriever_tuning_is_weighed_against_generator_tuning() -> None:
    def summary(tuned_ret: float, ci: list[float], setup: float) -> dict[str, Any]:
        return {
            "strategies": {
                "rag": {"quality": 0.55, "quality_ci": [0.5, 0.6], "retrieval_recall": 0.8, "setup_seconds": 60},
                "rag+tuned-retriever": {"quality": tuned_ret, "quality_ci": ci, "retrieval_recall": 0.95,
                                        "setup_seconds": setup},
                "ft": {"quality": 0.6, "quality_ci": [0.55, 0.65], "setup_seconds": 5400},
            }
        }  # fmt: skip

    def caveat(s: dict[str, Any]) -> str:
        fired = advise(Constraints(), load_measurements(s))
        (finding,) = [f for f in fired.reasons if f.rule == "retriever_vs_generator_tuning"]
        assert not finding.excluded and finding.chosen is None  # a caveat: it neither rules out nor chooses
        return finding.message

    cheap_tie = caveat(summary(0.62, [0.57, 0.67], 900))
    assert cheap_tie.startswith("tuning the retriever beats tuning the generator")
    assert "matches ft 0.60 (setup 1.5 h) for less setup" in cheap_tie
    assert "rag+tuned-retriever quality 0.62 (setup 15.0 min, recall@5 0.95)" in cheap_tie
    assert cheap_tie.endswith("against untuned rag (0.55, recall@5 0.80): no significant difference")
    assert "significantly above ft" in caveat(summary(0.8, [0.75, 0.85], 900))
    assert caveat(summary(0.4, [0.35, 0.45], 900)).startswith("tuning the generator wins here")
    assert caveat(summary(0.62, [0.57, 0.67], 9000)).startswith("no significant difference")
    # no retriever-tuned strategy: the caveat stays silent
    plain = {"strategies": {"rag": {"quality": 0.5}, "ft": {"quality": 0.6}}}
    fired = advise(Constraints(), load_measurements(plain)).reasons
    assert "retriever_vs_generator_tuning" not in [f.rule for f in fired]
