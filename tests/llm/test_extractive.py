"""The extractive answerer with the real bundled embedder."""

from __future__ import annotations

import os
import re

import pytest

from ragtune.llm.extractive import NOT_FOUND, ExtractiveAnswer, ExtractiveAnswerer

PRICING = """# Plans and pricing

Driftnest has three plans. The Team plan costs $12.50 per user per month, e.g. $125 for ten people.

| Plan | Price |
| --- | --- |
| Free | $0 |
| Team | $12.50 per user per month |
| Business | $25 per user per month |
"""

ANNUAL = """# Annual billing

Paying yearly saves 20% compared with monthly billing. You can switch to annual billing at any time.
"""

TRIAL = """# Start a trial

1. Open **Admin Console > Billing**.
2. Click **Try Business free**.

Every workspace can try the *Business plan* free for 14 days, with no credit card needed.
"""

GARDENING = """# Growing tomatoes

Tomatoes need at least six hours of direct sunlight a day. Water them deeply twice a week.
"""

VOLCANO = """# Volcanoes

Mount Etna is an active stratovolcano on the east coast of Sicily. It erupts frequently.
"""


@pytest.fixture(scope="module")
def answerer() -> ExtractiveAnswerer:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from ragtune.embed import load_embedder

    return ExtractiveAnswerer(load_embedder().embed)


def citations(answer: ExtractiveAnswer) -> list[int]:
    return [int(n) for n in re.findall(r"\[(\d+)\]", answer.text)]


def test_answers_a_direct_question_from_the_right_passage(answerer: ExtractiveAnswerer) -> None:
    # A paraphrase ("free trial" vs "try ... free for 14 days") scores ~0.49, under the default min_score,
    # which is set to decline on-topic passages without the answer; this test is about which sentence wins.
    lenient = ExtractiveAnswerer(answerer.embed, min_score=0.4)
    result = lenient.answer("How long is the free trial?", [GARDENING, TRIAL, VOLCANO])
    assert result.answered
    assert "14 days" in result.text
    assert result.sentences[0].passage == 1
    assert "[2]" in result.text
    assert result.cited[0] == 1
    s = result.sentences[0]
    assert "14 days" in TRIAL[s.start : s.end]


def test_citations_point_to_the_passages_the_sentences_came_from(answerer: ExtractiveAnswerer) -> None:
    passages = [GARDENING, PRICING, ANNUAL]
    wide = ExtractiveAnswerer(answerer.embed, max_gap=1.0)  # a two-part question: keep both parts
    result = wide.answer("How much does the Team plan cost, and how much does paying yearly save?", passages)
    assert result.answered
    assert set(result.cited) >= {1, 2}
    assert result.cited == list(dict.fromkeys(s.passage for s in result.sentences))
    assert sorted(set(citations(result))) == sorted(n + 1 for n in result.cited)
    for s in result.sentences:
        assert s.text.split()[0].strip(":") in passages[s.passage]


def test_irrelevant_passages_are_declined(answerer: ExtractiveAnswerer) -> None:
    result = answerer.answer("How do I reset my password?", [GARDENING, VOLCANO])
    assert result.answered is False
    assert result.text == NOT_FOUND
    assert result.cited == [] and result.sentences == []


def test_extra_sentences_need_not_reach_min_score(answerer: ExtractiveAnswerer) -> None:
    # min_score decides whether to answer at all; supporting sentences only need min_extra_score.
    strict = ExtractiveAnswerer(answerer.embed, max_gap=1.0, min_score=0.7, min_extra_score=0.37)
    result = strict.answer("What does the Team plan cost and what does annual billing save?", [PRICING, ANNUAL])
    assert result.answered and result.best_score >= 0.7
    assert len(result.sentences) == 3 and min(s.score for s in result.sentences) < 0.7
    assert (
        ExtractiveAnswerer(answerer.embed, min_score=0.99).answer("How much is the Team plan?", [PRICING]).answered
        is False
    )


def test_no_passages_is_not_answered(answerer: ExtractiveAnswerer) -> None:
    result = answerer.answer("How much is the Team plan?", [])
    assert result.answered is False and result.text == NOT_FOUND
    assert answerer.answer("anything", ["", "# Only a heading"]).answered is False


def test_markdown_is_stripped(answerer: ExtractiveAnswerer) -> None:
    result = answerer.answer("Where do I click to start a Business trial?", [TRIAL])
    assert result.answered
    for marker in ("**", "#", "|", "`"):
        assert marker not in result.text
    assert not re.search(r"(^|\s)(\d+\.|-)\s", result.text)
    assert "Try Business free" in result.text


def test_duplicate_sentences_from_overlapping_passages_appear_once(answerer: ExtractiveAnswerer) -> None:
    first = (
        "# Annual billing\n\nWe bill on the 1st of each month. Paying yearly saves 20% compared with monthly billing."
    )
    second = "Paying yearly saves 20% compared with monthly billing. You can switch to annual billing at any time."
    result = answerer.answer("How much does annual billing save?", [first, second])
    assert result.answered
    assert result.text.count("saves 20%") == 1
    assert result.sentences[0].passage == 0  # the higher-ranked copy is kept


def test_max_sentences_is_respected(answerer: ExtractiveAnswerer) -> None:
    one = ExtractiveAnswerer(answerer.embed, max_sentences=1, max_gap=1.0)
    many = ExtractiveAnswerer(answerer.embed, max_sentences=3, max_gap=1.0)
    q = "What does the Team plan cost and what does annual billing save?"
    assert len(one.answer(q, [PRICING, ANNUAL]).sentences) == 1
    assert len(citations(one.answer(q, [PRICING, ANNUAL]))) == 1
    assert len(many.answer(q, [PRICING, ANNUAL]).sentences) == 3
    with pytest.raises(ValueError):
        ExtractiveAnswerer(answerer.embed, max_sentences=0)


def test_table_rows_answer_questions(answerer: ExtractiveAnswerer) -> None:
    table = "# Prices\n\n| Plan | Price |\n| --- | --- |\n| Free | $0 |\n| Team | $12 |\n| Business | $25 |\n"
    result = answerer.answer("How much is the Team plan?", [table])
    assert result.answered
    assert result.sentences[0].text == "Team: $12"
    assert result.text.startswith("Team: $12 [1].")
    assert table[result.sentences[0].start : result.sentences[0].end] == "| Team | $12 |"
    assert all(s.text != "Plan: Price" for s in result.sentences)  # the header row is no answer


def test_sentence_splitting_keeps_decimals_and_abbreviations(answerer: ExtractiveAnswerer) -> None:
    result = answerer.answer("How much does the Team plan cost per user?", [PRICING.split("\n\n|")[0]])
    assert result.answered
    assert "The Team plan costs $12.50 per user per month, e.g. $125 for ten people [1]." in result.text


def test_passage_scores_shift_the_prior(answerer: ExtractiveAnswerer) -> None:
    same = "Paying yearly saves 20% compared with monthly billing."
    result = answerer.answer("How much does yearly billing save?", [same, same + " "], passage_scores=[0.1, 1.0])
    assert result.answered and result.cited == [0]  # exact duplicates keep the first copy regardless
    base = answerer.answer("How much does yearly billing save?", [ANNUAL, GARDENING])
    boosted = answerer.answer("How much does yearly billing save?", [ANNUAL, GARDENING], passage_scores=[1.0, 0.0])
    assert boosted.best_score == pytest.approx(base.best_score, abs=1e-6)
