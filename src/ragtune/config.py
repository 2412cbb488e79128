"""Settings: defaults < ``ragtune.toml`` (found from the current directory upward) < ``RAGTUNE_*`` env < flags.

Environment variables are named ``RAGTUNE_<SECTION>_<KEY>``, e.g. ``RAGTUNE_EMBED_MODEL`` or
``RAGTUNE_SEARCH_MODE``; values are parsed as TOML scalars when they parse (``5``, ``true``, ``0.3``),
else kept as strings.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragtune.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_NAME = "ragtune.toml"
# The vector leg's exact int8 scan, p50 here (benchmarks/ann.py): 2.0–2.3 ms at 100k chunks, 7.5–7.7 ms at 200k
# (past the CPU caches), 20 ms at 500k, 41 ms at 1M; the HNSW graph answers in ~3 ms at 1M. Between 100k and 200k
# the scan passes a few ms: from 150k the graph is used. Below it the scan is exact and ingest builds no graph.
ANN_THRESHOLD = 150_000
KB_DIRNAME = ".ragtune"


@dataclass
class EmbedSettings:
    model: str = field(default="all-MiniLM-L6-v2", metadata={"help": "sentence-transformers name or path"})
    precision: str = field(default="auto", metadata={"help": "auto | fp32 | bf16 (autocast)"})
    batch_size: int = field(default=64, metadata={"help": "texts per forward pass at ingest"})
    query_backend: str = field(
        default="auto", metadata={"help": "auto (ONNX Runtime for single queries on CPU when available) | torch | onnx"}
    )
    query_precision: str = field(
        default="auto",
        metadata={"help": "ONNX query graph: auto (int8 when it measured faster and agrees with fp32) | fp32 | int8"},
    )


@dataclass
class ChunkSettings:
    max_tokens: int = field(default=200, metadata={"help": "embedder tokens per chunk (model limit 256)"})
    overlap_tokens: int = field(default=32, metadata={"help": "trailing sentences repeated in the next chunk"})
    context: str = field(
        default="document",
        metadata={"help": "indexed with each chunk: document (label + headings) | headings (title + headings) | none"},
    )
    context_model: str = field(
        default="", metadata={"help": "a model that writes a context sentence per chunk (e.g. smollm2); slow"}
    )


@dataclass
class LoaderSettings:
    ignore: list[str] = field(default_factory=list, metadata={"help": "glob patterns of files to skip"})
    max_mb: float = field(default=50.0, metadata={"help": "files larger than this are reported and skipped"})
    timeout_s: float = field(default=30.0, metadata={"help": "per-file parser time limit"})
    tables: bool = field(default=True, metadata={"help": "read PDF tables with their rows and columns (pdfplumber)"})
    ocr: bool = field(default=True, metadata={"help": "OCR scanned PDF pages and image files (needs Tesseract)"})
    ocr_timeout_s: float = field(default=20.0, metadata={"help": "OCR time limit per page (skipped past it)"})
    ocr_dpi: int = field(default=200, metadata={"help": "resolution scanned PDF pages are rendered at for OCR"})


@dataclass
class SearchSettings:
    mode: str = field(default="hybrid", metadata={"help": "hybrid | dense | lexical"})
    k: int = field(default=10, metadata={"help": "passages returned"})
    fusion: str = field(
        default="convex",
        metadata={"help": "convex (score-aware; see search/fusion.py) | rrf (reciprocal rank) | weighted | registered"},
    )
    auto_filter: bool = field(
        default=False, metadata={"help": "map a company/year/document type named in the question to a filter"}
    )
    # 20: a cross-encoder pass per candidate cost 2.7 s per SciFact query at 50 on 2 cores (docs/benchmarks.md)
    rerank_depth: int = field(default=20, metadata={"help": "fused candidates a reranker reads (cross-encoder)"})
    rerank: str = field(default="none", metadata={"help": "none | cross-encoder:PATH | a registered reranker"})
    exact_first: bool = field(
        default=True,
        metadata={"help": "hybrid: chunks holding an identifier the query names (DN-913, SKU-1075) ranked first"},
    )
    rrf_k: int = field(default=60, metadata={"help": "RRF constant"})
    weight_dense: float = field(
        default=0.75, metadata={"help": "the dense leg's share in convex and weighted fusion (chosen on SciFact train)"}
    )
    depth: int = field(default=100, metadata={"help": "candidates taken from each leg before fusion"})
    lexical_engine: str = field(default="memory", metadata={"help": "memory (in-RAM BM25) | fts5"})
    dense_threads: int = field(
        default=0, metadata={"help": "threads for the exact vector scan (0: two from 50k chunks, else one)"}
    )
    index_files: bool = field(
        default=True,
        metadata={"help": "keep the BM25 and vector indexes as files beside the store (memory-mapped on open)"},
    )
    dense_precision: str = field(
        default="int8", metadata={"help": "int8 | fp16 (compact scan copy, exact fp32 re-score) | fp32"}
    )
    ann_threshold: int = field(
        default=ANN_THRESHOLD,
        metadata={"help": "chunks from which the vector leg searches an HNSW graph instead of scanning (0: never)"},
    )


@dataclass
class AnswerSettings:
    k: int = field(default=5, metadata={"help": "passages given to the answerer"})
    max_sentences: int = field(default=3, metadata={"help": "sentences in an extractive answer"})
    min_score: float = field(default=0.55, metadata={"help": "relevance below which no answer is given"})
    sentence_vectors: bool = field(
        default=True,
        metadata={"help": "embed each chunk's candidate answer sentences at ingest (extractive answers need no model)"},
    )


@dataclass
class StoreSettings:
    backend: str = field(
        default="sqlite", metadata={"help": "store backend by name (registered in ragtune.kb.store; built in: sqlite)"}
    )
    url: str = field(
        default="",
        metadata={"help": "BACKEND://LOCATION, e.g. sqlite:///kb/dir; its scheme names the backend (default: the KB)"},
    )


@dataclass
class Settings:
    """All settings, one dataclass per ``ragtune.toml`` section."""

    embed: EmbedSettings = field(default_factory=EmbedSettings)
    chunking: ChunkSettings = field(default_factory=ChunkSettings)
    loaders: LoaderSettings = field(default_factory=LoaderSettings)
    search: SearchSettings = field(default_factory=SearchSettings)
    answer: AnswerSettings = field(default_factory=AnswerSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    source: str | None = None  # the ragtune.toml these came from, if any

    def replace(self, section: str, **values: Any) -> Settings:
        """A copy with some values of one section changed (how CLI flags are applied)."""
        current = getattr(self, section)
        clean = {k: v for k, v in values.items() if v is not None}
        return dataclasses.replace(self, **{section: dataclasses.replace(current, **clean)})


# Sections owned elsewhere, each typed by its owner: [prompts] (ragtune.llm.prompts.PromptTemplates),
# [strategies.NAME] (ragtune.rag.strategies.StrategySpec), [train] (ragtune.tune.training.config.TrainConfig),
# [prices] (ragtune.advise.cost.PriceSheet), [style] (ragtune.evaluate.metrics.style).
# [llm] and [evaluate] are read here.

ENDPOINT_KEYS = ("base_url", "api_key_env", "timeout_s")


@dataclass(frozen=True)
class LLMSettings:
    """``[llm]``: the model strategies answer with, the endpoint it is served from, and (every other key, kept in
    ``table``) defaults for the strategies built on it, checked where a ``StrategySpec`` is made.

    The one place ``[llm]`` is read: generator backends take the endpoint from :meth:`endpoint`, strategies their
    defaults from :meth:`strategy_defaults` (so ``compare --judge openai:…`` reaches the same server as ``ask``)."""

    model: str | None = None
    adapter: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    timeout_s: float | None = None
    table: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None = None) -> LLMSettings:
        """From the parsed ragtune.toml (default: :func:`raw_config`)."""
        section = (raw_config() if config is None else config).get("llm") or {}
        if not isinstance(section, dict):
            raise ConfigError("[llm] must be a table")
        typed: dict[str, Any] = {}
        for key in ("model", "adapter", "base_url", "api_key_env"):
            value = section.get(key)
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"[llm] {key} = {value!r}: expected a string")
            typed[key] = value
        timeout = section.get("timeout_s")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))):
            raise ConfigError(f"[llm] timeout_s = {timeout!r}: expected a number")
        return cls(**typed, timeout_s=timeout, table=dict(section))

    def endpoint(self) -> dict[str, Any]:
        """The endpoint settings that are set (``base_url``, ``api_key_env``, ``timeout_s``), as written."""
        return {k: self.table[k] for k in ENDPOINT_KEYS if self.table.get(k) is not None}

    def strategy_defaults(self) -> dict[str, Any]:
        """Every key but ``model`` and ``adapter``: defaults for the strategies answering with ``model``."""
        return {k: v for k, v in self.table.items() if k not in ("model", "adapter")}


@dataclass(frozen=True)
class EvaluateSettings:
    """``[evaluate]``: ``decline_phrases`` added to the built-in phrases that mark an answer as a decline."""

    decline_phrases: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None = None) -> EvaluateSettings:
        """From the parsed ragtune.toml (default: :func:`raw_config`)."""
        section = (raw_config() if config is None else config).get("evaluate") or {}
        if not isinstance(section, dict):
            raise ConfigError("[evaluate] must be a table")
        phrases = section.get("decline_phrases", [])
        if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
            raise ConfigError("[evaluate] decline_phrases: expected a list of strings (regular expressions)")
        return cls(tuple(phrases))


def find_upward(name: str, start: Path | None = None) -> Path | None:
    """The nearest ``name`` in ``start`` or one of its parents."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        candidate = d / name
        if candidate.exists():
            return candidate
    return None


def _coerce(section: str, key: str, value: Any, kind: Any) -> Any:
    """Check one value against its dataclass field type, converting env strings."""
    kind_name = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    try:
        if kind_name == "int":
            if isinstance(value, bool):
                raise ValueError
            return int(value)
        if kind_name == "float":
            return float(value)
        if kind_name == "bool":
            if isinstance(value, str):
                return value.lower() in ("1", "true", "yes", "on")
            return bool(value)
        if kind_name.startswith("list"):
            if isinstance(value, str):
                return [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, list):
                raise ValueError
            return [str(v) for v in value]
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"[{section}] {key} = {value!r}: expected {kind_name}") from None


def _apply(settings: Settings, data: dict[str, Any], origin: str) -> Settings:
    for section, values in data.items():
        if section not in _sections():
            continue  # other tools' sections (strategies, models) are read by their owners
        if not isinstance(values, dict):
            raise ConfigError(f"{origin}: [{section}] must be a table")
        fields = {f.name: f.type for f in dataclasses.fields(getattr(settings, section))}
        changes = {}
        for key, value in values.items():
            if key not in fields:
                raise ConfigError(f"{origin}: unknown setting [{section}] {key}; known: {', '.join(fields)}")
            changes[key] = _coerce(section, key, value, fields[key])
        settings = settings.replace(section, **changes)
    return settings


def _sections() -> list[str]:
    return [f.name for f in dataclasses.fields(Settings) if f.name != "source"]


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def load_settings(config_path: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Settings from defaults, the nearest ragtune.toml (or ``config_path``) and RAGTUNE_* variables."""
    settings = Settings()
    path = config_path or find_upward(CONFIG_NAME)
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        settings = _apply(settings, data, str(path))
        settings.source = str(path)
    env = dict(os.environ if env is None else env)
    from_env: dict[str, dict[str, Any]] = {}
    for name, raw in env.items():
        if not name.startswith("RAGTUNE_"):
            continue
        rest = name[len("RAGTUNE_") :].lower()
        for section in _sections():
            if rest.startswith(section + "_"):
                from_env.setdefault(section, {})[rest[len(section) + 1 :]] = _parse_env_value(raw)
    return _apply(settings, from_env, "environment") if from_env else settings


def raw_config(config_path: Path | None = None) -> dict[str, Any]:
    """The whole parsed ragtune.toml (for sections owned by other modules), or {}."""
    path = config_path or find_upward(CONFIG_NAME)
    if path is None:
        return {}
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def find_kb(start: Path | None = None) -> Path | None:
    """The nearest ``.ragtune/`` directory from ``start`` upward (like git finds ``.git``)."""
    found = find_upward(KB_DIRNAME, start)
    return found if found is not None and found.is_dir() else None
