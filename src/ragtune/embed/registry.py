"""Embedders by backend name: a registry of factories a plugin or a test can extend.

``[embed] model`` is a model name or path for the default backend (sentence-transformers), or
``BACKEND:MODEL`` for a registered backend. A factory takes the model and the ``[embed]`` settings
(``precision``, ``batch_size``, ``query_backend``, ``query_precision``) and returns an
:class:`~ragtune.embed.base.Embedder`::

    from ragtune.embed.registry import register_embedder

    register_embedder("hashing", lambda model, **settings: HashingEmbedder(dim=int(model or 256)))
    # [embed] model = "hashing:384"

Loaded embedders are shared per (backend, model, settings): loading a model costs seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ragtune.embed.base import DEFAULT_MODEL, Embedder

DEFAULT_BACKEND = "sentence-transformers"
EmbedderFactory = Callable[..., Embedder]


def _sentence_transformers(model: str, **settings: Any) -> Embedder:
    from ragtune.embed.sentence import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(model, **settings)


_BUILTIN: dict[str, EmbedderFactory] = {DEFAULT_BACKEND: _sentence_transformers}
_factories: dict[str, EmbedderFactory] = dict(_BUILTIN)
_CACHE: dict[tuple[Any, ...], Embedder] = {}
_LOCK = threading.Lock()


def register_embedder(name: str, factory: EmbedderFactory) -> None:
    """Use ``factory`` for ``[embed] model = "NAME:MODEL"``, replacing any backend registered as ``name``."""
    with _LOCK:
        _factories[name] = factory


def unregister_embedder(name: str) -> None:
    """Forget the backend ``name``; a built-in one comes back."""
    with _LOCK:
        if name in _BUILTIN:
            _factories[name] = _BUILTIN[name]
        else:
            _factories.pop(name, None)


def embedder_backends() -> list[str]:
    """The registered backend names, sorted."""
    with _LOCK:
        return sorted(_factories)


def parse_embedder_spec(spec: str) -> tuple[str, str]:
    """``(backend, model)``: ``NAME:MODEL`` when ``NAME`` is a registered backend, else the default backend and
    the whole spec (a hub id or a path, which may itself contain a colon)."""
    name, sep, model = spec.partition(":")
    with _LOCK:
        known = sep and name in _factories
    return (name, model) if known else (DEFAULT_BACKEND, spec)


def load_embedder(
    model: str = DEFAULT_MODEL,
    *,
    precision: str = "auto",
    batch_size: int = 64,
    query_backend: str = "auto",
    query_precision: str = "auto",
) -> Any:
    """A shared embedder per (backend, model, precision, batch size, query backend)."""
    backend, name = parse_embedder_spec(model)
    key = (backend, name, precision, batch_size, query_backend, query_precision)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        factory = _factories[backend]
    embedder = factory(
        name,
        precision=precision,
        batch_size=batch_size,
        query_backend=query_backend,
        query_precision=query_precision,
    )
    with _LOCK:
        return _CACHE.setdefault(key, embedder)
