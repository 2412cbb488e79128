"""The rerank stage: an optional reordering of the fused passages, chosen by name (``[search] rerank``).

Built in: ``none``, ``cross-encoder:PATH`` (a cross-encoder directory) and the name of one trained into the
knowledge base (``ragtune tune-reranker --name NAME``: ``<kb>/rerankers/NAME``). The default, ``none``, leaves the
order as fusion made it and costs nothing. A reranker (a cross-encoder, an LLM judge) sees the query and the
``depth`` best fused passages (``k`` when its depth is 0) and returns them in its order; deeper passages follow
in fusion's order, and the retriever keeps the first ``k`` and renumbers their ranks. Register one as loaders and
store backends are::

    from ragtune.search.rerank import register_reranker

    class LengthReranker:                      # a toy: shortest passage first
        depth = 20
        def rerank(self, query, passages):
            return sorted(passages, key=lambda p: len(p.text))

    register_reranker("shortest", lambda settings: LengthReranker())
    # ragtune.toml:  [search]  rerank = "shortest"
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from ragtune.config import SearchSettings
from ragtune.errors import SearchError
from ragtune.search.passage import Passage
from ragtune.search.query import Query


class Reranker(Protocol):
    """Reorders retrieved passages. ``depth``: how many fused candidates it wants to see (0: just the k)."""

    depth: int

    def rerank(self, query: Query, passages: list[Passage]) -> list[Passage]: ...


class NoRerank:
    """The default: fusion's order, unchanged."""

    depth = 0

    def rerank(self, query: Query, passages: list[Passage]) -> list[Passage]:
        return passages


RERANKER_DIR = "rerankers"  # trained cross-encoders inside a knowledge base, one folder per name
RerankerFactory = Callable[[SearchSettings], Reranker]

_BUILTIN: dict[str, RerankerFactory] = {"none": lambda settings: NoRerank()}
_rerankers: dict[str, RerankerFactory] = dict(_BUILTIN)
_lock = threading.Lock()


def register_reranker(name: str, factory: RerankerFactory) -> None:
    """Make ``[search] rerank = NAME`` build its reranker with ``factory(search_settings)`` (replacing any)."""
    with _lock:
        _rerankers[name] = factory


def unregister_reranker(name: str) -> None:
    """Forget reranker ``name`` (a built-in one comes back)."""
    with _lock:
        if name in _BUILTIN:
            _rerankers[name] = _BUILTIN[name]
        else:
            _rerankers.pop(name, None)


def reranker_names() -> list[str]:
    return sorted(_rerankers)


def trained_rerankers(kb_root: Path | None) -> list[str]:
    """Names of the rerankers trained into a knowledge base (``ragtune tune-reranker``: ``<kb>/rerankers/NAME``)."""
    folder = kb_root / RERANKER_DIR if kb_root is not None else None
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder is not None and folder.is_dir() else []


def reranker_named(name: str, settings: SearchSettings, kb_root: Path | None = None) -> Reranker:
    """The reranker registered as ``name``; a cross-encoder directory as ``cross-encoder:PATH``
    (:mod:`ragtune.search.cross_encoder`); or one trained into the knowledge base at ``kb_root`` by name.
    SearchError naming the setting when there is none."""
    path = name.removeprefix("cross-encoder:") if name.startswith("cross-encoder:") else None
    if path is None and name not in _rerankers and name in trained_rerankers(kb_root):
        path = str(kb_root / RERANKER_DIR / name)  # type: ignore[operator]
    if path is not None:
        from ragtune.search.cross_encoder import CrossEncoderReranker

        return CrossEncoderReranker(path, depth=settings.rerank_depth)
    factory = _rerankers.get(name)
    if factory is None:
        known = (*reranker_names(), *trained_rerankers(kb_root), "cross-encoder:PATH")
        raise SearchError(f"search.rerank must be one of {known}, not {name!r}")
    return factory(settings)
