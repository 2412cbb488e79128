"""Strategies: named recipes (a generator, maybe an adapter, whether and how to retrieve) → Answers.

Built in: ``rag-extractive`` (always: retrieval + the model-free answerer); with a model configured
(``[llm] model`` in ragtune.toml, ``RAGTUNE_LLM_MODEL``, or ``--model``), also ``base`` (the model alone,
closed book) and ``rag`` (retrieval + the model). More are defined in ragtune.toml::

    [strategies.rag-qwen]
    generator = "hf:Qwen/Qwen2.5-0.5B-Instruct"
    adapter = "runs/abc/adapter"     # optional LoRA adapter
    retrieve = true
    k = 5
    mode = "hybrid"
    template = "compact"             # prompt layout: fenced | compact (default: [prompts], else the model's)
    source_tokens = 320              # at most this many tokens of retrieved text in the prompt
    no_repeat_ngram_size = 4         # decoding: never repeat a 4-gram of the answer (the prompt may be quoted)

A model with measured defaults (:mod:`ragtune.llm.defaults`, e.g. the bundled ``smollm2``) starts from them,
directly or as the base of an ``ft:NAME`` model; any key set in ragtune.toml wins.
Generators load on first use, so listing strategies (``/v1/models``) loads no model.

The built-in strategies come from a registry by name (:func:`register_strategy`): each factory returns the
spec of its strategy for the configured model, or None when it does not apply (``base`` without a model).
Anything that answers is a :class:`StrategyProtocol`: it *declares* whether it retrieves and which per-call
query fields it honours (``accepts``), so callers (the HTTP API) need not inspect signatures.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

from ragtune.config import Settings, raw_config
from ragtune.embed.base import Embedder
from ragtune.errors import ConfigError, RagtuneError
from ragtune.kb.store import Store
from ragtune.llm.base import GenerationOptions, Message
from ragtune.llm.defaults import defaults_for
from ragtune.llm.prompts import PromptTemplates, template_named
from ragtune.llm.registry import backend_settings, base_model, check_generator, load_generator
from ragtune.rag.pipeline import Answer, RagPipeline
from ragtune.search.passage import Passage
from ragtune.search.query import Query
from ragtune.search.rerank import RERANKER_DIR, reranker_named, trained_rerankers
from ragtune.search.retriever import Retriever

DEFAULT_STRATEGY = "rag-extractive"


@dataclass
class StrategySpec:
    """How a strategy answers. ``generator`` is a model spec: extractive, hf:PATH_OR_ID, openai:MODEL, or
    ft:NAME (a model in the registry, ``ragtune models list``)."""

    name: str
    generator: str = "extractive"
    adapter: str | None = None
    retrieve: bool = True
    k: int | None = None
    mode: str | None = None
    rerank: str | None = None  # a reranker for this strategy's retrieval (search.rerank names); None: [search] rerank
    description: str = ""
    temperature: float = 0.0
    max_new_tokens: int = 256
    stop: list[str] = field(default_factory=list)
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    template: str | None = None
    source_tokens: int | None = None
    citations: str = "auto"
    context: str = "passages"
    batch_size: int = 8
    dtype: str = "auto"
    base_url: str | None = None
    api_key_env: str | None = None
    timeout_s: float = 60.0

    def options(self) -> GenerationOptions:
        """The decoding options this strategy answers with."""
        return GenerationOptions(
            temperature=self.temperature,
            max_new_tokens=self.max_new_tokens,
            stop=list(self.stop),
            repetition_penalty=self.repetition_penalty,
            no_repeat_ngram_size=self.no_repeat_ngram_size,
        )

    @classmethod
    def from_table(cls, name: str, table: dict[str, Any]) -> StrategySpec:
        known = {f.name for f in fields(cls)} - {"name"}
        unknown = set(table) - known
        if unknown:
            raise ConfigError(f"[strategies.{name}] unknown keys: {', '.join(sorted(unknown))}")
        try:
            return cls(name=name, **table)
        except TypeError as exc:
            raise ConfigError(f"[strategies.{name}]: {exc}") from exc


class KnowledgeSource(Protocol):
    """What a strategy needs of the knowledge base it answers from (``KnowledgeBase`` is one): its settings,
    folder, store, embedder and retriever (and ``search``, which the evaluation runner calls on ``strategy.kb``).
    A protocol, so strategies need not import the facade above them."""

    settings: Settings

    @property
    def path(self) -> Path: ...

    @property
    def store(self) -> Store: ...

    @property
    def embedder(self) -> Embedder: ...

    @property
    def retriever(self) -> Retriever: ...

    def search(
        self,
        query: str,
        k: int = 10,
        mode: str | None = None,
        at: int | None = None,
        filters: dict[str, Any] | None = None,
    ) -> list[Passage]: ...


class StrategyProtocol(Protocol):
    """What answers questions by name (``--strategy``, the HTTP API's ``model``).

    ``uses_retrieval``: whether answers come from the knowledge base. ``accepts``: the per-call query fields,
    besides ``at`` and ``filters``, that it honours (``{"k", "mode"}`` for the pipeline strategies); a caller
    asked for another is told so instead of having it silently ignored."""

    name: str
    description: str
    uses_retrieval: bool
    accepts: frozenset[str]

    def answer(
        self,
        messages: Sequence[Message],
        query: Query | None = None,
        *,
        options: GenerationOptions | None = None,
        **fields: Any,
    ) -> Answer:
        """Answer the last user message, retrieving as ``query`` says (or its fields as keywords: ``at=``, ...)."""
        ...

    def stream(
        self,
        messages: Sequence[Message],
        query: Query | None = None,
        *,
        options: GenerationOptions | None = None,
        **fields: Any,
    ) -> Iterator[str | Answer]:
        """Text pieces as generated, then the final Answer."""
        ...


class Strategy:
    """A named way of answering with one :class:`~ragtune.rag.pipeline.RagPipeline`; builds it (loading the model) on
    first use. Implements :class:`StrategyProtocol`."""

    accepts: frozenset[str] = frozenset({"k", "mode"})

    def __init__(self, spec: StrategySpec, kb: KnowledgeSource, templates: PromptTemplates) -> None:
        self.spec = spec
        self.name = spec.name
        self.uses_retrieval = spec.retrieve
        self.kb = kb
        self.templates = templates
        self.description = spec.description or _describe(spec)
        self._pipeline: RagPipeline | None = None
        self._lock = threading.Lock()

    @property
    def pipeline(self) -> RagPipeline:
        with self._lock:
            if self._pipeline is None:
                s, a = self.spec, self.kb.settings.answer
                # Each backend takes the settings it declares (llm.registry): the extractive answerer its
                # [answer] thresholds, openai its endpoint, hf/ft their batch size and dtype.
                table = {"max_sentences": a.max_sentences, "min_score": a.min_score, "base_url": s.base_url,
                         "timeout_s": s.timeout_s, "api_key_env": s.api_key_env, "batch_size": s.batch_size,
                         "dtype": s.dtype}  # fmt: skip
                settings = backend_settings(s.generator, table)
                # ft:NAME resolves through the KB's model registry (its backend is registered by ragtune.tune);
                # its check warns, once per process, when the model is stale. It never fails the answer.
                check_generator(s.generator, kb=self.kb)
                generator = load_generator(
                    s.generator,
                    adapter=s.adapter,
                    embed=self.kb.embedder.embed,
                    embed_query=self.kb.embedder.embed_query,
                    kb=self.kb,
                    **settings,
                )
                retriever = self.kb.retriever if s.retrieve else None
                if retriever is not None and s.rerank:
                    reranker = reranker_named(s.rerank, self.kb.settings.search, Path(self.kb.path))
                    retriever = retriever.with_reranker(reranker)
                self._pipeline = RagPipeline(
                    generator,
                    retriever,
                    k=s.k or self.kb.settings.answer.k,
                    mode=s.mode,
                    templates=template_named(s.template) if s.template else self.templates,
                    options=s.options(),
                    name=s.name,
                    source_tokens=s.source_tokens,
                    citations=s.citations,
                    context=s.context,
                )
            return self._pipeline

    def rebound(self, kb: KnowledgeSource) -> Strategy:
        """The same strategy answering from ``kb`` (e.g. a scratch copy), sharing this one's loaded model.

        The model (for ``ft:NAME``, the one resolved from this knowledge base's registry) is loaded once and
        kept; only the retriever changes, so a copy without the registry still answers with the same model.
        """
        other = Strategy(self.spec, kb, self.templates)
        try:
            pipeline = copy.copy(self.pipeline)
        except RagtuneError:
            return other  # fails again on first use, where the caller records the error
        pipeline.retriever = kb.retriever if self.spec.retrieve else None
        pipeline._selector = None  # built from the retriever's passages on first use
        other._pipeline = pipeline
        return other

    def answer(
        self,
        messages: Sequence[Message],
        query: Query | None = None,
        *,
        options: GenerationOptions | None = None,
        **fields: Any,
    ) -> Answer:
        """Answer the last user message; ``query`` or its fields as keywords (``at=``, ``k=``, ...)."""
        query = Query.of(query, **fields)  # a misspelt field fails before any model loads
        return self.pipeline.answer(messages, query, options=options)

    def stream(
        self,
        messages: Sequence[Message],
        query: Query | None = None,
        *,
        options: GenerationOptions | None = None,
        **fields: Any,
    ) -> Iterator[str | Answer]:
        query = Query.of(query, **fields)
        return self.pipeline.stream(messages, query, options=options)

    def ask(self, question: str, **kw: Any) -> Answer:
        return self.answer([{"role": "user", "content": question}], **kw)

    def ask_many(self, questions: Sequence[str], **kw: Any) -> list[Answer]:
        """Answer several questions; generation is batched where the model can batch."""
        return self.pipeline.answer_many([[{"role": "user", "content": q}] for q in questions], **kw)


def _describe(spec: StrategySpec) -> str:
    how = "retrieval + " if spec.retrieve else "closed book, "
    return how + spec.generator + (f" + adapter {spec.adapter}" if spec.adapter else "")


@dataclass(frozen=True)
class StrategyContext:
    """What a built-in strategy's factory builds its spec from: the configured model (None: none), its adapter,
    the other ``[llm]`` keys, and the model's measured defaults (:func:`with_model_defaults`)."""

    config: dict[str, Any]
    model: str | None
    adapter: str | None
    llm: dict[str, Any]
    defaults: dict[str, Any]
    kb_dir: Path | None = None


StrategyFactory = Callable[[StrategyContext], "StrategySpec | None"]


def _rag_extractive(ctx: StrategyContext) -> StrategySpec:
    return StrategySpec(DEFAULT_STRATEGY, "extractive", description="retrieval + extractive answer")


def _base(ctx: StrategyContext) -> StrategySpec | None:
    if not ctx.model:
        return None
    closed = {k: v for k, v in ctx.defaults.items() if k in DECODING_KEYS}  # closed book: no retrieval settings
    table = {**closed, "generator": ctx.model, "retrieve": False, "adapter": ctx.adapter, **ctx.llm}
    return StrategySpec.from_table("base", table)


def _rag(ctx: StrategyContext) -> StrategySpec | None:
    if not ctx.model:
        return None
    table = {**ctx.defaults, "generator": ctx.model, "retrieve": True, "adapter": ctx.adapter, **ctx.llm}
    return StrategySpec.from_table("rag", table)


def _latest_reranker(ctx: StrategyContext) -> str | None:
    """The reranker most recently trained into the knowledge base (``ragtune tune-reranker``), if any."""
    names = trained_rerankers(ctx.kb_dir)
    if not names or ctx.kb_dir is None:
        return None
    return max(names, key=lambda n: (ctx.kb_dir / RERANKER_DIR / n).stat().st_mtime)  # type: ignore[operator]


def _rag_rerank(ctx: StrategyContext) -> StrategySpec | None:
    """``rag`` with the knowledge base's latest trained reranker: offered once one has been trained."""
    reranker = _latest_reranker(ctx)
    spec = _rag(ctx) if reranker else None
    if spec is None:
        return None
    return dataclasses.replace(spec, name="rag+rerank", rerank=reranker)


def _rag_extractive_rerank(ctx: StrategyContext) -> StrategySpec | None:
    reranker = _latest_reranker(ctx)
    if reranker is None:
        return None
    return StrategySpec(
        DEFAULT_STRATEGY + "+rerank", "extractive", rerank=reranker, description=f"retrieval + {reranker} + extractive"
    )


_BUILTIN: dict[str, StrategyFactory] = {
    DEFAULT_STRATEGY: _rag_extractive,
    "base": _base,
    "rag": _rag,
    "rag+rerank": _rag_rerank,
    DEFAULT_STRATEGY + "+rerank": _rag_extractive_rerank,
}
_factories: dict[str, StrategyFactory] = dict(_BUILTIN)
_registry_lock = threading.Lock()


def register_strategy(name: str, factory: StrategyFactory) -> None:
    """Offer strategy ``name`` wherever strategies are listed: ``factory(context)`` returns its spec, or None when
    it does not apply. Replaces any of that name; ``[strategies.NAME]`` in ragtune.toml still wins."""
    with _registry_lock:
        _factories[name] = factory


def unregister_strategy(name: str) -> None:
    """Forget strategy ``name`` (a built-in one comes back)."""
    with _registry_lock:
        if name in _BUILTIN:
            _factories[name] = _BUILTIN[name]
        else:
            _factories.pop(name, None)


def strategy_specs(
    config: dict[str, Any], *, model: str | None = None, adapter: str | None = None, kb_dir: Any = None
) -> dict[str, StrategySpec]:
    """Registered and configured strategy specs, by name (configured ones override registered). ``kb_dir`` lets an
    ``ft:NAME`` model start from its base model's measured defaults (found in the KB's registry)."""
    llm = dict(config.get("llm", {}))
    model = model or os.environ.get("RAGTUNE_LLM_MODEL") or llm.pop("model", None)
    llm.pop("model", None)
    adapter = adapter or llm.pop("adapter", None)
    llm.pop("adapter", None)
    defaults = (
        with_model_defaults(base_model_of(model, kb_dir) if kb_dir is not None else model, config, {}) if model else {}
    )
    context = StrategyContext(config, model, adapter, llm, defaults, Path(kb_dir) if kb_dir is not None else None)
    with _registry_lock:
        factories = list(_factories.items())
    specs: dict[str, StrategySpec] = {}
    for name, factory in factories:
        spec = factory(context)
        if spec is not None:
            specs[name] = spec
    for name, table in (config.get("strategies") or {}).items():
        if not isinstance(table, dict):
            raise ConfigError(f"[strategies.{name}] must be a table")
        specs[name] = StrategySpec.from_table(name, _table_with_model_defaults(table, config, kb_dir))
    return specs


def _table_with_model_defaults(table: dict[str, Any], config: dict[str, Any], kb_dir: Any) -> dict[str, Any]:
    """A ``[strategies.NAME]`` table on top of its generator's measured defaults, as the built-ins get them: the
    retrieval and prompt defaults when it retrieves, the decoding ones only when it answers closed book. The
    generator may be ``ft:NAME`` (its base model's defaults). Keys set in the table win."""
    generator = table.get("generator")
    if not isinstance(generator, str) or not generator:
        return table
    defaults = with_model_defaults(base_model_of(generator, kb_dir) if kb_dir is not None else generator, config, {})
    if not table.get("retrieve", True):
        defaults = {k: v for k, v in defaults.items() if k in DECODING_KEYS}
    return {**defaults, **table}


DECODING_KEYS = ("max_new_tokens", "no_repeat_ngram_size", "repetition_penalty")


def with_model_defaults(model: str, config: dict[str, Any], table: dict[str, Any]) -> dict[str, Any]:
    """``table`` on top of the measured defaults of ``model`` (:mod:`ragtune.llm.defaults`). The prompt layout
    default applies only when ragtune.toml has no ``[prompts]`` section (the user's prompts win)."""
    defaults = defaults_for(model)
    if config.get("prompts"):
        defaults.pop("template", None)
    return {**defaults, **table}


def base_model_of(spec: str, kb_dir: Any) -> str:
    """The base model of ``ft:NAME`` (from the registry; no model is loaded); other specs unchanged."""
    return base_model(spec, kb_dir)


def load_strategies(
    kb: KnowledgeSource,
    *,
    model: str | None = None,
    adapter: str | None = None,
    config: dict[str, Any] | None = None,
) -> dict[str, Strategy]:
    """Every strategy available for ``kb``: built-ins plus ``[strategies.*]`` from ragtune.toml."""
    config = raw_config() if config is None else config
    templates = PromptTemplates.from_config(config.get("prompts"))
    specs = strategy_specs(config, model=model, adapter=adapter, kb_dir=kb.path)
    return {name: Strategy(spec, kb, templates) for name, spec in specs.items()}
