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
