"""The decision rules. Each is a small function of the :class:`Situation`; it returns a :class:`Finding`
(what fired, with the numbers) or None. *Requirement* rules rule options out; *choice* rules pick among
what is left; *caveats* rule nothing out and choose nothing, but qualify the numbers the choice rests on.
The table in ``docs/advise.md`` lists them; each has a test that flips the recommendation (or, for a caveat,
adds it).

A requirement rule never rules out every remaining option: when nothing left would satisfy it, the finding
says so and the options stay (the team must relax a constraint; the advice shows which).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ragtune.advise.inputs import SIMPLICITY, Constraints, MeasuredStrategy

DAY_S = 86_400.0


@dataclass
class Finding:
    """One rule that fired: its name, what it found (with numbers), and whom it ruled out or chose."""

    rule: str
    message: str
    excluded: dict[str, str] = field(default_factory=dict)  # strategy → why
    chosen: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "message": self.message, "excluded": self.excluded, "chosen": self.chosen}


@dataclass
class Situation:
    """Everything a rule may look at: constraints, strategies still in the running, and how they compare."""

    constraints: Constraints
    strategies: dict[str, MeasuredStrategy]
    remaining: list[str]
    monthly_cost: dict[str, float | None]
    better: Callable[[str, str], bool]  # better(a, b): a's quality is significantly above b's

    def live(self) -> list[MeasuredStrategy]:
        return [self.strategies[n] for n in self.remaining]


def _exclude(rule: str, situation: Situation, excluded: dict[str, str], why: str) -> Finding | None:
    if not excluded:
        return None
    if len(excluded) == len(situation.remaining):
        details = "; ".join(f"{n}: {r}" for n, r in excluded.items())
        return Finding(rule, f"{why} ({details}); no option satisfies it, so none is ruled out by it (relax it)")
    return Finding(rule, why, excluded)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


# --- requirement rules ---------------------------------------------------------------------------------------


def documents_change_faster_than_retraining(s: Situation) -> Finding | None:
    """Docs change so often that a closed-book model would lag behind them more than ``max_stale_share`` of
    the time (time to reflect a change = its retraining time) → it needs retrieval."""
    days = s.constraints.doc_change_days
    if days is None:
        return None
    window = s.constraints.max_stale_share * days * DAY_S
    excluded = {}
    for m in s.live():
        lag = m.freshness_seconds if m.freshness_seconds is not None else m.setup_seconds
        if not m.retrieval and lag > window:
            stale = f"; {m.stale_rate:.0%} of changed facts answered stale" if m.stale_rate is not None else ""
            excluded[m.name] = (
                f"reflecting a change takes {_hours(lag)} (retraining) but documents change every {days:g} days: "
                f"stale {min(lag / (days * DAY_S), 1):.0%} of the time > {s.constraints.max_stale_share:.0%}{stale}"
            )
    return _exclude("documents_change_faster_than_retraining", s, excluded, "documents change faster than retraining")


def citations_need_retrieval(s: Situation) -> Finding | None:
    """Citations are required → only strategies that retrieve sources can cite them."""
    if not s.constraints.citations_required:
        return None
    excluded = {m.name: "cannot cite sources: it answers closed-book" for m in s.live() if not m.retrieval}
    return _exclude("citations_need_retrieval", s, excluded, "citations are required")


def strict_brand_voice_needs_tuning(s: Situation) -> Finding | None:
    """A strict brand voice → a fine-tuned model (ft or hybrid); prompting alone does not hold a voice."""
    if s.constraints.brand_voice != "strict":
        return None
    excluded = {}
    for m in s.live():
        if not m.tuned:
            score = f" (style score {m.style_score:.2f})" if m.style_score is not None else ""
            excluded[m.name] = f"not trained on the brand voice{score}"
    return _exclude("strict_brand_voice_needs_tuning", s, excluded, "a strict brand voice is required")


def too_few_examples(s: Situation) -> Finding | None:
    """Fewer examples available than a fine-tuned strategy needs (learning-curve estimate, the examples
    the measured run used, or the typical need) → that strategy is out."""
    have = s.constraints.examples_available
    if have is None:
        return None
    excluded = {}
    for m in s.live():
        need = m.examples_needed if m.examples_needed is not None else m.examples_used
        if m.tuned and need and have < need:
            excluded[m.name] = f"needs about {need} training examples, {have} available"
    return _exclude("too_few_examples", s, excluded, "too few training examples")


def latency_target(s: Situation) -> Finding | None:
    """p95 latency above the target → out (e.g. RAG's long prompts miss a target a fine-tuned model meets)."""
    target = s.constraints.latency_target_ms
    if target is None:
        return None
    excluded = {
        m.name: f"p95 latency {m.latency_p95_ms:.0f} ms > target {target:.0f} ms"
        for m in s.live()
        if m.latency_p95_ms is not None and m.latency_p95_ms > target
    }
    return _exclude("latency_target", s, excluded, f"p95 latency must be ≤ {target:.0f} ms")


def over_budget(s: Situation) -> Finding | None:
    """Monthly cost (per-query cost × volume + setup × retrainings per month) above the budget → out."""
    budget = s.constraints.budget_per_month
    if budget is None:
        return None
    excluded = {}
    for name in s.remaining:
        cost = s.monthly_cost.get(name)
        if cost is not None and cost > budget:
            excluded[name] = f"costs ${cost:,.2f}/month > budget ${budget:,.2f}"
    return _exclude("over_budget", s, excluded, f"budget ${budget:,.2f}/month")


REQUIREMENTS: tuple[Callable[[Situation], Finding | None], ...] = (
    citations_need_retrieval,
    documents_change_faster_than_retraining,
    strict_brand_voice_needs_tuning,
    too_few_examples,
    latency_target,
    over_budget,
)

# --- choice rules ----------------------------------------------------------------------------------------------


def _quality(m: MeasuredStrategy) -> float:
    return m.quality if m.quality is not None else float("-inf")


def significantly_best_quality(s: Situation) -> Finding | None:
    """One option's quality is significantly above every other remaining one → choose it."""
    best = max(s.live(), key=_quality)
    others = [n for n in s.remaining if n != best.name]
    if best.quality is None or not others or not all(s.better(best.name, n) for n in others):
        return None
    rest = ", ".join(f"{n} {_quality(s.strategies[n]):.2f}" for n in others)
    return Finding(
        "significantly_best_quality",
        f"{best.name} quality {best.quality:.2f} is significantly above {rest}",
        chosen=best.name,
    )


def nice_brand_voice_prefers_tuning(s: Situation) -> Finding | None:
    """A brand voice that is nice to have → among options of equal quality, keep the fine-tuned ones."""
    if s.constraints.brand_voice != "nice":
        return None
    tied = tied_with_best(s)
    tuned = [n for n in tied if s.strategies[n].tuned]
    if not tuned or len(tuned) == len(tied):
        return None
    excluded = {n: "equal quality but not trained on the brand voice" for n in tied if n not in tuned}
    return Finding(
        "nice_brand_voice_prefers_tuning",
        "brand voice is nice to have: prefer a tuned model at equal quality",
        excluded,
    )


def tied_with_best(s: Situation) -> list[str]:
    """The remaining options whose quality is not significantly below the best one's."""
    best = max(s.live(), key=_quality)
    return [n for n in s.remaining if n == best.name or not s.better(best.name, n)]


def quality_tie_prefers_cheaper(s: Situation) -> Finding | None:
    """Quality differences that are not significant → the cheapest per month, then the simplest, wins."""
    tied = tied_with_best(s)

    def key(n: str) -> tuple[float, int]:
        cost = s.monthly_cost.get(n)
        return (cost if cost is not None else float("inf"), SIMPLICITY.index(n) if n in SIMPLICITY else len(SIMPLICITY))

    pick = min(tied, key=key)
    if len(tied) == 1:
        return Finding("quality_tie_prefers_cheaper", f"{pick} is the only option left", chosen=pick)
    costs = ", ".join(f"{n} ${s.monthly_cost[n]:,.2f}" if s.monthly_cost.get(n) is not None else f"{n} ?" for n in tied)
    return Finding(
        "quality_tie_prefers_cheaper",
        f"quality of {', '.join(tied)} not significantly different; cheapest per month (then simplest): {costs}",
        chosen=pick,
    )


CHOICES: tuple[Callable[[Situation], Finding | None], ...] = (
    significantly_best_quality,
    nice_brand_voice_prefers_tuning,
    quality_tie_prefers_cheaper,
)


# --- caveats ---------------------------------------------------------------------------------------------------


def stale_fine_tuned_model(s: Situation) -> Finding | None:
    """A tuned strategy's model was trained on documents that have changed since (``ragtune models check``) →
    its measured quality is an upper bound on today's answers: retrain it, or prefer a retrieval strategy."""
    stale = [m for m in s.strategies.values() if m.tuned and m.model_stale]
    if not stale:
        return None
    which = ", ".join(
        m.name + (f" ({m.docs_changed} documents changed since its training data)" if m.docs_changed else "")
        for m in stale
    )
    return Finding(
        "stale_fine_tuned_model",
        f"stale fine-tuned model: {which}; facts it learned may be out of date, so its measured quality is an "
        "upper bound on today's answers: retrain it (`ragtune models check NAME` lists what changed) or prefer a "
        "retrieval strategy",
    )


SOURCES_FOUND = 0.7  # recall@5 at or above this: retrieval found the right documents
SOURCES_UNUSED = 0.3  # groundedness or citation recall below this: the answers did not use them


def sources_unused(s: Situation) -> Finding | None:
    """A retrieval strategy finds the right documents (recall@5 ≥ 0.7) but its answers do not use them
    (groundedness or citation recall < 0.3) → the model ignores its sources; say what to try."""
    found = []
    for m in s.strategies.values():
        if not m.retrieval or m.retrieval_recall is None or m.retrieval_recall < SOURCES_FOUND:
            continue
        used = [v for v in (m.groundedness, m.citation_recall) if v is not None]
        if used and min(used) < SOURCES_UNUSED:
            closed = s.strategies.get("ft" if m.tuned else "base")
            vs = (
                f"; quality {m.quality:.2f} vs {closed.name} closed book {closed.quality:.2f}"
                if closed is not None and closed.quality is not None and m.quality is not None
                else ""
            )
            g = f"groundedness {m.groundedness:.2f}" if m.groundedness is not None else "groundedness n/a"
            c = f"citation recall {m.citation_recall:.2f}" if m.citation_recall is not None else "citations n/a"
            found.append(f"{m.name} (recall@5 {m.retrieval_recall:.2f} but {g}, {c}{vs})")
    if not found:
        return None
    return Finding(
        "sources_unused",
        "answers do not use the retrieved sources: " + "; ".join(found) + ". Retrieval finds the right documents "
        "and the model ignores them: try fewer passages or a smaller source budget and the compact prompt layout "
        "(`ragtune sweep --rag` on a dev split), a RAFT-trained hybrid (`data build --raft`), a larger model, or "
        "the extractive answerer",
    )


def _overlap(x: tuple[float, float], y: tuple[float, float]) -> bool:
    return x[0] <= y[1] and y[0] <= x[1]


def quality_metric_lenient(s: Situation) -> Finding | None:
    """A retrieval strategy and its closed-book twin (rag ↔ base, hybrid ↔ ft) have overlapping quality intervals,
    but on the facts check (every number of the reference stated) the retrieval strategy's interval lies above
    → the quality metric credits fluent answers with wrong facts; say so and how to rank by facts."""
    found = []
    for m in s.strategies.values():
        closed = s.strategies.get("ft" if m.tuned else "base")
        if not m.retrieval or closed is None or closed.retrieval:
            continue
        if m.quality_ci is None or closed.quality_ci is None or m.facts_ci is None or closed.facts_ci is None:
            continue
        if _overlap(m.quality_ci, closed.quality_ci) and m.facts_ci[0] > closed.facts_ci[1]:
            found.append(
                f"{m.name} vs {closed.name}: quality {_num(m.quality)} vs {_num(closed.quality)} (intervals overlap), "
                f"facts stated {_num(m.facts)} [{m.facts_ci[0]:.2f}, {m.facts_ci[1]:.2f}] vs {_num(closed.facts)} "
                f"[{closed.facts_ci[0]:.2f}, {closed.facts_ci[1]:.2f}]"
            )
    if not found:
        return None
    return Finding(
        "quality_metric_lenient",
        "the quality metric does not separate answers with the right facts from fluent ones with wrong facts: "
        + "; ".join(found)
        + ". The closed-book answers sound right but state other numbers; when your answers turn on prices, limits "
        "or dates, rank by the facts (`ragtune compare --quality facts`)",
    )


def _setup(m: MeasuredStrategy) -> str:
    return f"setup {m.setup_seconds / 60:.1f} min" if m.setup_seconds < 3600 else f"setup {_hours(m.setup_seconds)}"


def retriever_vs_generator_tuning(s: Situation) -> Finding | None:
    """A strategy with a trained retriever (``+tuned-retriever``/``+rerank``) was measured → say whether tuning the
    retriever beats tuning the generator (the best fine-tuned strategy): at least as good (not significantly worse)
    for less setup time, or significantly better; else whether it improved on plain retrieval at all."""
    tuned_ret = [m for m in s.strategies.values() if m.retriever_tuned and m.quality is not None]
    if not tuned_ret:
        return None
    best = max(tuned_ret, key=_quality)
    gens = [m for m in s.strategies.values() if m.tuned and not m.retriever_tuned and m.quality is not None]
    plain = s.strategies.get("rag-extractive" if best.name.startswith("rag-extractive") else "rag")
    said = f"{best.name} quality {best.quality:.2f} ({_setup(best)}, recall@5 {_num(best.retrieval_recall)})"
    if gens:
        gen = max(gens, key=_quality)
        vs = f"{gen.name} {gen.quality:.2f} ({_setup(gen)})"
        if s.better(best.name, gen.name):
            verdict = f"tuning the retriever beats tuning the generator: {said} is significantly above {vs}"
        elif not s.better(gen.name, best.name) and best.setup_seconds <= gen.setup_seconds:
            verdict = f"tuning the retriever beats tuning the generator: {said} matches {vs} for less setup"
        elif s.better(gen.name, best.name):
            verdict = f"tuning the generator wins here: {vs} is significantly above {said}"
        else:
            verdict = f"no significant difference between {said} and {vs}; the generator costs less to tune here"
    else:
        verdict = f"{said}; no fine-tuned generator was measured to compare with"
    if plain is not None and plain.quality is not None:
        if s.better(best.name, plain.name):
            gain = "significantly better"
        elif s.better(plain.name, best.name):
            gain = "significantly worse"
        else:
            gain = "no significant difference"
        recall = _num(plain.retrieval_recall)
        verdict += f"; against untuned {plain.name} ({plain.quality:.2f}, recall@5 {recall}): {gain}"
    return Finding("retriever_vs_generator_tuning", verdict)


def _num(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "n/a"


CAVEATS: tuple[Callable[[Situation], Finding | None], ...] = (
    stale_fine_tuned_model,
    sources_unused,
    quality_metric_lenient,
    retriever_vs_generator_tuning,
)
