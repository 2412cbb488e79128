"""Filters read from the question (``[search] auto_filter``, ``ragtune search --auto-filter``).

"What were Northwind's capital expenditures in fiscal 2023?" names a company and a year; when the knowledge
base's documents carry those fields (:mod:`ragtune.kb.docmeta`) and the question names exactly one known value of
a field, that field becomes a filter. Ambiguity sets no filter: two companies named, two years compared, a
first name shared by two companies ("Northwind Turbines" and "Northwind Foods" asked about as "Northwind"), or a
value no document has. A wrong filter hides the answer while a missing one only leaves the ranking as it was,
so matching is strict: whole words, a company by its name without the legal form ("Northwind Turbines") or by
that name's first word when no other company starts with it, a year as written (``2023``, ``FY2023``,
``FY23``), a document type by the words that name it (:data:`ragtune.kb.docmeta.DOC_TYPES`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ragtune.kb.docmeta import DOC_TYPES, company_core
from ragtune.text import STOPWORDS

_NON_WORD = re.compile(r"[^\w&]+", re.UNICODE)
_YEARS = re.compile(r"\b(?:FY\s?'?)?((?:19|20)\d\d)\b|\bFY\s?'?(\d\d)\b", re.IGNORECASE)


def _normal(text: str) -> str:
    """Lower case, possessives dropped, punctuation as spaces, padded: ``" northwind turbines "``."""
    text = re.sub(r"['’]s\b", "", text.casefold())
    return f" {' '.join(_NON_WORD.sub(' ', text).split())} "


def infer_filters(question: str, revisions: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """``{field: value}`` for each of company, year and doc_type that ``question`` names unambiguously among
    the values ``revisions`` (each document's fields) hold; a company given as several spellings of one name
    maps to the list of them."""
    revisions = list(revisions)
    values: dict[str, set[str]] = {"company": set(), "year": set(), "doc_type": set()}
    for fields in revisions:
        for key, seen in values.items():
            if fields.get(key) not in (None, ""):
                seen.add(str(fields[key]))
    found: dict[str, Any] = {}
    text = _normal(question)
    company = _company(text, values["company"])
    if company:
        found["company"] = company[0] if len(company) == 1 else sorted(company)
    years = {a or f"20{b}" for a, b in _YEARS.findall(question)} & values["year"]
    if len(years) == 1:
        found["year"] = years.pop()
    types = [t for t in values["doc_type"] if any(label == t and p.search(question) for label, p in DOC_TYPES)]
    if len(types) == 1:
        found["doc_type"] = types[0]
    return _held_together(found, revisions)


def _held_together(found: dict[str, Any], revisions: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The fields in order (company, year, doc_type), each kept only if some document has it together with those
    kept before: "Acme's 2022 revenue" when only Northwind has a 2022 report filters by Acme alone."""
    kept: dict[str, Any] = {}
    for key, value in found.items():
        trial = {**kept, key: value}
        if any(all(_holds(fields.get(k), v) for k, v in trial.items()) for fields in revisions):
            kept = trial
    return kept


def _holds(have: Any, wanted: Any) -> bool:
    options = wanted if isinstance(wanted, list) else [wanted]
    return have is not None and str(have) in options


def _company(text: str, companies: set[str]) -> list[str]:
    """The spellings of the one company ``text`` names, by its whole name or by a first word no other company's
    name starts with; nothing when it names two."""
    cores: dict[str, list[str]] = {}
    for name in companies:
        core = _normal(company_core(name)).strip()
        if core:
            cores.setdefault(core, []).append(name)
    firsts: dict[str, list[str]] = {}
    for core in cores:
        first = core.split()[0]
        if len(first) >= 3 and first not in STOPWORDS and not first.isdigit():
            firsts.setdefault(first, []).append(core)
    named = {core for core in cores if f" {core} " in text}
    named = {c for c in named if not any(c != o and f" {c} " in f" {o} " for o in named)}  # the longest names
    for first, owners in firsts.items():
        if len(owners) == 1 and f" {first} " in text and not any(f" {first} " in f" {c} " for c in named):
            named.add(owners[0])
    return cores[named.pop()] if len(named) == 1 else []
