"""The LLM judge: a configured model grades each answer 1-5 against the reference answer.

The judge is any :class:`ragtune.llm.base.Generator` (``[evaluate] judge = "openai:gpt-4o-mini"`` or an
``hf:`` model). Its reply is parsed by :func:`parse_grade`, which accepts "Grade: 4", "4/5", "4 out of 5",
"**4**" or a bare "4"; a reply with no grade is recorded as ``None`` and counted, never guessed. The grade
maps to a score in [0, 1] as (grade - 1) / 4, so it averages alongside F1 and similarity.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ragtune.llm.base import GenerationOptions, Generator, Message, generate_many

JUDGE_SYSTEM = (
    "You grade answers to questions about a product's documentation. Compare the answer with the reference "
    "answer and reply with one line, 'Grade: N', N from 1 to 5: 5 = correct and complete, 4 = correct but "
    "missing a detail, 3 = partly correct, 2 = mostly wrong, 1 = wrong, unrelated or contradicting the "
    "reference. Wording and style do not matter, only the facts. When the reference says the documents do "
    "not answer the question, an answer that declines is a 5 and an answer that states facts is a 1."
)
JUDGE_USER = "Question: {question}\n\nReference answer: {reference}\n\nAnswer to grade: {answer}\n\nGrade (1-5):"

_LABELLED = re.compile(r"\b(?:grade|score|rating)\b\W{0,4}([1-5])(?:\s*(?:/|out of)\s*5)?(?!\d|\.\d)", re.I)
_OUT_OF = re.compile(r"(?<![\d.])([1-5])\s*(?:/|out of)\s*5\b", re.I)
_BARE = re.compile(r"^\W*([1-5])\W*$")


def parse_grade(reply: str) -> int | None:
    """The 1-5 grade in a judge's reply, or ``None``.

    The last labelled grade wins ("Grade: 2 ... on reflection, Grade: 4" → 4: models that reason first
    conclude last); then "N/5" or "N out of 5"; then a reply that is only a digit. Anything else is None.
    """
    labelled = _LABELLED.findall(reply)
    if labelled:
        return int(labelled[-1])
    out_of = _OUT_OF.findall(reply)
    if out_of:
        return int(out_of[-1])
    bare = _BARE.match(reply.strip())
    return int(bare.group(1)) if bare else None


def grade_to_score(grade: int | None) -> float | None:
    """1 → 0.0, 5 → 1.0; None stays None."""
    return None if grade is None else (grade - 1) / 4


@dataclass
class JudgeVerdict:
    """One graded answer: the grade (None when unparseable), its [0, 1] score, and the judge's raw reply."""

    grade: int | None
    score: float | None
    reply: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class JudgeRun:
    """All verdicts of one run, and how many replies had no grade."""

    verdicts: list[JudgeVerdict] = field(default_factory=list)
    unparseable: int = 0
    model: str = ""


def judge_messages(question: str, answer: str, reference: str) -> list[Message]:
    """The chat messages sent to the judge for one answer."""
    user = JUDGE_USER.format(question=question.strip(), reference=reference.strip(), answer=answer.strip())
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user}]


def judge_answers(
    generator: Generator,
    questions: Sequence[str],
    answers: Sequence[str],
    references: Sequence[str],
    options: GenerationOptions | None = None,
) -> JudgeRun:
    """Grade each answer with ``generator`` (greedy, short replies unless ``options`` say otherwise)."""
    if not len(questions) == len(answers) == len(references):
        raise ValueError(f"{len(questions)} questions, {len(answers)} answers, {len(references)} references")
    opts = options or GenerationOptions(temperature=0.0, max_new_tokens=32)
    run = JudgeRun(model=getattr(generator, "name", ""))
    prompts = [judge_messages(q, a, r) for q, a, r in zip(questions, answers, references, strict=True)]
    for generation in generate_many(generator, prompts, opts):  # batched where the judge model can batch
        reply = generation.text
        grade = parse_grade(reply)
        run.unparseable += grade is None
        run.verdicts.append(JudgeVerdict(grade, grade_to_score(grade), reply))
    return run
