"""Metadata a document states about itself: the company it is from, its year and its kind.

Filings, reports and contracts say on their first page who issued them, for which year and what they are
("Northwind Turbines, Inc." / "Annual Report 2023", "FORM 10-K" / "For the fiscal year ended December 31,
2023"). Found there (or in the title or file name), they become metadata fields that ``--filter`` tests
(``--filter company='Northwind*' --filter year=2023``) and that :mod:`ragtune.search.autofilter` maps names in
a question to. Only short *cover lines* are read — a line of at most ``COVER_LINE_CHARS`` characters among the
first lines of the first page — so a paragraph that mentions "Acme Inc." in passing names no company. A field
the document already has (front matter, a record's field) is never replaced, and nothing is guessed: a field
that is not found is left out.
"""

from __future__ import annotations

import re

from ragtune.kb.doc_context import file_name_words
from ragtune.kb.document import Document

COVER_LINES = 25
COVER_LINE_CHARS = 90
FIRST_PAGE_CHARS = 4000

_SUFFIX = (
    r"Inc\.?|INC\.?|Incorporated|Corp\.?|CORP\.?|Corporation|CORPORATION|Company|COMPANY|Co\.|CO\.|Ltd\.?|LTD\.?"
    r"|Limited|LIMITED|LLC|L\.L\.C\.|LLP|plc|PLC|N\.V\.|AG|SE|S\.A\.|GmbH|Holdings|HOLDINGS"
)
_NAME_WORD = r"[A-Z0-9][\w&.'’-]*"
_COMPANY = re.compile(
    rf"^(?:The\s+|THE\s+)?(?P<name>{_NAME_WORD}(?:[ ,]+(?:{_NAME_WORD}|of|and|&))*?)"
    rf",?\s+(?P<suffix>{_SUFFIX})(?=[\s,.]|$)"
)
_NOT_A_NAME = {"about", "our", "your", "this", "that", "a", "an", "contact", "my", "their", "its", "each", "every"}
"""First words of headings like "About Our Company" or "Contact Your Company": not legal names."""
_YEAR = r"(?:19|20)\d\d"
_FISCAL = re.compile(
    rf"(?:fiscal\s+year|year)\s+ended\s+\w+\s+\d{{1,2}},?\s+(?P<y1>{_YEAR})|\bFY\s?'?(?P<y2>{_YEAR})\b"
    rf"|\b(?:annual|sustainability|integrated)\s+report\s+(?P<y3>{_YEAR})\b|\b(?P<y4>{_YEAR})\s+annual\s+report\b",
    re.IGNORECASE,
)
_ANY_YEAR = re.compile(rf"\b({_YEAR})\b")

DOC_TYPES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (label, re.compile(pattern, re.IGNORECASE))
    for label, pattern in (
        ("10-K", r"\b(?:form\s+)?10-?K\b"),
        ("10-Q", r"\b(?:form\s+)?10-?Q\b"),
        ("annual report", r"\bannual\s+report\b"),
        ("quarterly report", r"\bquarterly\s+report\b"),
        ("proxy statement", r"\bproxy\s+statement\b"),
        ("earnings release", r"\bearnings\s+release\b"),
        ("prospectus", r"\bprospectus\b"),
        ("invoice", r"\binvoice\b"),
        ("contract", r"\b(?:contract|agreement)\b"),
        ("policy", r"\bpolicy\b"),
        ("manual", r"\b(?:manual|handbook|user\s+guide)\b"),
        ("minutes", r"\bminutes\s+of\b"),
    )
)
"""Document kinds by the words that name them, most specific first (a 10-K is also an annual report)."""

FIELDS = ("company", "year", "doc_type")


def company_core(company: str) -> str:
    """A legal name without its legal form: "Northwind Turbines, Inc." → "Northwind Turbines"."""
    m = _COMPANY.match(company)
    return m.group("name").strip(" ,") if m is not None else company.strip()


def cover_lines(doc: Document) -> list[str]:
    """The short lines at the top of the first page (the first ``FIRST_PAGE_CHARS`` characters without pages)."""
    end = doc.page_starts[1] if doc.page_starts and len(doc.page_starts) > 1 else FIRST_PAGE_CHARS
    lines = []
    for line in doc.text[: min(end, FIRST_PAGE_CHARS)].splitlines():
        line = line.strip().lstrip("#").strip().strip("|").strip()
        if line and len(line) <= COVER_LINE_CHARS:
            lines.append(line)
        if len(lines) >= COVER_LINES:
            break
    return lines


def find_company(lines: list[str]) -> str:
    """The first cover line that is a legal name ("Northwind Turbines, Inc."), as written, trimmed."""
    for line in lines:
        m = _COMPANY.match(line)
        if m is None:
            continue
        name = m.group("name").strip(" ,")
        words = name.split()
        if not re.search(r"[A-Za-z]", name) or len(words) > 6 or words[0].casefold() in _NOT_A_NAME:
            continue
        return line[m.start() : m.end("suffix")].strip()
    return ""


def find_year(title: str, lines: list[str], first_page: str, file_words: str) -> str:
    """The year a document reports on: a stated fiscal year ("fiscal year ended ... 2023", "FY2023", "Annual
    Report 2023") in the title, cover or first page, else the one year in the title or the file name. A year
    merely mentioned in the text is not the document's ("as agreed in 2021")."""
    for text in (title, "\n".join(lines), first_page):
        m = _FISCAL.search(text)
        if m is not None:
            return next(g for g in m.groups() if g)
    for text in (title, file_words):
        years = set(_ANY_YEAR.findall(text))
        if len(years) == 1:
            return years.pop()
    return ""


def find_doc_type(title: str, lines: list[str], file_words: str) -> str:
    for text in (title, "\n".join(lines), file_words):
        for label, pattern in DOC_TYPES:
            if pattern.search(text):
                return label
    return ""


def extract_metadata(doc: Document) -> dict[str, str]:
    """``company``, ``year`` and ``doc_type`` where the document states them; absent fields are left out."""
    lines = cover_lines(doc)
    end = doc.page_starts[1] if doc.page_starts and len(doc.page_starts) > 1 else FIRST_PAGE_CHARS
    first_page = doc.text[: min(end, FIRST_PAGE_CHARS)]
    file_words = file_name_words(doc.source)
    found = {
        "company": find_company([doc.title, *lines]),
        "year": find_year(doc.title, lines, first_page, file_words),
        "doc_type": find_doc_type(doc.title, lines, file_words),
    }
    return {k: v for k, v in found.items() if v}


def add_document_metadata(doc: Document) -> None:
    """Adds the fields :func:`extract_metadata` finds to ``doc.metadata``, never replacing one already there."""
    for key, value in extract_metadata(doc).items():
        doc.metadata.setdefault(key, value)
