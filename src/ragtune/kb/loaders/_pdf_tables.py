"""PDF tables with their rows and columns (pdfplumber), placed where they stand in the page's text.

pypdf reads a table as loose words, a multi-line cell's lines mixed into the row's; pdfplumber finds
ruled tables (``find_tables``) and reads each cell. A page where pdfplumber finds a table is rewritten
as its lines of text outside the tables and each table as ``| a | b |`` rows (the first row followed by
a ``| --- |`` separator), in reading order by the table's top edge, so a table's words are not repeated
as loose text. Other pages keep pypdf's text. pdfplumber is imported lazily: it is slower than pypdf
(see docs/benchmarks.md, "PDF tables"), so only the pages that may hold a ruled table are given to it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._blocks import collapse_ws, join_blocks, table_blocks

# A page's content stream draws ruling lines or rectangles ("x y m x y l", "x y w h re") when it
# may hold a ruled table; pdfplumber's default ("lines") strategy finds no table without them.
_NUM = rb"-?(?:\d+\.?\d*|\.\d+)\s+"
_DRAWS_RULES = re.compile(rb"(?:^|\s)" + _NUM * 2 + rb"(?:l|" + _NUM * 2 + rb"re)(?=\s|$)")


def page_may_hold_table(content: bytes) -> bool:
    """Cheap pre-filter on a page's raw content stream: does it draw lines or rectangles at all."""
    return bool(_DRAWS_RULES.search(content))


def pages_with_tables(path: Path, page_indexes: Sequence[int]) -> dict[int, str]:
    """Page index (0-based) → that page's text with its tables as Markdown rows, for the pages among
    ``page_indexes`` where pdfplumber finds at least one table with two rows or more."""
    if not page_indexes:
        return {}
    import pdfplumber  # lazy: pdfminer is heavy, and only PDFs with ruled pages need it

    out: dict[int, str] = {}
    with pdfplumber.open(path) as pdf:
        for index in page_indexes:
            page = pdf.pages[index]
            try:
                text = _page_text(page)
            finally:
                page.close()  # pdfplumber caches each page's objects until closed
            if text is not None:
                out[index] = text
    return out


def _page_text(page: Any) -> str | None:
    tables = [t for t in page.find_tables() if len(t.rows) >= 2]
    if not tables:
        return None
    outside = page
    for table in tables:
        outside = outside.outside_bbox(table.bbox)
    # (top, order, text): lines of loose text and whole tables, merged by their top edge.
    items: list[tuple[float, int, str]] = []
    for line in outside.extract_text_lines(return_chars=False):
        text = collapse_ws(line["text"])
        if text:
            items.append((float(line["top"]), 0, text))
    for number, table in enumerate(tables):
        rows = [[cell or "" for cell in row] for row in table.extract()]
        rendered = join_blocks(table_blocks(rows, f"t{number}"))
        if rendered:
            items.append((float(table.bbox[1]), 1, rendered))
    items.sort(key=lambda item: (item[0], item[1]))
    parts: list[str] = []
    prev_table = False
    for _, is_table, text in items:
        if parts:
            # A table is its own block: blank lines around it; loose lines keep their line breaks.
            parts.append("\n\n" if is_table or prev_table else "\n")
        parts.append(text)
        prev_table = bool(is_table)
    return "".join(parts)
