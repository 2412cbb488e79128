"""A retrieved passage: one chunk of one live document revision, with its score and rank."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ragtune.text import with_table_header


@dataclass
class Passage:
    """What search returns. ``chunk_id`` is the chunk's content hash; ``source`` says where to look."""

    rank: int
    score: float
    doc_id: str
    chunk_id: str
    text: str
    title: str
    source: str
    heading_path: list[str]
    page: int | None
    start: int
    end: int
    revision_id: int
    version: int
    context: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)  # per leg: lexical / dense score and rank

    @property
    def readable_text(self) -> str:
        """``text``, preceded by the header row of the table it continues, if any (what a reader is given)."""
        return with_table_header(self.context, self.text)

    @property
    def citation_source(self) -> str:
        """Human-readable origin: path, heading, page."""
        parts = [self.source.split("#", 1)[0] if "#" in self.source and self.doc_id in self.source else self.source]
        if self.heading_path:
            parts.append(" › ".join(self.heading_path))
        if self.page is not None:
            parts.append(f"p. {self.page}")
        return " — ".join(p for p in parts if p)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "doc_id": self.doc_id,
            "chunk_id": self.chunk_id,
            "score": round(float(self.score), 6),
            "source": self.citation_source,
            "title": self.title,
            "heading_path": self.heading_path,
            "page": self.page,
            "text": self.text,
        }
