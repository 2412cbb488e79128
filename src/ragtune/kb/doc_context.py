"""What a chunk is indexed with besides its own text: the contextual chunk header.

A chunk from page 60 of a filing rarely names the company or the report, so "What was Northwind's 2023 capital
expenditure?" matches every filing's cash-flow table equally. Each chunk is therefore embedded and keyword-indexed
after a short header: the document's *label* (its title, and what the file name, the PDF's running header and the
company found on its first page add to it), the headings above the chunk, and for a chunk continuing a table the
table's header row. ``[chunking] context`` picks how much:

* ``document`` (default): label › headings (+ table header);
* ``headings``: title › headings (+ table header) — ragtune before the label, kept for comparison;
* ``none``: the chunk's text alone (+ table header, which belongs to the table, not to the document).

Each part is added only when it brings a word the earlier ones lack, so a Markdown page ``pricing.md`` titled
"Pricing" gets no extra words, and the file name of a collection (JSONL records) is never used: it names no
single document.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import PurePath

from ragtune.kb.document import Document

CONTEXT_MODES = ("document", "headings", "none")
MAX_LABEL_CHARS = 160
"""What the label adds is cut at a word boundary past this: the header shares the embedder's 256-token window."""

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_HEXISH = re.compile(r"^(?:[0-9a-f]{8,}|\d+)$", re.IGNORECASE)
_YEAR = re.compile(r"^(?:19|20)\d\d$")
_GENERIC_STEMS = {"document", "doc", "file", "scan", "untitled", "final", "draft", "copy", "new", "img", "image"}


def _words(text: str) -> set[str]:
    return {w.casefold() for w in _WORD.findall(text)}


def file_name_words(source: str) -> str:
    """The words of a file's base name (``northwind_2023_annual-report.pdf`` → ``northwind 2023 annual report``),
    without numbers that look like ids or hashes and generic words (``final``, ``scan``); empty for a record of
    a collection (``corpus.jsonl#id``) or a URL-less source."""
    if not source or "#" in source:
        return ""
    stem = PurePath(source).stem
    keep = [w for w in _WORD.findall(stem) if (_YEAR.match(w) or not _HEXISH.match(w))]
    keep = [w for w in keep if w.casefold() not in _GENERIC_STEMS and (len(w) > 1 or w.isupper())]
    return " ".join(keep)


def document_label(doc: Document) -> str:
    """The document's title, followed by each of the company found on its first page, its running header (PDF)
    and its file name's words that adds a word the label lacks; the additions stop at about ``MAX_LABEL_CHARS``
    characters (the title is kept whole, as the ``headings`` mode indexes it)."""
    title = label = " ".join(doc.title.split())
    seen = _words(label)
    extras = [
        str(doc.metadata.get("company") or ""),
        str(doc.metadata.get("running_header") or ""),
        file_name_words(doc.source),
    ]
    for extra in extras:
        extra = " ".join(extra.split())
        new = _words(extra) - seen
        if not new:
            continue
        label = f"{label} · {extra}" if label else extra
        seen |= new
    if len(label) > max(MAX_LABEL_CHARS, len(title)):
        label = label[: max(MAX_LABEL_CHARS, len(title))].rsplit(" ", 1)[0]
    return label


def chunk_context(
    doc: Document, heading_path: Sequence[str], table_header: str = "", *, mode: str = "document", label: str = ""
) -> str:
    """What is indexed before a chunk's text: the document's label (``mode="document"``; pass ``label`` when it is
    already computed) or title (``"headings"``) and the headings above it, then, for a chunk that continues a
    table, the table's header row on the next lines. ``"none"`` keeps only the table header."""
    if mode not in CONTEXT_MODES:
        raise ValueError(f"chunk context mode must be one of {', '.join(CONTEXT_MODES)}, got {mode!r}")
    parts: list[str] = []
    if mode != "none":
        head = (label or document_label(doc)) if mode == "document" else doc.title
        parts = [head] if head else []
        parts += [h for h in heading_path if h and h != doc.title and h != head]
    context = " › ".join(parts)
    if table_header:
        context = f"{context}\n{table_header}" if context else table_header
    return context


def indexed_text(context: str, text: str) -> str:
    """The text that is embedded and keyword-indexed for a chunk."""
    return f"{context}\n{text}" if context else text
