"""Question/answer pairs written by a language model from one chunk, parsed robustly.

The model is asked for ``Q:``/``A:`` lines; :func:`parse_qa` also accepts numbered or bold variants and a JSON
list of ``{"question", "answer"}`` objects, because models drift from the format. A pair is kept only if the
question looks like a question and the answer is grounded in the chunk (most of its content words occur in
it); outputs with no usable pair are counted as unparseable, never guessed at.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ragtune.llm.base import GenerationOptions, Generator, Message, generate_many
from ragtune.text import STOPWORDS
from ragtune.tune.data.similarity import normalize_text

SYSTEM = (
    "You write question-and-answer pairs for training a support assistant. Questions are what a user would "
    "really ask. Answers are short, correct and use only facts stated in the passage."
)
USER = (
    'Passage from "{where}":\n<passage>\n{text}\n</passage>\n\n'
    "Write up to {n} different questions that this passage answers, each followed by its answer. "
    "Use exactly this format and nothing else:\n\nQ: <question>\nA: <answer>\n"
)
MIN_GROUNDING = 0.6  # share of the answer's content words that must occur in the passage

_QA_LINE = re.compile(
    r"^\s*(?:[-*]\s*|\d+[.)]\s*)?(?:\*\*)?(?P<tag>Q|Question|A|Answer)\s*\d*\s*[:.)]\s*(?:\*\*)?\s*(?P<text>.*)$",
    re.IGNORECASE,
)
# The shared stop words plus filler that a generated answer adds around the passage's facts.
_STOP = STOPWORDS | frozenset(["about", "also", "here", "just", "may", "might", "out", "those", "up", "were", "yes"])


@dataclass(frozen=True)
class GeneratedPair:
    question: str
    answer: str


def qa_messages(text: str, where: str, n: int) -> list[Message]:
    """The prompt asking a model for ``n`` pairs about ``text``."""
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": USER.format(where=where, text=text.strip(), n=n)},
    ]


def parse_qa(text: str) -> list[GeneratedPair]:
    """The (question, answer) pairs in a model's output: ``Q:``/``A:`` lines (numbered, bulleted or bold too)
    or a JSON list of objects with ``question`` and ``answer``. Malformed parts are skipped."""
    pairs = _parse_json(text)
    if pairs:
        return pairs
    out: list[GeneratedPair] = []
    question: str | None = None
    answer: list[str] = []
    tag = ""

    def flush() -> None:
        if question and answer:
            out.append(GeneratedPair(question.strip(), " ".join(a.strip() for a in answer if a.strip())))

    for line in text.splitlines():
        m = _QA_LINE.match(line)
        if m and m.group("tag").lower().startswith("q"):
            flush()
            question, answer, tag = m.group("text").strip(), [], "q"
        elif m and question is not None:
            answer, tag = [m.group("text")], "a"
        elif tag == "a" and line.strip():
            answer.append(line)  # an answer may run over several lines
        elif tag == "q" and line.strip() and not answer:
            question = f"{question} {line.strip()}"
    flush()
    return [p for p in out if p.question and p.answer]


def _parse_json(text: str) -> list[GeneratedPair]:
    start, end = text.find("["), text.rfind("]")
    if start < 0 or end <= start:
        return []
    try:
        data = json.loads(text[start : end + 1])
    except ValueError:
        return []
    if not isinstance(data, list):
        return []
    out = []
    for item in data:
        if isinstance(item, dict):
            q, a = item.get("question") or item.get("q"), item.get("answer") or item.get("a")
            if isinstance(q, str) and isinstance(a, str) and q.strip() and a.strip():
                out.append(GeneratedPair(q.strip(), a.strip()))
    return out


def _content_words(text: str) -> list[str]:
    return [w for w in normalize_text(text).split() if w not in _STOP]


def grounding(answer: str, passage: str) -> float:
    """Share of the answer's content words (not stop words) that occur in the passage."""
    words = _content_words(answer)
    if not words:
        return 0.0
    vocab = set(normalize_text(passage).split())
    return sum(1 for w in words if w in vocab) / len(words)


def acceptable(pair: GeneratedPair, passage: str) -> str | None:
    """Why a generated pair is rejected (None when it is kept)."""
    q, a = pair.question, pair.answer
    if not q.endswith("?") or not 8 <= len(q) <= 300 or len(_content_words(q)) < 1:
        return "not a question"
    if not 2 <= len(a) <= 2000 or normalize_text(a) == normalize_text(q):
        return "bad answer"
    if grounding(a, passage) < MIN_GROUNDING:
        return "answer not grounded in the passage"
    return None


@dataclass
class PromptedResult:
    """What one chunk gave: kept pairs, whether the output parsed at all, and how many pairs were rejected."""

    pairs: list[GeneratedPair]
    parsed: bool
    rejected: int


def generate_pairs(
    generator: Generator,
    text: str,
    where: str,
    n: int,
    options: GenerationOptions | None = None,
) -> PromptedResult:
    """Ask ``generator`` for up to ``n`` pairs about ``text``; parse and filter its answer."""
    return generate_pairs_many(generator, [(text, where)], n, options)[0]


def generate_pairs_many(
    generator: Generator,
    chunks: Sequence[tuple[str, str]],
    n: int,
    options: GenerationOptions | None = None,
) -> list[PromptedResult]:
    """:func:`generate_pairs` for many ``(text, where)`` chunks, generated in batches where the model can."""
    opts = options or GenerationOptions(temperature=0.0, max_new_tokens=96 * max(n, 1))
    gens = generate_many(generator, [qa_messages(text, where, n) for text, where in chunks], opts)
    out = []
    for (text, _), gen in zip(chunks, gens, strict=True):
        parsed = parse_qa(gen.text)
        good = [p for p in parsed if acceptable(p, text) is None]
        out.append(PromptedResult(good[:n], bool(parsed), len(parsed) - len(good)))
    return out
