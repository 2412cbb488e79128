"""The public API is what ``ragtune/__init__.py`` exports; this list changes only on purpose."""

from __future__ import annotations

import ragtune

PUBLIC = [
    "Answer",
    "Chunk",
    "Citation",
    "ConfigError",
    "Diff",
    "Document",
    "EmbedderError",
    "IngestReport",
    "KnowledgeBase",
    "LoaderError",
    "ModelError",
    "NotFoundError",
    "Passage",
    "RagtuneError",
    "SchemaError",
    "SearchError",
    "StoreError",
    "VersionInfo",
    "__version__",
]


def test_public_api_is_pinned() -> None:
    assert sorted(ragtune.__all__) == PUBLIC, "ragtune.__all__ changed: update PUBLIC here only on purpose"


def test_every_public_name_resolves() -> None:
    for name in ragtune.__all__:
        assert getattr(ragtune, name) is not None, name
