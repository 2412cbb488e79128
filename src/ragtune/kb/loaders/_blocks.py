"""Writing the Document dialect from structured formats (HTML, DOCX): blocks, list items, table rows."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_WS = re.compile(r"\s+")


def collapse_ws(text: str) -> str:
    """Runs of whitespace (including newlines and no-break spaces) become one space; ends are stripped."""
    return _WS.sub(" ", text).strip()


@dataclass(frozen=True)
class Block:
    """A paragraph-level piece of output. Consecutive blocks with the same non-empty ``group`` (the rows
    of one table, the items of one list) are joined by a newline; everything else by a blank line."""

    text: str
    group: str = ""


def join_blocks(blocks: Sequence[Block]) -> str:
    """The blocks as dialect text."""
    parts: list[str] = []
    prev_group = ""
    for block in blocks:
        if parts:
            parts.append("\n" if block.group and block.group == prev_group else "\n\n")
        parts.append(block.text)
        prev_group = block.group
    return "".join(parts)


def flatten_table(rows: Sequence[Sequence[str]]) -> str:
    """A table nested in a cell, as the cell's text: cells joined by `` / ``, rows by ``; ``."""
    cells = [[collapse_ws(c) for c in row] for row in rows]
    return "; ".join(" / ".join(c for c in row if c) for row in cells if any(row))


def table_blocks(rows: Sequence[Sequence[str]], group: str) -> list[Block]:
    """Table rows as ``| a | b |`` lines, the first row followed by a ``| --- |`` separator so the table
    is also valid Markdown. Empty rows are dropped; short rows are padded to the widest. A merged cell is
    written by the loaders in the first column it spans (the others empty) and repeated in each row it
    spans, so every row reads on its own."""
    cleaned = [[collapse_ws(c).replace("|", "\\|") for c in row] for row in rows]
    cleaned = [row for row in cleaned if any(row)]
    if not cleaned:
        return []
    width = max(len(row) for row in cleaned)
    lines = ["| " + " | ".join(row + [""] * (width - len(row))) + " |" for row in cleaned]
    lines.insert(1, "|" + " --- |" * width)
    return [Block(line, group) for line in lines]


# A long table (a spreadsheet) is written as consecutive tables of at most this many characters, each
# starting with the header row, so whichever chunk a row lands in carries the column names. The chunker
# keeps ``chunk.text == document.text[start:end]``, so the repetition has to be in the text itself. About
# 150 tokens of English-ish cells: a part fits the default 200-token chunk whole.
TABLE_PART_CHARS = 600


def long_table_blocks(rows: Sequence[Sequence[str]], group: str, max_chars: int = TABLE_PART_CHARS) -> list[Block]:
    """Like :func:`table_blocks` (first row = header), but cut into parts of whole rows, each part at most
    ``max_chars`` long where a row allows and each starting with the header row and its separator. Parts
    are separate blocks (a blank line between them)."""
    lines = [b.text for b in table_blocks(rows, group)]
    if len(lines) <= 2:
        return [Block(line, group) for line in lines]
    head, body = lines[:2], lines[2:]
    head_len = sum(len(line) + 1 for line in head)
    blocks: list[Block] = []
    part: list[str] = []
    size = head_len
    n_part = 0

    def close() -> None:
        nonlocal n_part
        n_part += 1
        blocks.extend(Block(line, f"{group}.{n_part}") for line in [*head, *part])

    for line in body:
        if part and size + len(line) + 1 > max_chars:
            close()
            part, size = [], head_len
        part.append(line)
        size += len(line) + 1
    close()
    return blocks


def cell_text(value: object) -> str:
    """A spreadsheet cell's value as text: empty for None, ``3`` for 3.0, ISO 8601 for dates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):
        return str(isoformat())
    return str(value)


def trim_rows(rows: Sequence[Sequence[str]]) -> list[list[str]]:
    """Rows without their trailing empty cells, and without empty rows at the end."""
    out = [list(row) for row in rows]
    for row in out:
        while row and not row[-1].strip():
            row.pop()
    while out and not out[-1]:
        out.pop()
    return out
