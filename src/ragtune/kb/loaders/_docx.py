"""Word (.docx) files: paragraphs, headings, lists and tables in document order."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

import docx
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from docx.text.paragraph import Paragraph

from ragtune.errors import LoaderError

from ..document import Document
from ._blocks import Block, collapse_ws, flatten_table, join_blocks, table_blocks
from ._options import LoadOptions

_HEADING = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)
_LIST_LEVEL = re.compile(r"\s(\d)$")


def load_docx(path: Path, opts: LoadOptions) -> list[Document]:
    """A Word document. ``Heading N`` styles become ``#`` × N lines (``Title`` a ``#`` line), list
    paragraphs ``- `` or ``1. `` lines (indented by level), tables ``|`` rows, each where it stands in the
    body. The title is the document's Title property, else its first heading, else the file stem."""
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise LoaderError(path, f"not a valid DOCX file: {exc or type(exc).__name__}") from None
    blocks: list[Block] = []
    first_heading = ""
    n_lists = n_tables = 0
    prev_was_item = False
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            n_tables += 1
            rows = _table_rows(item)
            blocks.extend(table_blocks(rows, f"table{n_tables}"))
            prev_was_item = False
            continue
        block, heading = _paragraph_block(item)
        if block is None:
            continue
        if block.group:  # a list item; a run of them forms one list
            n_lists += 0 if prev_was_item else 1
            block = Block(block.text, f"list{n_lists}")
        prev_was_item = bool(block.group)
        first_heading = first_heading or heading
        blocks.append(block)
    text = join_blocks(blocks)
    if not text.strip():
        raise LoaderError(path, "no text in the document")
    title = collapse_ws(document.core_properties.title or "") or first_heading or path.stem
    return [Document(id="", title=title, text=text)]


def _paragraph_block(paragraph: Paragraph) -> tuple[Block | None, str]:
    """The paragraph as a Block (None when empty), and its text when it is a heading."""
    text = collapse_ws(paragraph.text)
    if not text:
        return None, ""
    style = paragraph.style.name if paragraph.style is not None else ""
    style = style or ""
    heading = _HEADING.match(style)
    if heading or style.lower() == "title":
        level = int(heading.group(1)) if heading else 1
        return Block("#" * max(level, 1) + " " + text), text
    p_pr = paragraph._p.pPr
    num_pr = p_pr.numPr if p_pr is not None else None
    if style.lower().startswith("list") or num_pr is not None:
        level = 0
        ilvl = getattr(num_pr, "ilvl", None)  # python-docx's element classes are untyped
        if ilvl is not None and ilvl.val is not None:
            level = int(ilvl.val)
        elif match := _LIST_LEVEL.search(style):
            level = int(match.group(1)) - 1
        marker = "1. " if "number" in style.lower() else "- "
        return Block("  " * level + marker + text, "list"), ""
    return Block(text), ""


def _table_rows(table: Table) -> list[list[str]]:
    """The table's cell texts row by row. A cell merged across columns is returned by python-docx once per
    grid column it spans: its text is kept in the first and the others left empty. A cell merged down
    rows keeps its text in each row. A table nested in a cell becomes part of the cell's text."""
    rows: list[list[str]] = []
    for row in table.rows:
        cells = row.cells
        out: list[str] = []
        for i, cell in enumerate(cells):
            out.append("" if i and cell._tc is cells[i - 1]._tc else _cell_text(cell))
        rows.append(out)
    return rows


def _cell_text(cell: Any) -> str:
    parts: list[str] = []
    for item in cell.iter_inner_content():
        if isinstance(item, Table):
            parts.append(flatten_table(_table_rows(item)))
        else:
            parts.append(item.text)
    return " ".join(p for p in parts if p.strip())
