"""``ft:NAME`` as a generator backend: a model from the registry, loaded as its base plus adapter.

Registered into :mod:`ragtune.llm.registry` through the ``ragtune.generators`` entry point (``ft`` in
pyproject.toml), so the pipeline resolves ``ft:NAME`` without importing the training package itself.
"""

from __future__ import annotations

from typing import Any

from ragtune.errors import ConfigError
from ragtune.llm.base import Generator
from ragtune.llm.registry import GeneratorBackend, GeneratorContext, load_generator
from ragtune.llm.spec import ModelSpec


def _kb_dir(kb: Any) -> Any:
    return getattr(kb, "path", kb)


def _load_ft(spec: ModelSpec, context: GeneratorContext) -> Generator:
    """The registered model's base (``hf:`` spec or merged checkpoint) with its adapter."""
    from ragtune.tune.registry import resolve_ft

    if context.kb is None:
        raise ConfigError(f"{spec}: a fine-tuned model is found through a knowledge base's registry; none was given")
    target, adapter = resolve_ft(str(spec), _kb_dir(context.kb))
    return load_generator(
        target, adapter=adapter, embed=context.embed, embed_query=context.embed_query, **context.settings
    )


def _check_ft(spec: ModelSpec, kb: Any) -> None:
    """Warn (once per model and KB per process) when the model is stale against ``kb``; never fails."""
    from ragtune.tune.staleness import warn_if_stale

    if hasattr(kb, "store") or hasattr(kb, "head"):  # a KnowledgeBase or a Store, not a bare path
        warn_if_stale(kb, str(spec))


def _base_model(spec: ModelSpec, kb_dir: Any) -> str:
    from ragtune.tune.registry import ModelRegistry

    try:
        with ModelRegistry.open(kb_dir) as registry:
            return registry.get(str(spec)).base
    except Exception:  # an unknown name fails later, where the model is loaded, with the registry's message
        return str(spec)


FT = GeneratorBackend(
    _load_ft, settings=("batch_size", "dtype", "device"), cache=False, base_model=_base_model, check=_check_ft
)
