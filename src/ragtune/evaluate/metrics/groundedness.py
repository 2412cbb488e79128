"""Groundedness: the share of an answer's sentences supported by the passages they cite.

Method (``docs/metrics.md``):

1. The answer is cut into sentences (:func:`ragtune.text.split_sentences`, and at line breaks, so
   list items are sentences). Each sentence's ``[n]`` markers say which passages it cites.
2. A sentence without markers borrows those of the next cited sentence in the same paragraph: writers (and
   models) often put one marker after a run of sentences drawn from one source.
3. Boilerplate — greetings and sign-offs (``boilerplate`` patterns), declines, and sentences with fewer than
   ``min_content_words`` content words ("Sure!", "Happy nesting!") — is left out of the count: it states no
   fact that needs a source.
4. Every other sentence is *supported* when, with markers stripped, it is close enough to something it cites:
   embedding cosine ≥ ``threshold`` with the cited passage or with one of its sentences, or at least
   ``overlap`` of its content words appear in that passage. A sentence that cites nothing is unsupported.

The score is supported / counted sentences; ``None`` when no sentence counts (e.g. a decline).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ragtune.evaluate.metrics.answer import EmbedFn, citation_numbers, embed_unique, is_decline, strip_citations
from ragtune.text import STOPWORDS, WORD, split_sentences

DEFAULT_THRESHOLD = 0.7  # MiniLM cosine: paraphrases of one fact score ~0.75-0.95, same-topic other facts ~0.3-0.6
DEFAULT_OVERLAP = 0.8
DEFAULT_BOILERPLATE: tuple[str, ...] = (
    r"^(?:hi|hello|hey|sure|of course|great question|thanks|thank you)\b",
    r"^(?:happy \w+|hope (?:this|that) helps|let (?:me|us) know|cheers|best regards)\b",
)
_MARKER_AFTER_STOP = re.compile(r"([.!?])(\s?\[\d+(?:\s*,\s*\d+)*\])")
# "no" and "not" stay content words here: a negated sentence must not count as supported by its opposite.
_STOP = STOPWORDS - {"no", "not"}


def _content_words(text: str) -> set[str]:
    return {w for w in WORD.findall(text.lower()) if w not in _STOP}


@dataclass
class SentenceSupport:
    """One answer sentence and how it was judged."""

    text: str
    cited: list[int]
    boilerplate: bool
    supported: bool
    similarity: float | None = None
    overlap: float | None = None


@dataclass
class GroundednessResult:
    """``score`` = supported / counted sentences (``None`` when none counts), with the per-sentence detail."""

    score: float | None
    counted: int
    supported: int
    sentences: list[SentenceSupport] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def answer_sentences(answer: str) -> list[tuple[str, list[int]]]:
    """``(sentence with markers, cited numbers)`` per sentence, uncited ones borrowing the next cited one's."""
    out: list[tuple[str, list[int]]] = []
    answer = _MARKER_AFTER_STOP.sub(r"\2\1", answer)  # "fact.[1] Next" → "fact [1]. Next": keeps [1] with its fact
    for paragraph in re.split(r"\n\s*\n", answer):
        run: list[tuple[str, list[int]]] = []
        for line in paragraph.splitlines():
            for start, end in split_sentences(line):
                sentence = line[start:end]
                if not strip_citations(sentence):
                    # A bare "[1]" after the sentence's full stop belongs to the sentence before it.
                    if run:
                        run[-1] = (run[-1][0] + " " + sentence, run[-1][1] + citation_numbers(sentence))
                    continue
                run.append((sentence, citation_numbers(sentence)))
        borrowed: list[int] = []
        for sentence, cited in reversed(run):
            borrowed = cited or borrowed
            out.append((sentence, cited or borrowed))
        out[len(out) - len(run) :] = reversed(out[len(out) - len(run) :])
    return out


def _is_boilerplate(sentence: str, patterns: Sequence[str], min_content_words: int) -> bool:
    plain = sentence.strip().lower().lstrip("-*•0123456789. ")
    if len(_content_words(plain)) < min_content_words:
        return True
    return is_decline(plain) or any(re.search(p, plain) for p in patterns)


def groundedness(
    answers: Sequence[str],
    cited_passages: Sequence[Mapping[int, str]],
    embed: EmbedFn | None = None,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    overlap: float = DEFAULT_OVERLAP,
    boilerplate: Sequence[str] = DEFAULT_BOILERPLATE,
    min_content_words: int = 3,
) -> list[GroundednessResult]:
    """Groundedness of each answer against the passages it was given (``{n: passage text}``, numbered as the
    answer's ``[n]`` markers). Without ``embed`` only word overlap counts. One ``embed`` call for the batch."""
    if len(answers) != len(cited_passages):
        raise ValueError(f"{len(answers)} answers but {len(cited_passages)} passage maps")
    plans = []
    texts: list[str] = []
    for answer, passages in zip(answers, cited_passages, strict=True):
        plan = []
        for sentence, cited in answer_sentences(answer):
            clean = strip_citations(sentence)
            skip = _is_boilerplate(clean, boilerplate, min_content_words)
            targets = [passages[n] for n in cited if n in passages]
            pieces = [t for p in targets for t in (p, *(p[s:e] for s, e in split_sentences(p)))]
            plan.append((clean, cited, skip, targets, pieces))
            if embed is not None and not skip and pieces:
                texts.extend([clean, *pieces])
        plans.append(plan)
    vectors = embed_unique(texts, embed) if embed is not None else {}

    results = []
    for plan in plans:
        judged: list[SentenceSupport] = []
        for clean, cited, skip, targets, pieces in plan:
            if skip:
                judged.append(SentenceSupport(clean, cited, True, False))
                continue
            sim = max((float(vectors[clean] @ vectors[p]) for p in pieces), default=None) if vectors else None
            words = _content_words(clean)
            share = max((len(words & _content_words(t)) / len(words) for t in targets), default=None) if words else None
            ok = bool(targets) and ((sim is not None and sim >= threshold) or (share is not None and share >= overlap))
            judged.append(SentenceSupport(clean, cited, False, ok, sim, share))
        counted = [s for s in judged if not s.boilerplate]
        n_ok = sum(s.supported for s in counted)
        results.append(GroundednessResult(n_ok / len(counted) if counted else None, len(counted), n_ok, judged))
    return results
