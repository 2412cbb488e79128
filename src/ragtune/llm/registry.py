"""Generators by spec: ``extractive``, ``hf:PATH_OR_ID``, ``openai:MODEL``, or a bundled model's short name
(``smollm2``, see :mod:`ragtune.llm.bundled`), which loads as ``hf:`` from its converted cache directory.

Loaded generators are cached per (spec, adapter, settings): a model loads once per process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from ragtune.errors import ConfigError
from ragtune.llm.base import Generator
from ragtune.llm.bundled import BUNDLED, bundled_name, resolve_model

_CACHE: dict[tuple[Any, ...], Generator] = {}
_LOCK = threading.Lock()
KINDS = ("extractive", "hf:", "openai:", *BUNDLED)


def load_generator(
    spec: str,
    *,
    adapter: str | None = None,
    embed: Callable[[list[str]], np.ndarray] | None = None,
    **settings: Any,
) -> Generator:
    """The generator named by ``spec``. ``embed`` is needed by ``extractive``; ``settings`` go to the backend
    (``base_url``, ``api_key_env``, ``timeout_s`` for openai; ``min_score``, ``max_sentences`` for extractive)."""
    key = (spec, adapter, tuple(sorted((k, repr(v)) for k, v in settings.items())), id(embed))
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    generator: Generator
    if spec == "extractive":
        if embed is None:
            raise ConfigError("the extractive generator needs an embedder")
        from ragtune.llm.extractive_generator import ExtractiveGenerator

        generator = ExtractiveGenerator(embed, **settings)
    elif spec.startswith("hf:") or bundled_name(spec) is not None:
        from ragtune.llm.hf import HFGenerator

        short = bundled_name(spec)
        generator = HFGenerator(resolve_model(spec)[3:], adapter=adapter, **settings)
        if short is not None:
            generator.name = short  # reports and prices name the model, not its cache directory
    elif spec.startswith("openai:"):
        from ragtune.llm.openai import OpenAIGenerator

        if "base_url" not in settings:
            raise ConfigError(f"{spec}: an openai generator needs base_url (e.g. http://127.0.0.1:8000/v1)")
        generator = OpenAIGenerator(spec[len("openai:") :], **settings)
    else:
        raise ConfigError(
            f"unknown model spec {spec!r}: use extractive, hf:PATH_OR_ID, openai:MODEL or a bundled model "
            f"({', '.join(BUNDLED)})"
        )
    with _LOCK:
        return _CACHE.setdefault(key, generator)
