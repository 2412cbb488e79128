"""Per-answer metrics: SQuAD EM/F1, semantic similarity, facts stated, citation precision/recall, declining.

Every function is pure and returns plain values (floats, bools, ``None`` where a metric does not apply to a
question), so per-answer results serialise to JSON as they are. Groundedness lives in
:mod:`ragtune.evaluate.metrics.groundedness`, style in :mod:`ragtune.evaluate.metrics.style`, the LLM judge in
:mod:`ragtune.evaluate.metrics.judge`, retrieval metrics in :mod:`ragtune.evaluate.metrics.retrieval`, and
:func:`ragtune.evaluate.run.scoring.score_answers` applies them all to a list of answers. Definitions:
``docs/metrics.md``.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from ragtune.llm.extractive import NOT_FOUND
from ragtune.llm.prompts import NOT_IN_SOURCES

EmbedFn = Callable[[list[str]], np.ndarray]

# --- SQuAD v1.1 EM / F1 ----------------------------------------------------------------------------------

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def squad_normalize(text: str) -> str:
    """SQuAD v1.1's official ``normalize_answer``: lowercase, drop punctuation, drop a/an/the, collapse spaces.

    The steps run in the official order (lower → punctuation → articles → whitespace), so
    ``"The-end"`` → ``"theend"`` exactly as the official script does.
    """
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, reference: str) -> float:
    """1.0 when the normalized strings are equal, else 0.0."""
    return float(squad_normalize(prediction) == squad_normalize(reference))


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1: harmonic mean of token precision and recall over the normalized bags of words."""
    pred = squad_normalize(prediction).split()
    ref = squad_normalize(reference).split()
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision = same / len(pred)
    recall = same / len(ref)
    return 2 * precision * recall / (precision + recall)


def squad_scores(prediction: str, references: Sequence[str]) -> dict[str, float | None]:
    """``{"em", "f1"}``: the maximum over the references (as SQuAD scores several gold answers); None if none."""
    if not references:
        return {"em": None, "f1": None}
    return {
        "em": max(exact_match(prediction, r) for r in references),
        "f1": max(token_f1(prediction, r) for r in references),
    }


# [3]  [1, 2]  [1][2] — the markers the RAG prompt asks for (as ragtune.llm.citations parses them)
_CITATION = re.compile(r"\s?\[\d+(?:\s*,\s*\d+)*\]")


def strip_citations(text: str) -> str:
    """The text without ``[n]`` markers (so "$12 [1]." compares equal to "$12.")."""
    return re.sub(r"[ \t]+([.,;:!?])", r"\1", _CITATION.sub("", text)).strip()


def citation_numbers(text: str) -> list[int]:
    """The ``[n]`` numbers in ``text``, in order of first use."""
    out: list[int] = []
    for m in _CITATION.finditer(text):
        for n in (int(x) for x in re.findall(r"\d+", m.group())):
            if n not in out:
                out.append(n)
    return out


# --- semantic similarity -----------------------------------------------------------------------------------


def embed_unique(texts: Iterable[str], embed: EmbedFn) -> dict[str, np.ndarray]:
    """Text → unit vector, embedding each distinct text once in ONE ``embed`` call."""
    unique = list(dict.fromkeys(texts))
    if not unique:
        return {}
    vectors = np.asarray(embed(unique), dtype=np.float32)
    if vectors.shape[0] != len(unique):
        raise ValueError(f"embed returned {vectors.shape[0]} vectors for {len(unique)} texts")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = (vectors / np.where(norms > 0, norms, 1.0)).astype(
        np.float32
    )  # defensive: the protocol promises unit vectors
    return dict(zip(unique, vectors, strict=True))


def semantic_similarity(
    answers: Sequence[str], references: Sequence[Sequence[str]], embed: EmbedFn
) -> list[float | None]:
    """Cosine of answer and reference embeddings, the maximum over each answer's references.

    Citation markers are stripped first. One batched ``embed`` call for all distinct texts; ``None`` for an
    answer without references.
    """
    if len(answers) != len(references):
        raise ValueError(f"{len(answers)} answers but {len(references)} reference lists")
    clean = [strip_citations(a) for a in answers]
    vectors = embed_unique([*clean, *(r for refs in references for r in refs)], embed)
    out: list[float | None] = []
    for answer, refs in zip(clean, references, strict=True):
        if not refs:
            out.append(None)
            continue
        out.append(max(float(vectors[answer] @ vectors[r]) for r in refs))
    return out


# --- facts stated ---------------------------------------------------------------------------------------------

# A number as written: 1,000 / 12.50 / 30 (thousands commas only in groups of three, so "3,4" is two numbers)
_NUMBER = re.compile(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_SMALL = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
_NUMBER_WORDS = {w: str(i) for i, w in enumerate([*_SMALL.split(), "seventeen", "eighteen", "nineteen", "twenty"])}
_NUMBER_WORDS |= {"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "ninety": "90", "hundred": "100"}
_WORD = re.compile(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b", re.IGNORECASE)


def stated_numbers(text: str) -> set[str]:
    """The numbers a text states, normalized: ``"1,000"`` → ``1000``, ``"$12.50"`` → ``12.5``, ``"12.00"`` →
    ``12``, and number words up to twenty and the round tens ("two" → ``2``). Citation markers are ignored."""
    plain = _WORD.sub(lambda m: _NUMBER_WORDS[m.group(1).lower()], strip_citations(text))
    out = set()
    for m in _NUMBER.findall(plain):
        n = m.replace(",", "")
        if "." in n:
            n = n.rstrip("0").rstrip(".")
        out.add(n)
    return out


def facts_stated(answer: str, references: Sequence[str]) -> float | None:
    """1.0 when the answer states every number of a reference (the prices, limits, days, counts a help-center
    answer turns on), else 0.0; the maximum over references. None when no reference states a number: the
    check does not apply. Stricter than semantic similarity, which scores "$100 per user" close to "$12 per user"."""
    wanted = [nums for r in references if (nums := stated_numbers(r))]
    if not wanted:
        return None
    have = stated_numbers(answer)
    return max(float(nums <= have) for nums in wanted)


# --- citations -----------------------------------------------------------------------------------------------


def _doc_key(doc_id: str) -> str:
    """Doc ids compare with ``\\`` as ``/`` and without a leading ``./`` (eval sets are hand-written)."""
    key = doc_id.strip().replace("\\", "/")
    return key[2:] if key.startswith("./") else key


def citation_scores(cited_doc_ids: Iterable[str], reference_sources: Iterable[str]) -> dict[str, float | None]:
    """Citation ``precision`` and ``recall`` of one answer against the reference sources (doc ids).

    - precision = share of the distinct cited documents that are reference sources;
    - recall = share of the reference sources that are cited.

    No reference sources (an unanswerable question): both ``None`` — whether it was right to answer at all is
    the declining metric's job. Reference sources but no citations: precision ``None`` (nothing was
    claimed, so a mean skips it), recall 0.0.
    """
    cited = {_doc_key(d) for d in cited_doc_ids}
    sources = {_doc_key(d) for d in reference_sources}
    if not sources:
        return {"precision": None, "recall": None}
    hit = len(cited & sources)
    return {"precision": hit / len(cited) if cited else None, "recall": hit / len(sources)}


# --- declining ----------------------------------------------------------------------------------------------

# Regular expressions matched (search, case-insensitive) against the answer with curly quotes made straight.
DEFAULT_DECLINE_PHRASES: tuple[str, ...] = (
    re.escape(NOT_FOUND.lower().rstrip(".")),
    re.escape(NOT_IN_SOURCES.lower().rstrip(".")),
    r"\bi (?:don't|do not) know\b",
    # "cannot find" alone also occurs in answers ("you cannot find deleted files after 30 days"): require a
    # first-person subject or an object that is the answer itself
    r"\b(?:i|we)(?: was| am| were|'m)? (?:couldn't|could not|can't|cannot|can not|unable to|not able to) find\b",
    r"\b(?:couldn't|could not|can't|cannot|unable to) find (?:an? |the |any )?(?:answer|information|mention|details)\b",
    r"\b(?:i|we)(?: am| are|'m)? (?:can't|cannot|can not|unable to|not able to) answer\b",
    r"\b(?:don't|do not) have (?:enough |any |that )?(?:information|details|data)\b",
    r"\bno (?:information|mention|details?) (?:about|on|of|regarding)\b",
    r"\b(?:documents?|sources?|help center|knowledge base|context|passages?) (?:doesn't|does not|don't|do not)"
    r" (?:say|mention|specify|cover|contain|include|state)\b",
    r"\bnot (?:mentioned|covered|specified|stated) in the (?:documents?|sources?|help center|knowledge base)\b",
)


def _plain(text: str) -> str:
    return text.lower().replace("’", "'").replace("‘", "'")


def is_decline(text: str, phrases: Sequence[str] | None = None) -> bool:
    """Whether the answer declines to answer: it matches one of ``phrases`` (regexes; default
    :data:`DEFAULT_DECLINE_PHRASES`, extended with ``[evaluate] decline_phrases`` by
    :func:`ragtune.evaluate.run.scoring.decline_phrases_from_config`), or is empty."""
    plain = _plain(strip_citations(text))
    if not plain.strip():
        return True
    return any(re.search(p, plain) for p in (DEFAULT_DECLINE_PHRASES if phrases is None else phrases))


def decline_outcome(declined: bool, unanswerable: bool) -> dict[str, bool | None]:
    """``declined``, ``correct_decline`` (unanswerable questions only) and ``false_decline`` (answerable only).

    The rates over a set are the means of the two flags, each over the questions where it is not None.
    """
    return {
        "declined": declined,
        "correct_decline": declined if unanswerable else None,
        "false_decline": None if unanswerable else declined,
    }
