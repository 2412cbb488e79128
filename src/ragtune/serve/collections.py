"""Collections: several knowledge bases served by name from one process.

Each collection is a :class:`~ragtune.knowledge_base.KnowledgeBase` with its own strategies, upload folder
and ingest jobs. Its settings come from the ragtune.toml nearest to its folder (else the one the server
found from the current directory); collections whose ``[embed]`` settings are equal share one loaded
embedder, so two collections on the default model hold it in memory once.

A request names its collection (``"collection"`` in the body or query, ``model: "STRATEGY@NAME"`` for chat);
with one collection served the name may be left out.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragtune.config import CONFIG_NAME, find_upward, load_settings, raw_config
from ragtune.errors import NotFoundError
from ragtune.serve.errors import ApiError
from ragtune.serve.keys import Principal

if TYPE_CHECKING:
    from ragtune.embed import Embedder
    from ragtune.knowledge_base import KnowledgeBase
    from ragtune.rag.strategies import StrategyProtocol as Strategy

DEFAULT = "default"
UPLOADS_DIRNAME = "uploads"


class Collection:
    """One served knowledge base (``kb`` None: strategies only, as ``create_app(strategies)`` without a KB)."""

    def __init__(self, name: str, kb: KnowledgeBase | None, strategies: Mapping[str, Strategy]) -> None:
        self.name = name
        self.kb = kb
        self.strategies = dict(strategies)
        self.write_lock = threading.Lock()  # uploads, removals and rollbacks of this collection, one at a time

    @property
    def uploads_dir(self) -> Path:
        """Where uploaded files are kept: ``<kb>/uploads/`` (never outside it)."""
        return Path(self.require_kb().path) / UPLOADS_DIRNAME

    def require_kb(self) -> KnowledgeBase:
        if self.kb is None:
            raise ApiError(404, f"the collection {self.name!r} has no knowledge base", code="no_knowledge_base")
        return self.kb

    def summary(self) -> dict[str, Any]:
        if self.kb is None:
            return {"name": self.name, "version": None, "documents": 0, "chunks": 0}
        counts = self.kb.store.counts()
        return {
            "name": self.name,
            "version": self.kb.head,
            "documents": counts["documents"],
            "chunks": counts["chunks"],
        }


class Collections:
    """The collections of one server, by name, in the order given."""

    def __init__(self, items: Mapping[str, Collection]) -> None:
        if not items:
            raise ValueError("a server needs at least one collection")
        self.items = dict(items)

    @property
    def names(self) -> list[str]:
        return list(self.items)

    def __iter__(self) -> Iterator[Collection]:
        return iter(self.items.values())

    def __len__(self) -> int:
        return len(self.items)

    def resolve(self, name: str | None, principal: Principal, *, param: str = "collection") -> Collection:
        """The collection a request names: 400 when it must name one, 404 unknown, 403 not for this key."""
        if not name:
            if len(self.items) == 1:
                name = next(iter(self.items))
            else:
                raise ApiError(
                    400,
                    f"name a collection: one of {', '.join(self.items)}",
                    param=param,
                    code="missing_required_parameter",
                )
        found = self.items.get(name)
        if found is None:
            raise ApiError(
                404,
                f"no collection {name!r}; served: {', '.join(self.items)}",
                param=param,
                code="collection_not_found",
            )
        if not principal.may_use(name):
            raise ApiError(
                403,
                f"the key {principal.name!r} may not use the collection {name!r}",
                param=param,
                code="collection_forbidden",
            )
        return found

    def readable(self, principal: Principal) -> list[Collection]:
        return [c for c in self.items.values() if principal.may_use(c.name)]

    def close(self) -> None:
        for c in self.items.values():
            if c.kb is not None:
                c.kb.close()

    @classmethod
    def single(cls, strategies: Mapping[str, Strategy], kb: KnowledgeBase | None, name: str = DEFAULT) -> Collections:
        return cls({name: Collection(name, kb, strategies)})

    @classmethod
    def open(
        cls,
        paths: Mapping[str, str | Path],
        *,
        model: str | None = None,
        adapter: str | None = None,
        embedder: Embedder | None = None,
    ) -> Collections:
        """Open each ``NAME → KB folder`` (it must exist) with its strategies; embedders shared by settings."""
        from ragtune.knowledge_base import KnowledgeBase
        from ragtune.rag.strategies import load_strategies

        embedders: dict[tuple[Any, ...], Embedder] = {}
        items: dict[str, Collection] = {}
        try:
            for name, raw in paths.items():
                path = Path(raw).expanduser()
                if not path.is_dir():
                    raise NotFoundError(f"collection {name!r}: no knowledge base at {path} (run `ragtune init`)")
                config_path = find_upward(CONFIG_NAME, path.resolve().parent) or find_upward(CONFIG_NAME)
                settings = load_settings(config_path)
                key = dataclasses.astuple(settings.embed)
                kb = KnowledgeBase.open(path, settings=settings, embedder=embedder or embedders.get(key))
                items[name] = Collection(name, kb, {})
                if embedder is None and key not in embedders:
                    embedders[key] = kb.embedder
                strategies = load_strategies(kb, model=model, adapter=adapter, config=raw_config(config_path))
                items[name].strategies = dict(strategies)
        except BaseException:
            for c in items.values():
                if c.kb is not None:
                    c.kb.close()
            raise
        return cls(items)
