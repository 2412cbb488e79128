"""The exception tree.

Every error ragtune raises on purpose derives from :class:`RagtuneError`::

    RagtuneError
    ├── ConfigError        a setting is missing, malformed or contradictory
    ├── LoaderError        a file could not be turned into a Document (carries .path and .reason)
    ├── StoreError         the knowledge-base store refused an operation
    │   ├── NotFoundError  a document, version or chunk that does not exist
    │   └── SchemaError    the store was written by an incompatible ragtune
    ├── EmbedderError      the embedding model could not be loaded or run
    ├── ModelError         a language model could not be loaded or run
    ├── DatasetError       a training or eval data file is malformed (carries .path, .line and .reason)
    └── SearchError        a query could not be run (bad mode, bad filter, bad version)

Backend errors (the store's database, transformers, parsers) are caught at the boundary and re-raised as the
most specific of these, with the file, field or id that caused them in the message.
"""

from __future__ import annotations

from pathlib import Path


class RagtuneError(Exception):
    """Base class of all errors ragtune raises on purpose."""


class ConfigError(RagtuneError):
    """A setting is missing, malformed or contradictory."""


class LoaderError(RagtuneError):
    """A file could not be loaded; ``path`` and ``reason`` say which and why."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class StoreError(RagtuneError):
    """The knowledge-base store refused an operation."""


class NotFoundError(StoreError):
    """A document, version or chunk that does not exist."""


class SchemaError(StoreError):
    """The store's schema is newer than this ragtune understands, or damaged."""


class EmbedderError(RagtuneError):
    """The embedding model could not be loaded or run."""


class ModelError(RagtuneError):
    """A language model could not be loaded or run."""


class SearchError(RagtuneError):
    """A query could not be run (unknown mode, bad filter, unknown version)."""


class DatasetError(RagtuneError):
    """A training or eval data file is malformed; ``path``, ``line`` (1-based, or None) and ``reason`` say where."""

    def __init__(self, path: str | Path, line: int | None, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        super().__init__(f"{self.path}:{line}: {reason}" if line is not None else f"{self.path}: {reason}")
