"""Plain-text primitives shared by every layer: words, stop words, search terms, sentence spans and the
candidate answer sentences of a passage.

This module imports nothing from ragtune, so the leaves (``llm``, ``embed``) may use it as freely as ``kb``,
``search``, ``tune`` and ``evaluate`` — one place for the rules that decide what a word and a sentence are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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


# --- answer candidates (light Markdown) ------------------------------------------------------------------

_HEADING = re.compile(r"[ \t]{0,3}#{1,6}[ \t]+(\S.*?)[ \t#]*$")
_LIST_ITEM = re.compile(r"[ \t]*(?:[-*+•]|\d{1,9}[.)])[ \t]+")
_TABLE_ROW = re.compile(r"[ \t]*\|")
_TABLE_SEPARATOR_CELL = re.compile(r":?-{2,}:?")
_FENCE = re.compile(r"[ \t]*(```|~~~)")
_QUOTE = re.compile(r"^[ \t]*(?:>[ \t]?)+", re.MULTILINE)
_IMAGE_OR_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_STRONG = re.compile(r"\*\*|__")
_EMPHASIS = re.compile(r"(?<![\w*])\*(?=\S)|(?<=\S)\*(?![\w*])")
_SPACES = re.compile(r"\s+")


def _clean(text: str) -> str:
    """Inline Markdown → plain text: links keep their words; emphasis, code ticks, quote marks go."""
    text = _QUOTE.sub("", text)
    text = _IMAGE_OR_LINK.sub(r"\1", text)
    text = _STRONG.sub("", text)
    text = _EMPHASIS.sub("", text)
    text = text.replace("`", "")
    return _SPACES.sub(" ", text).strip()


def _cells(row: str) -> list[str]:
    row = row.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    return [_clean(c) for c in re.split(r"(?<!\\)\|", row)]


@dataclass
class AnswerCandidate:
    """One sentence, list item or table row of a passage that an extractive answer may quote."""

    start: int
    end: int
    text: str  # what the answer shows
    embed_text: str  # what is embedded (a table row with its column names)
    context: str  # the section heading above it


def answer_candidates(passage: str) -> list[AnswerCandidate]:
    """Candidate answer sentences of one passage (light Markdown), in text order: each paragraph sentence, list
    item and table row (embedded with its column names) is one; a heading is none but is the ``context`` of those
    below it; a question sentence frames the sentences after it. The extractive answerer scores them, and ingest
    stores their vectors (``kb.sentences``), so both must cut a passage the same way: this function."""
    out: list[AnswerCandidate] = []
    heading = ""
    header: list[str] | None = None  # column names of the current table
    para: list[int] | None = None  # [start, end] of the open paragraph
    item: int | None = None  # index in ``out`` of the open list item (for continuation lines)
    last_row: int | None = None  # index in ``out`` of the previous line when it was a table row

    def flush() -> None:
        nonlocal para
        if para is not None:
            context = heading
            for a, b in split_sentences(passage, para[0], para[1]):
                text = _clean(passage[a:b])
                if text.endswith("?"):
                    # A question (an FAQ's "**Q?** A.") is not an answer; it frames the sentences after it.
                    context = f"{heading} {text}"
                    continue
                out.append(AnswerCandidate(a, b, text, text, context))
        para = None

    pos = 0
    for line in passage.split("\n"):
        start, pos = pos, pos + len(line) + 1
        stripped = line.strip()
        lead = len(line) - len(line.lstrip())
        a, b = start + lead, start + lead + len(stripped)
        row_before, last_row = last_row, None
        if not stripped or _FENCE.match(line):
            flush()
            item, header = None, None
            continue
        if (m := _HEADING.match(line)) is not None:
            flush()
            item, header = None, None
            heading = _clean(m.group(1))
            continue
        if _TABLE_ROW.match(line):
            flush()
            item = None
            cells = _cells(line)
            if all(_TABLE_SEPARATOR_CELL.fullmatch(c.replace(" ", "")) for c in cells if c):
                # The row above was the header: column names, not an answer.
                if row_before is not None and row_before == len(out) - 1:
                    header = _cells(passage[out[-1].start : out[-1].end])
                    out.pop()
                continue
            filled = [c for c in cells if c]
            if filled:
                text = filled[0] if len(filled) == 1 else f"{filled[0]}: {', '.join(filled[1:])}"
                embed = text
                if header is not None and len(header) == len(cells):
                    embed = ", ".join(f"{h}: {c}" if h else c for h, c in zip(header, cells, strict=True) if c)
                out.append(AnswerCandidate(a, b, text, embed, heading))
                last_row = len(out) - 1
            continue
        if (m := _LIST_ITEM.match(line)) is not None:
            flush()
            text = _clean(line[m.end() :])
            out.append(AnswerCandidate(start + m.end(), b, text, text, heading))
            item = len(out) - 1
            continue
        if item is not None:  # a lazy continuation line of the open list item
            c = out[item]
            c.end = b
            c.text = c.embed_text = _clean(passage[c.start : b])
            continue
        if para is None:
            para = [a, b]
        else:
            para[1] = b
    flush()
    return [c for c in out if len(WORD.findall(c.text)) >= 2]


def with_table_header(context: str, text: str) -> str:
    """A passage's text as a reader needs it: when its chunk continues a table below the table's header row,
    ingest indexes that header row on the lines after the first of the chunk's ``context``; it is put back in
    front of the text here, so the rows are read (and cut into answer candidates) with their column names."""
    header = [line for line in context.split("\n")[1:] if line.lstrip().startswith("|")]
    if not header and context.lstrip().startswith("|"):  # a context with no title line
        header = [line for line in context.split("\n") if line.lstrip().startswith("|")]
    return "\n".join([*header, text]) if header else text
