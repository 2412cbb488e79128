"""Per-document access control: who may read a document (its ``acl``) and who is reading (:class:`Access`).

A document's acl is the list of groups allowed to read it, kept in its revision's metadata under the key
``"acl"`` (sorted, unique). No acl (absent, empty, or ``"*"``) means everyone. The acl comes from
``ragtune ingest --acl g1,g2`` (which replaces what files declare), a JSON/JSONL record's ``acl`` field, or
Markdown/text front matter (``acl: g1`` or ``acl: [g1, g2]``).

A reader is an :class:`Access`: ``principal`` None is a trusted local caller (the CLI, the library) who reads
everything; otherwise the caller reads a document when it holds one of the document's groups, or the group
``"*"`` (an administrator). Retrieval filters before ranking, so a restricted caller's results are those of a
knowledge base holding only the documents it may read (``ragtune.search``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

EVERYONE = "*"
ACL_KEY = "acl"  # the metadata key a document's acl is stored under

# A group name: letters, digits and ``_ . : @ / + -``, not starting with punctuation that reads as an option.
_GROUP = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:@/+\-]*$")
MAX_GROUP_LEN = 128


def normalize_acl(value: Any, *, where: str) -> tuple[str, ...]:
    """``"g1,g2"`` | ``["g1", "g2"]`` | ``"*"`` | None → the sorted unique groups; ``()`` means everyone.

    ``"*"`` anywhere makes the document readable by everyone. A value of another type, or a group name that is
    empty or has characters other than letters, digits and ``_ . : @ / + -``, is a ValueError naming ``where``
    (a file and field, a flag)."""
    if value is None:
        return ()
    if isinstance(value, str):
        items: list[Any] = value.split(",")
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
    else:
        raise ValueError(f"{where}: acl must be a string 'g1,g2' or a list of group names, not {type(value).__name__}")
    groups: set[str] = set()
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"{where}: acl group names must be strings, not {type(item).__name__} ({item!r})")
        name = item.strip()
        if not name and isinstance(value, str) and value.strip() == "":
            continue  # "" as a whole: no acl
        if name == EVERYONE:
            return ()
        if not name or len(name) > MAX_GROUP_LEN or not _GROUP.match(name):
            raise ValueError(
                f"{where}: bad acl group name {item!r} (letters, digits and _ . : @ / + -, at most "
                f"{MAX_GROUP_LEN} characters; '*' means everyone)"
            )
        groups.add(name)
    return tuple(sorted(groups))


def acl_of(metadata: dict[str, Any] | None) -> tuple[str, ...]:
    """The acl stored in a revision's metadata (already normalized at ingest; tolerant of older shapes)."""
    if not metadata:
        return ()
    raw = metadata.get(ACL_KEY)
    if not raw:
        return ()
    if isinstance(raw, str):
        raw = raw.split(",")
    groups = tuple(str(g).strip() for g in raw)
    return () if EVERYONE in groups else groups


@dataclass(frozen=True)
class Access:
    """Who is reading. ``principal`` None: a trusted local caller (CLI, library) that reads everything; a caller
    holding the group ``"*"`` reads everything too (administrators)."""

    principal: str | None = None
    groups: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        groups = self.groups.split(",") if isinstance(self.groups, str) else self.groups  # not letter by letter
        object.__setattr__(self, "groups", tuple(sorted({g.strip() for g in groups if g.strip()})))

    @property
    def unrestricted(self) -> bool:
        """True when this caller reads every document (no filtering needed)."""
        return self.principal is None or EVERYONE in self.groups

    def can_read(self, acl: Sequence[str]) -> bool:
        """Whether this caller may read a document with ``acl`` (``()``: everyone)."""
        if self.unrestricted or not acl:
            return True
        if EVERYONE in acl:
            return True
        return any(g in acl for g in self.groups)

    def can_read_metadata(self, metadata: dict[str, Any] | None) -> bool:
        """:meth:`can_read` for a revision's metadata."""
        return self.unrestricted or self.can_read(acl_of(metadata))

    @property
    def key(self) -> tuple[str, ...] | None:
        """What a cache of per-caller results is keyed by: None for every unrestricted caller, else the groups."""
        return None if self.unrestricted else self.groups


ALL = Access()
