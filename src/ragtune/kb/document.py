"""The units of the knowledge base: a loaded Document and the Chunks cut from it."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Document:
    """One source document, as text.

    ``text`` is plain text in a light Markdown dialect whatever the source format: headings are lines
    starting with ``#`` (one per level), list items start with ``-`` or ``1.``, table rows are ``| a | b |``
    lines, and paragraphs are separated by blank lines. Loaders of structured formats (HTML, DOCX, PDF)
    translate into this dialect so one chunker can follow the structure of every format.

    ``page_starts[i]`` is the character offset in ``text`` where page ``i + 1`` begins (PDF only).
    """

    id: str
    title: str
    text: str
    source: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    page_starts: list[int] | None = None

    def page_at(self, offset: int) -> int | None:
        """The 1-based page number that contains character ``offset``, or None without pages."""
        if not self.page_starts:
            return None
        return max(1, bisect.bisect_right(self.page_starts, offset))


@dataclass(frozen=True)
class Chunk:
    """A passage cut from a Document: ``text == document.text[start:end]``.

    ``heading_path`` is the chain of headings above the chunk (outermost first); ``page`` is the page of
    ``start`` for paged formats; ``table_header`` the header row of a table the chunk continues.
    ``n_tokens`` counts the embedder's tokens of ``text`` (no special tokens).
    """

    doc_id: str
    ord: int
    text: str
    start: int
    end: int
    heading_path: tuple[str, ...] = ()
    page: int | None = None
    n_tokens: int = 0
    table_header: str = ""
    """When the chunk starts inside a table below the table's header row: that header row (and its
    ``| --- |`` separator line), which the chunk's text does not hold; indexed with the chunk's context."""
