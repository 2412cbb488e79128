"""``Query`` in, ``SearchResult`` out: the one type a question travels in, from the CLI or HTTP to the legs.

Every layer (``KnowledgeBase``, strategies, the pipeline, the retriever, ``ragtune search``/``ask``, the HTTP
API) passes a ``Query`` instead of re-declaring ``k, mode, at, filters, ...``. The caller's identity
(``principal``, ``groups``; :attr:`Query.access`) rides along: retrieval returns only passages of documents the
caller may read (:mod:`ragtune.kb.acl`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ragtune.kb.acl import Access
from ragtune.search.passage import Passage


@dataclass(frozen=True)
class Query:
    """What to search for and how. ``None`` means "the default of whoever answers" (the strategy's ``k`` and
    mode, then ``[search]``); ``at`` None is the head version; ``filters`` as in ``KnowledgeBase.search``."""

    text: str = ""
    k: int | None = None
    mode: str | None = None
    at: int | None = None
    filters: Mapping[str, Any] | None = None
    principal: str | None = None  # who asks: None is a trusted local caller that reads everything
    groups: tuple[str, ...] = ()  # the groups the principal holds (ragtune.kb.acl)
    auto_filter: bool | None = None  # map names in the text to filters (search.autofilter); None: [search] auto_filter

    @property
    def access(self) -> Access:
        """Who is reading, as access control sees it."""
        return Access(self.principal, tuple(self.groups))

    def replace(self, **changes: Any) -> Query:
        """A copy with some fields changed; ``None`` values leave a field as it is."""
        clean = {name: value for name, value in changes.items() if value is not None}
        return dataclasses.replace(self, **clean) if clean else self

    @classmethod
    def of(cls, query: Query | None = None, /, **fields: Any) -> Query:
        """``query`` (or an empty one) with ``fields`` (``k=``, ``at=``, ...) set where not None: how a caller's
        keyword arguments become a Query. An unknown field is a TypeError, as a misspelt keyword would be."""
        unknown = set(fields) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise TypeError(f"unknown query field(s): {', '.join(sorted(unknown))}")
        return (query or cls()).replace(**fields)


@dataclass(frozen=True)
class SearchResult:
    """The passages found for ``query``, and the knowledge-base version they were found at."""

    query: Query
    version: int
    passages: list[Passage]
    auto_filters: dict[str, Any] = field(default_factory=dict)
    """The filters :mod:`ragtune.search.autofilter` read from the question and applied (empty: none)."""
