"""Generators by name: a model spec's scheme chooses a backend from a registry a plugin or a test can extend.

Built in: ``extractive`` (no model), ``hf:PATH_OR_ID``, ``openai:MODEL`` and the bundled models' short names
(``smollm2``, see :mod:`ragtune.llm.bundled`), which load as ``hf:`` from their converted cache directory. Other
schemes come from the ``ragtune.generators`` entry-point group, loaded the first time an unknown scheme is asked
for: ragtune's own ``ft:NAME`` (a registered fine-tuned model) is registered that way by :mod:`ragtune.tune`, so
the pipeline never imports the training package. Registering one::

    from ragtune.llm.registry import GeneratorBackend, register_generator

    def load_echo(spec, context):
        return EchoGenerator(spec.name, **context.settings)

    register_generator("echo", GeneratorBackend(load_echo, settings=("prefix",)))
    # ragtune ask --model echo:loud ...   or, from a package, in its pyproject.toml:
    # [project.entry-points."ragtune.generators"]
    # echo = "my_package.generators:ECHO"

Loading imports nothing heavy until a backend is used. Loaded generators are cached per (spec, adapter, settings):
a model loads once per process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import numpy as np

from ragtune.errors import ConfigError
from ragtune.llm.base import Generator
from ragtune.llm.bundled import BUNDLED, resolve_model
from ragtune.llm.spec import ModelSpec

ENTRY_POINT_GROUP = "ragtune.generators"
log = logging.getLogger(__name__)


@dataclass
class GeneratorContext:
    """What a backend is loaded with besides its spec: ``adapter`` (a LoRA directory), ``embed`` and
    ``embed_query`` (the extractive answerer needs the KB's embedder), ``kb`` (the knowledge base, for specs that
    resolve through it such as ``ft:NAME``) and ``settings`` (the backend's own keyword arguments)."""

    adapter: str | None = None
    embed: Callable[[list[str]], np.ndarray] | None = None
    embed_query: Callable[[str], np.ndarray] | None = None
    kb: Any = None
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GeneratorBackend:
    """One scheme's backend.

    ``load(spec, context)`` builds the generator. ``settings`` names the settings it reads (of ``[llm]`` or a
    strategy: ``base_url`` for openai, ``dtype`` for hf, ...). ``cache``: whether a loaded generator is reused per
    (spec, adapter, settings) — off for a spec that resolves to another (its target is cached instead).
    ``tokenizer(spec)``: the local tokenizer's name or path, None when the backend has none (counts are then
    estimated). ``base_model(spec, kb_dir)``: the spec of the model underneath (a fine-tuned model's base).
    ``check(spec, kb)``: run whenever a pipeline is built on this spec, before loading (``ft:`` warns when the model
    is stale against the knowledge base); it must never fail the answer.
    """

    load: Callable[[ModelSpec, GeneratorContext], Generator]
    settings: tuple[str, ...] = ()
    cache: bool = True
    tokenizer: Callable[[ModelSpec], str | None] | None = None
    base_model: Callable[[ModelSpec, Any], str] | None = None
    check: Callable[[ModelSpec, Any], None] | None = None


def _load_extractive(spec: ModelSpec, context: GeneratorContext) -> Generator:
    if context.embed is None:
        raise ConfigError("the extractive generator needs an embedder")
    from ragtune.llm.extractive_generator import ExtractiveGenerator

    return ExtractiveGenerator(context.embed, embed_query=context.embed_query, **context.settings)


def _load_hf(spec: ModelSpec, context: GeneratorContext) -> Generator:
    from ragtune.llm.hf import HFGenerator

    generator = HFGenerator(_hf_path(spec), adapter=context.adapter, **context.settings)
    if spec.scheme == "bundled":
        generator.name = spec.name  # reports and prices name the model, not its cache directory
    return generator


def _hf_path(spec: ModelSpec) -> str:
    """The local directory or hub id an ``hf:`` or bundled spec loads (a bundled model is converted once)."""
    return resolve_model(str(spec))[3:] if spec.scheme == "bundled" else spec.name


def _load_openai(spec: ModelSpec, context: GeneratorContext) -> Generator:
    from ragtune.llm.openai import OpenAIGenerator

    if "base_url" not in context.settings:
        raise ConfigError(f"{spec}: an openai generator needs base_url (e.g. http://127.0.0.1:8000/v1)")
    return OpenAIGenerator(spec.name, **context.settings)


_HF = GeneratorBackend(_load_hf, settings=("batch_size", "dtype", "device"), tokenizer=_hf_path)
_BUILTIN: dict[str, GeneratorBackend] = {
    "extractive": GeneratorBackend(_load_extractive, settings=("max_sentences", "min_score")),
    "hf": _HF,
    "bundled": _HF,
    "openai": GeneratorBackend(_load_openai, settings=("base_url", "api_key_env", "timeout_s")),
}
_backends: dict[str, GeneratorBackend] = dict(_BUILTIN)
_entry_points_loaded = False
_REGISTRY_LOCK = threading.RLock()
_CACHE: dict[tuple[Any, ...], Generator] = {}
_LOCK = threading.Lock()


def register_generator(scheme: str, backend: GeneratorBackend) -> None:
    """Use ``backend`` for specs ``scheme:NAME``, replacing any backend registered for it, built-ins included."""
    with _REGISTRY_LOCK:
        _backends[scheme] = backend


def unregister_generator(scheme: str) -> None:
    """Forget the backend for ``scheme``; a built-in one comes back."""
    with _REGISTRY_LOCK:
        if scheme in _BUILTIN:
            _backends[scheme] = _BUILTIN[scheme]
        else:
            _backends.pop(scheme, None)


def _load_entry_points() -> None:
    global _entry_points_loaded
    with _REGISTRY_LOCK:
        if _entry_points_loaded:
            return
        _entry_points_loaded = True
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in _backends:
                continue  # registered in code (a test, a plugin) wins over an installed entry point
            try:
                backend = ep.load()
            except Exception as exc:  # a broken plugin must not break the other backends
                raise ConfigError(f"generator backend {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
            if not isinstance(backend, GeneratorBackend):
                raise ConfigError(f"entry point {ep.name} = {ep.value!r} is not a GeneratorBackend")
            _backends[ep.name] = backend


def generator_schemes() -> list[str]:
    """Every scheme a spec can use (built-ins, registered ones and installed entry points), sorted."""
    _load_entry_points()
    with _REGISTRY_LOCK:
        return sorted(_backends)


def backend_for(spec: str | ModelSpec) -> GeneratorBackend:
    """The backend for ``spec``'s scheme; an unknown scheme raises ConfigError listing the known ones."""
    parsed = ModelSpec.parse(spec)
    with _REGISTRY_LOCK:
        backend = _backends.get(parsed.scheme)
    if backend is None and parsed.scheme:
        _load_entry_points()
        with _REGISTRY_LOCK:
            backend = _backends.get(parsed.scheme)
    if backend is None:
        others = [s + ":" for s in generator_schemes() if s not in ("extractive", "bundled", "hf", "openai")]
        raise ConfigError(
            f"unknown model spec {str(spec)!r}: use extractive, hf:PATH_OR_ID, openai:MODEL"
            + (f", {', '.join(others)}NAME" if others else "")
            + f" or a bundled model ({', '.join(BUNDLED)})"
        )
    return backend


def backend_settings(spec: str | ModelSpec, table: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``table`` (``[llm]``, a strategy) that ``spec``'s backend reads, leaving out unset ones."""
    wanted = backend_for(spec).settings
    return {k: v for k, v in table.items() if k in wanted and v is not None}


def local_tokenizer(spec: str | ModelSpec) -> str | None:
    """The tokenizer's local path or hub id for ``spec`` (a bundled model is converted once), or None when its
    backend has no local tokenizer (extractive, openai, ft) or the scheme is unknown."""
    try:
        backend = backend_for(spec)
    except ConfigError:
        return None
    return backend.tokenizer(ModelSpec.parse(spec)) if backend.tokenizer is not None else None


def base_model(spec: str, kb_dir: Any) -> str:
    """The spec of the model underneath ``spec`` (a fine-tuned model's base, from the registry in ``kb_dir``;
    no model is loaded); other specs, and names that cannot be resolved, unchanged."""
    try:
        backend = backend_for(spec)
    except ConfigError:
        return spec
    return backend.base_model(ModelSpec.parse(spec), kb_dir) if backend.base_model is not None else spec


def check_generator(spec: str | ModelSpec, *, kb: Any = None) -> None:
    """Run ``spec``'s backend check against ``kb`` (e.g. ``ft:``'s staleness warning). Never raises: an unknown
    spec is reported where it is loaded, and a failed check is logged at debug level."""
    try:
        backend = backend_for(spec)
        if backend.check is not None:
            backend.check(ModelSpec.parse(spec), kb)
    except Exception as exc:  # a check informs; it must not stop an answer
        log.debug("generator check for %s failed: %s", spec, exc)


def load_generator(
    spec: str | ModelSpec,
    *,
    adapter: str | None = None,
    embed: Callable[[list[str]], np.ndarray] | None = None,
    embed_query: Callable[[str], np.ndarray] | None = None,
    kb: Any = None,
    **settings: Any,
) -> Generator:
    """The generator named by ``spec``. ``embed`` is needed by ``extractive`` (``embed_query``: its fast path for
    the question); ``kb`` by specs resolved through a
    knowledge base (``ft:NAME``); ``settings`` go to the backend (``base_url``, ``api_key_env``, ``timeout_s`` for
    openai; ``min_score``, ``max_sentences`` for extractive; ``batch_size``, ``dtype`` for hf)."""
    parsed = ModelSpec.parse(spec)
    backend = backend_for(parsed)
    settings = {**parsed.settings, **settings}
    key = (str(parsed), adapter, tuple(sorted((k, repr(v)) for k, v in settings.items())), id(embed), id(embed_query))
    if backend.cache:
        with _LOCK:
            if key in _CACHE:
                return _CACHE[key]
    context = GeneratorContext(adapter=adapter, embed=embed, embed_query=embed_query, kb=kb, settings=settings)
    generator = backend.load(parsed, context)
    if not backend.cache:
        return generator
    with _LOCK:
        return _CACHE.setdefault(key, generator)
