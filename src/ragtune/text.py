"""Plain-text primitives shared by every layer: words, stop words, search terms and sentence spans.

This module imports nothing from ragtune, so the leaves (``llm``, ``embed``) may use it as freely as ``kb``,
``search``, ``tune`` and ``evaluate`` — one place for the rules that decide what a word and a sentence are.
"""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

WORD = re.compile(r"[^\W_]+", re.UNICODE)
"""A word: a run of letters and digits (any script); underscores and punctuation separate words."""

# Lucene's English stop words plus question words and auxiliaries that carry no topic.
_STOPWORD_LIST = """
    a an and are as at be but by for if in into is it no not of on or such that the their then there
    these they this to was will with what which who whom how when where why do does did can could would
    should i you we our your my me its from has have had been being than so"""
STOPWORDS = frozenset(_STOPWORD_LIST.split())
"""Words that say nothing about a topic: dropped from search terms and from content-word counts."""


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def analyze(text: str) -> list[str]:
    """Text → search terms: lowercased words, :data:`STOPWORDS` dropped, Snowball-stemmed (in order)."""
    words = [w for w in WORD.findall(text.lower()) if w not in STOPWORDS]
    return list(_stemmer().stemWords(words))


# --- sentences -----------------------------------------------------------------------------------------

_CLOSERS = "\"'”’»)]」』*_"  # closing quotes, brackets and Markdown emphasis marks after a full stop
_OPENERS = "([{\"'“‘«"
# A sentence ends at . ! ? or … (with closers) before whitespace, or at CJK full stops.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]*_]*(?=\s)|[。！？]+[\"'”’」』)\]]*")
_NEXT_CHAR = re.compile(r"\s*(\S)")
_DOTTED_ABBREVIATION = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")  # e.g, i.e, U.S
_ABBREVIATION_LIST = """
    mr mrs ms dr prof sr jr st mt vs fig figs no nos vol vols approx cf al eq eqs ref refs sec ch pp dept ca
    resp incl esp gen col lt sgt capt rev jan feb mar apr jun jul aug sep sept oct nov dec inc ltd co corp"""
_ABBREVIATIONS = frozenset(_ABBREVIATION_LIST.split())


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` of ``text[start:end]`` (offsets into ``text``), trimmed of whitespace.

    A period ends a sentence unless the next word starts in lower case or the period closes an
    abbreviation ("Dr.", "e.g.", "et al.") or an initial ("J."); decimals and version numbers ("$12.50",
    "v1.2.3") never split because no whitespace follows their inner periods.
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    s = start
    for m in _SENTENCE_END.finditer(text, start, end):
        nxt = _NEXT_CHAR.match(text, m.end(), end)
        if nxt is None:
            break
        if nxt.group(1).islower():
            continue
        if m.group().rstrip(_CLOSERS) == ".":
            # A single period: look at the word it closes.
            i = m.start()
            while i > s and not text[i - 1].isspace():
                i -= 1
            word = text[i : m.start()].lstrip(_OPENERS)
            if (
                word.lower() in _ABBREVIATIONS
                or (len(word) == 1 and word.isalpha() and word.isupper())
                or _DOTTED_ABBREVIATION.fullmatch(word)
            ):
                continue
        spans.append((s, m.end()))
        s = nxt.start(1)
    spans.append((s, end))
    return [span for span in (_trim(text, a, b) for a, b in spans) if span[0] < span[1]]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
