"""Answer metrics against hand-checked cases: SQuAD EM/F1, similarity, citations, declining, groundedness."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from ragtune.embed import Embedder
from ragtune.evaluate.metrics.answer import (
    citation_scores,
    decline_outcome,
    exact_match,
    facts_stated,
    is_decline,
    semantic_similarity,
    squad_normalize,
    squad_scores,
    stated_numbers,
    strip_citations,
    token_f1,
)
from ragtune.evaluate.metrics.groundedness import answer_sentences, groundedness
from ragtune.evaluate.metrics.judge import JUDGE_SYSTEM, judge_answers, parse_grade
from ragtune.evaluate.run.scoring import AnswerCase, decline_phrases_from_config, score_answers
from ragtune.llm.base import Generation, GenerationOptions, Generator, Message
from ragtune.llm.extractive import NOT_FOUND
from ragtune.llm.prompts import NOT_IN_SOURCES

# --- SQuAD ---------------------------------------------------------------------------------------------------


def test_squad_normalization_follows_the_official_script() -> None:
    assert squad_normalize("The  Denver Broncos!") == "denver broncos"
    assert squad_normalize("an apple, a pear") == "apple pear"
    # punctuation goes before articles: "The-end" becomes one word and keeps its "the"
    assert squad_normalize("The-end") == "theend"
    assert squad_normalize("Theatre of the absurd") == "theatre of absurd"
    assert squad_normalize("  ") == ""


def test_exact_match_and_f1_by_hand() -> None:
    assert exact_match("the Denver Broncos.", "Denver Broncos") == 1.0
    assert exact_match("Denver", "Denver Broncos") == 0.0
    # prediction "denver broncos won" vs "broncos": 1 common; P = 1/3, R = 1/1 → F1 = 0.5
    assert token_f1("Denver Broncos won", "the Broncos") == pytest.approx(0.5)
    # repeated tokens count as often as both sides have them (Counter intersection): "a a b" vs "a b b"
    assert token_f1("x x y", "x y y") == pytest.approx(2 / 3)
    assert token_f1("", "anything") == 0.0
    assert token_f1("the", "a") == 0.0  # both normalise to nothing


def test_squad_scores_take_the_best_reference() -> None:
    out = squad_scores("$12 per user", ["Twelve dollars", "$12 per user per month"])
    assert out["em"] == 0.0
    assert out["f1"] == pytest.approx(2 * (3 / 3) * (3 / 5) / (1 + 3 / 5))  # "12 per user" vs 5 tokens
    assert squad_scores("x", []) == {"em": None, "f1": None}


def test_strip_citations() -> None:
    assert strip_citations("It costs $12 [1]. Also [2, 3] this[4].") == "It costs $12. Also this."
    assert squad_normalize(strip_citations("Denver [1].")) == "denver"


# --- similarity ----------------------------------------------------------------------------------------------


class CountingEmbed:
    """A deterministic bag-of-letters embedder that records its calls (to check batching)."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), 26), dtype=np.float32)
        for i, t in enumerate(texts):
            for ch in t.lower():
                if "a" <= ch <= "z":
                    out[i, ord(ch) - 97] += 1
        return out  # not normalised on purpose: the metric must normalise


def test_semantic_similarity_is_batched_and_takes_the_best_reference() -> None:
    embed = CountingEmbed()
    out = semantic_similarity(["abc [1]", "zzz", "q"], [["abc", "xyz"], ["zz", "abc"], []], embed)
    assert out[0] == pytest.approx(1.0) and out[1] == pytest.approx(1.0) and out[2] is None
    assert len(embed.calls) == 1 and len(embed.calls[0]) == len(set(embed.calls[0]))


def test_semantic_similarity_with_the_real_embedder(embedder: Embedder) -> None:
    same, other = semantic_similarity(
        ["The Team plan costs $12 per user each month.", "You can restore deleted files from the trash."],
        [["Team is $12 per user per month on monthly billing."]] * 2,
        embedder.embed,
    )
    assert same is not None and other is not None
    assert same > 0.7 > other


# --- citations -----------------------------------------------------------------------------------------------


def test_stated_numbers_are_normalized() -> None:
    assert stated_numbers("The Team plan costs $12.00 per user per month [1].") == {"12"}
    assert stated_numbers("1,000 files of 12.50 MB; two seats; steps 3,4") == {"1000", "12.5", "2", "3", "4"}
    assert stated_numbers("Trash keeps files for thirty days.") == {"30"}
    assert stated_numbers("No number here.") == set()


def test_facts_stated_needs_every_number_of_a_reference() -> None:
    ref = ["The Team plan costs $12 per user per month, or $120 per year."]
    assert facts_stated("It is $12 a month or $120 a year [1].", ref) == 1.0
    assert facts_stated("The Team plan costs $12 per user per month.", ref) == 0.0  # half the facts
    assert facts_stated("The Team plan costs $100 per user per month, or $1,200 per year.", ref) == 0.0  # fluent
    assert facts_stated("twelve dollars", ["$12", "$15"]) == 1.0  # the best reference
    assert facts_stated("Yes, you can.", ["Yes, owners can export the workspace."]) is None  # does not apply


def test_citation_precision_and_recall() -> None:
    assert citation_scores(["a.md", "b.md", "a.md"], ["a.md", "c.md"]) == {"precision": 0.5, "recall": 0.5}
    assert citation_scores(["./billing\\plans.md"], ["billing/plans.md"]) == {"precision": 1.0, "recall": 1.0}
    assert citation_scores([], ["a.md"]) == {"precision": None, "recall": 0.0}  # nothing claimed
    assert citation_scores(["a.md"], []) == {"precision": None, "recall": None}  # unanswerable: n/a


# --- declining -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        NOT_FOUND,
        NOT_IN_SOURCES,
        "I don’t know.",
        "Sorry, I couldn't find that in the help center.",
        "The documents do not mention a HIPAA BAA [1].",
        "The help center does not say.",
        "I don't have enough information to answer that.",
        "We were unable to find anything about that.",
        "I can't answer that from these sources.",
        "",
    ],
)
def test_declines_are_detected(text: str) -> None:
    assert is_decline(text)


@pytest.mark.parametrize(
    "text",
    [
        "The Team plan costs $12 per user per month [1].",
        "No, you cannot find deleted Nests after 30 days.",
        "Admins can't answer guest invites for you.",
    ],
)
def test_answers_are_not_declines(text: str) -> None:
    assert not is_decline(text)


def test_decline_phrases_are_configurable() -> None:
    phrases = decline_phrases_from_config({"evaluate": {"decline_phrases": [r"\bask our support team\b"]}})
    assert is_decline("Please ask our support team.", phrases)
    assert not is_decline("Please ask our support team.")


def test_decline_outcome() -> None:
    assert decline_outcome(True, unanswerable=True) == {
        "declined": True,
        "correct_decline": True,
        "false_decline": None,
    }
    assert decline_outcome(True, unanswerable=False)["false_decline"] is True
    assert decline_outcome(False, unanswerable=True)["correct_decline"] is False


# --- groundedness --------------------------------------------------------------------------------------------

PASSAGES = {
    1: "The Team plan costs $12 per user per month when billed monthly. Annual billing is $10 per user per month.",
    2: "Deleted files stay in the trash for 30 days on the Team plan.",
}


def test_sentences_borrow_the_next_marker_in_their_paragraph() -> None:
    out = answer_sentences("Sure! Team is $12 monthly. Annual is $10 [1].\n\nTrash keeps files 30 days [2].\nThanks")
    assert [c for _, c in out] == [[1], [1], [1], [2], []]
    assert answer_sentences("One fact.[1] Two facts.[2]")[0][1] == [1]


def test_groundedness_by_word_overlap() -> None:
    [g] = groundedness(
        ["Sure! The Team plan costs $12 per user per month [1]. Deleted files stay 30 days in the trash [2]. "
         "The Team plan includes 5 TB of storage."],
        [PASSAGES],
    )  # fmt: skip
    assert g.counted == 3 and g.supported == 2 and g.score == pytest.approx(2 / 3)
    assert g.sentences[0].boilerplate  # "Sure!" is not counted
    assert not g.sentences[-1].supported and g.sentences[-1].cited == []  # uncited → unsupported


def test_groundedness_with_embeddings_accepts_paraphrase_and_rejects_wrong_source(embedder: Embedder) -> None:
    paraphrase = "If you pay each month, Team is twelve dollars for every user [1]."
    wrong_source = "If you pay each month, Team is twelve dollars for every user [2]."
    words_only = groundedness([paraphrase], [PASSAGES])[0]
    good, bad = groundedness([paraphrase, wrong_source], [PASSAGES, PASSAGES], embedder.embed)
    assert words_only.score == 0.0  # few shared words
    assert good.score == 1.0 and good.sentences[0].similarity is not None
    assert bad.score == 0.0


def test_groundedness_of_a_decline_is_none() -> None:
    [g] = groundedness([NOT_FOUND], [{}])
    assert g.score is None and g.counted == 0


# --- LLM judge -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "grade"),
    [
        ("Grade: 4", 4),
        ("grade: 2.", 2),
        ("**Grade:** 5", 5),
        ("4/5", 4),
        ("I'd give it 3 out of 5.", 3),
        (" 1 ", 1),
        ("Grade: 2. On reflection the answer is right. Grade: 5", 5),
        ("The answer is correct.", None),
        ("Grade: 4.5", None),
        ("10", None),
        ("Version 1.5 applies", None),
    ],
)
def test_parse_grade(reply: str, grade: int | None) -> None:
    assert parse_grade(reply) == grade


class ScriptedJudge:
    """A real Generator implementation whose replies are fixed (the judge model is outside our reach)."""

    name = "scripted-judge"
    context_window = 4096

    def __init__(self, replies: list[str]) -> None:
        self.replies = list(replies)
        self.seen: list[list[Message]] = []

    def generate(self, messages: list[Message], options: GenerationOptions | None = None, **kw: Any) -> Generation:
        self.seen.append(messages)
        text = self.replies.pop(0)
        return Generation(text, self.count_tokens(str(messages)), self.count_tokens(text), 0.0, model=self.name)

    def stream(
        self, messages: list[Message], options: GenerationOptions | None = None, **kw: Any
    ) -> Iterator[str | Generation]:
        gen = self.generate(messages, options)
        yield gen.text
        yield gen

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def test_judge_flow_counts_unparseable_replies() -> None:
    judge = ScriptedJudge(["Grade: 5", "It is fine", "Grade: 1"])
    assert isinstance(judge, Generator)
    run = judge_answers(judge, ["q1", "q2", "q3"], ["a1", "a2", "a3"], ["r1", "r2", "r3"])
    assert [v.grade for v in run.verdicts] == [5, None, 1]
    assert [v.score for v in run.verdicts] == [1.0, None, 0.0]
    assert run.unparseable == 1 and run.model == "scripted-judge"
    assert judge.seen[1][0]["content"] == JUDGE_SYSTEM and "Reference answer: r2" in judge.seen[1][1]["content"]


# --- everything at once --------------------------------------------------------------------------------------


def test_score_answers_applies_the_conventions() -> None:
    cases = [
        AnswerCase(
            question="How much is Team monthly?",
            answer="The Team plan costs $12 per user per month [1].",
            references=["The Team plan costs $12 per user per month when billed monthly."],
            reference_sources=["billing/plans.md"],
            cited_doc_ids=["billing/plans.md"],
            cited_passages={1: PASSAGES[1]},
            retrieved_doc_ids=["billing/plans.md", "billing/plans.md", "files/trash.md"],
        ),
        AnswerCase(
            question="Is there a BAA?",
            answer=NOT_FOUND,
            references=["The help center does not say."],
            unanswerable=True,
            answered=False,
        ),
        AnswerCase(
            question="q",
            answer="The Team plan costs $99 per user [1].",
            references=["Twelve dollars."],
            reference_sources=["b.md"],
        ),
    ]
    judge = ScriptedJudge(["Grade: 5", "nonsense"])
    rows = score_answers(cases, embed=CountingEmbed(), judge=judge)
    first, second, third = rows
    assert first["f1"] == pytest.approx(
        2 * 1 * (8 / 11) / (1 + 8 / 11)
    )  # 8 of 11 reference tokens and first["em"] == 0.0
    assert first["citation_precision"] == 1.0 and first["groundedness"] == 1.0 and first["judge"] == 1.0
    assert first["mrr"] == 1.0 and first["recall@1"] == 1.0
    assert second["em"] == second["f1"] == second["semantic"] == second["judge"] == 1.0  # declining is right
    assert first["facts"] == 1.0 and second["facts"] == 1.0 and third["facts"] == 0.0  # $99 is not twelve
    assert second["correct_decline"] is True and second["groundedness"] is None and second["mrr"] is None
    assert third["judge"] is None and third["judge_unparseable"] is True
    assert third["groundedness"] == 0.0  # cites [1] but no passage was given for it
    assert third["citation_precision"] is None and third["citation_recall"] == 0.0
    assert third["style_similarity"] is None and third["mrr"] is None  # no style, closed book
    import json

    json.dumps(rows)  # plain JSON
