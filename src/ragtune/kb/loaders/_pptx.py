"""PowerPoint (.pptx) decks: one Document, one ``## Slide N: title`` section per slide."""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pptx
from pptx.exc import PackageNotFoundError
from pptx.shapes.group import GroupShape

from ragtune.errors import LoaderError

from ..document import Document
from ._blocks import Block, collapse_ws, join_blocks, table_blocks
from ._office import bad_office_file
from ._options import LoadOptions


def load_pptx(path: Path, opts: LoadOptions) -> list[Document]:
    """A slide deck. Each slide is a ``## Slide N: <title>`` section (``## Slide N`` without a title) holding
    its text frames (shapes top-to-bottom, left-to-right; groups opened), its tables as ``|`` rows and its
    speaker notes after a ``Notes:`` marker. ``page_starts`` records where each slide begins, so a chunk's
    ``page`` is its slide number; ``metadata["slides"]`` counts them. Slides with no text are still counted.
    The title is the deck's Title property, else the first slide's title, else the file stem."""
    try:
        deck = pptx.Presentation(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise bad_office_file(path, "PPTX", exc) from None
    sections: list[str] = []
    first_title = ""
    n_tables = 0
    has_text = False
    for number, slide in enumerate(deck.slides, start=1):
        title_shape = slide.shapes.title
        title = (
            collapse_ws(title_shape.text_frame.text) if title_shape is not None and title_shape.has_text_frame else ""
        )
        first_title = first_title or title
        blocks = [Block(f"## Slide {number}: {title}" if title else f"## Slide {number}")]
        for shape in _shapes(slide.shapes):
            if title_shape is not None and shape.shape_id == title_shape.shape_id:
                continue
            if getattr(shape, "has_table", False):
                n_tables += 1
                rows = [[cell.text for cell in row.cells] for row in shape.table.rows]
                blocks.extend(table_blocks(rows, f"table{n_tables}"))
            elif getattr(shape, "has_text_frame", False):
                blocks.extend(Block(p) for p in _paragraphs(shape.text_frame.text))
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            notes = _paragraphs(slide.notes_slide.notes_text_frame.text)
            if notes:
                blocks.append(Block("Notes: " + notes[0]))
                blocks.extend(Block(p) for p in notes[1:])
        has_text = has_text or bool(title) or len(blocks) > 1
        sections.append(join_blocks(blocks))
    if not has_text:
        raise LoaderError(path, "no text in the presentation" if sections else "no slides in the presentation")
    page_starts: list[int] = []
    offset = 0
    for section in sections:
        page_starts.append(offset)
        offset += len(section) + 2
    title = collapse_ws(deck.core_properties.title or "") or first_title or path.stem
    return [Document(id="", title=title, text="\n\n".join(sections), metadata={"slides": len(sections)},
                     page_starts=page_starts)]  # fmt: skip


def _shapes(shapes: Iterable[Any]) -> list[Any]:
    """The shapes in reading order (top, then left), group shapes replaced by their members."""
    flat: list[Any] = []
    for shape in shapes:
        if isinstance(shape, GroupShape):
            flat.extend(_shapes(shape.shapes))
        else:
            flat.append(shape)
    return sorted(flat, key=lambda s: (s.top if s.top is not None else 0, s.left if s.left is not None else 0))


def _paragraphs(text: str) -> list[str]:
    """A text frame's non-empty lines, whitespace collapsed (a line break in a frame starts a paragraph)."""
    return [line for line in (collapse_ws(x) for x in text.replace("\x0b", "\n").split("\n")) if line]
