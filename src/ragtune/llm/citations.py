"""Citations in generated text: ``[n]`` markers parsed, checked against what was retrieved, cleaned.

A model may cite a source that was not given (``[7]`` of 5) or write nonsense (``[0]``): such markers are
dropped from the text and counted, so a report can show how often a model invents citations.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from ragtune.text import STOPWORDS, WORD, split_sentences

# [3]  [1, 2]  [1][2]  [1,2, 3]  — one bracket group of numbers
_GROUP = re.compile(r"\s?\[(\d+(?:\s*,\s*\d+)*)\]")


@dataclass
class ParsedCitations:
    """The cleaned text, the valid source numbers in order of first use, and the invalid ones dropped."""

    text: str
    cited: list[int] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)


def parse_citations(text: str, n_sources: int) -> ParsedCitations:
    """Keep ``[n]`` for 1 ≤ n ≤ ``n_sources``; remove and record the rest."""
    cited: list[int] = []
    dropped: list[int] = []

    def fix(match: re.Match[str]) -> str:
        numbers = [int(x) for x in re.findall(r"\d+", match.group(1))]
        valid = [n for n in numbers if 1 <= n <= n_sources]
        dropped.extend(n for n in numbers if not 1 <= n <= n_sources)
        for n in valid:
            if n not in cited:
                cited.append(n)
        if not valid:
            return ""
        lead = " " if match.group(0).startswith(" ") else ""
        return lead + "".join(f"[{n}]" for n in valid)

    cleaned = _GROUP.sub(fix, text)
    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned) if dropped else cleaned
    return ParsedCitations(cleaned.strip(), cited, dropped)


class StreamingCitationFilter:
    """Cleans citation markers in streamed text: holds back a ``[...`` until it can be judged."""

    def __init__(self, n_sources: int) -> None:
        self.n_sources = n_sources
        self._held = ""

    def feed(self, piece: str) -> Iterator[str]:
        self._held += piece
        while self._held:
            start = self._held.find("[")
            if start < 0:
                out, self._held = self._held, ""
                yield out
                return
            if start > 0:
                yield self._held[:start]
                self._held = self._held[start:]
            end = self._held.find("]")
            if end < 0:
                if re.fullmatch(r"\[[\d,\s]*", self._held):
                    return  # may still become a citation: wait for more text
                yield self._held[0]
                self._held = self._held[1:]
                continue
            group, self._held = self._held[: end + 1], self._held[end + 1 :]
            yield parse_citations(group, self.n_sources).text if _GROUP.fullmatch(group) else group

    def flush(self) -> str:
        out, self._held = self._held, ""
        return out


# --- attribution: citations for an answer whose model wrote none -------------------------------------------------

ATTRIBUTE_OVERLAP = 0.5  # share of a sentence's content words that must occur in a passage to cite it


def attribute_citations(
    text: str, passages: Sequence[str], *, min_overlap: float = ATTRIBUTE_OVERLAP
) -> ParsedCitations:
    """Add ``[n]`` after each sentence of ``text`` to the passage that contains the largest share of its content
    words, when that share is at least ``min_overlap``; sentences no passage supports stay uncited.

    For models too small to write citations (SmolLM2-135M almost never does): the answer still says which
    source each statement came from, and a statement drawn from nowhere is visibly uncited. Ties go to the
    higher-ranked passage. Word overlap, not a model, so it is cheap and predictable.
    """
    words = [_content_words(p) for p in passages]
    cited: list[int] = []
    pieces: list[str] = []
    last = 0
    for start, end in split_sentences(text):
        sentence = text[start:end]
        mine = _content_words(sentence)
        best, share = 0, 0.0
        if len(mine) >= 2:
            for n, theirs in enumerate(words, start=1):
                s = len(mine & theirs) / len(mine)
                if s > share:
                    best, share = n, s
        pieces.append(text[last:end])
        if best and share >= min_overlap:
            stop = len(pieces[-1].rstrip()) - len(pieces[-1])
            body = pieces[-1][:stop] if stop else pieces[-1]
            tail = pieces[-1][len(body) :]
            if body and body[-1] in ".!?":
                body = body[:-1] + f" [{best}]" + body[-1]
            else:
                body += f" [{best}]"
            pieces[-1] = body + tail
            if best not in cited:
                cited.append(best)
        last = end
    pieces.append(text[last:])
    return ParsedCitations("".join(pieces).strip(), cited, [])


def _content_words(text: str) -> set[str]:
    return {w for w in WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 1}
