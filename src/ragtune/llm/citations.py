"""Citations in generated text: ``[n]`` markers parsed, checked against what was retrieved, cleaned.

A model may cite a source that was not given (``[7]`` of 5) or write nonsense (``[0]``): such markers are
dropped from the text and counted, so a report can show how often a model invents citations.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

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
