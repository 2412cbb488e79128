"""The cost model: a price sheet from ``[prices]`` in ragtune.toml, and cost per query and per setup.

A model is priced one of two ways:

- **API** (per-million-token prices): cost = tokens_in × input / 1e6 + tokens_out × output / 1e6.
- **Self-hosted** ($/hour of the hardware it runs on): cost = hourly × seconds of compute / 3600 /
  concurrency, where ``concurrency`` is how many requests the hardware serves at once (batching).

Retrieval (query embedding and search) is self-hosted compute on ``retrieval_per_hour``. Setup (data
preparation + training) costs ``training_per_hour`` × seconds, plus ``per_example`` × examples when examples
are bought (labelling). A model spec is looked up exactly, then by its longest matching prefix (``"openai:"``
prices every OpenAI-compatible model not listed), else it is self-hosted on ``hardware_per_hour``.

Defaults are assumptions, stated so they can be replaced (``docs/metrics.md``): a 4-vCPU on-demand cloud
VM at $0.20/hour (about what AWS c7i.xlarge / GCP c3-standard-4 list at in 2025) serves the model, the
retrieval and the training, one request at a time; examples cost nothing (you already have them). Example::

    [prices]
    hardware_per_hour = 0.20
    training_per_hour = 2.50            # e.g. one rented GPU
    [prices.models."openai:gpt-4o-mini"]
    input_per_million = 0.15
    output_per_million = 0.60
    [prices.models."hf:Qwen/Qwen2.5-0.5B-Instruct"]
    per_hour = 1.20
    concurrency = 8
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ragtune.config import raw_config
from ragtune.errors import ConfigError

DEFAULT_HOURLY = 0.20  # $/h, a 4-vCPU on-demand cloud VM (assumption; see the module docstring)


@dataclass(frozen=True)
class ModelPrice:
    """How one model is billed: per-million-token prices (API) and/or $/hour of its hardware (self-hosted)."""

    input_per_million: float = 0.0
    output_per_million: float = 0.0
    per_hour: float = 0.0
    concurrency: float = 1.0

    @property
    def is_api(self) -> bool:
        return self.input_per_million > 0 or self.output_per_million > 0


@dataclass(frozen=True)
class PriceSheet:
    """Prices for queries and setup. ``models`` maps a model spec (or a prefix such as ``"openai:"``) to its
    price; unlisted models are self-hosted on ``hardware_per_hour`` at ``concurrency``."""

    hardware_per_hour: float = DEFAULT_HOURLY
    retrieval_per_hour: float = DEFAULT_HOURLY
    training_per_hour: float = DEFAULT_HOURLY
    concurrency: float = 1.0
    per_example: float = 0.0
    models: Mapping[str, ModelPrice] = field(default_factory=dict)

    def price_for(self, model_spec: str) -> ModelPrice:
        """The price of ``model_spec``: exact entry, else the longest prefix entry, else self-hosted default."""
        if model_spec in self.models:
            return self.models[model_spec]
        prefixes = [k for k in self.models if model_spec.startswith(k)]
        if prefixes:
            return self.models[max(prefixes, key=len)]
        return ModelPrice(per_hour=self.hardware_per_hour, concurrency=self.concurrency)

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["models"] = {k: dataclasses.asdict(v) for k, v in self.models.items()}
        return out


def _number(section: str, key: str, value: Any, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (positive and value == 0):
        raise ConfigError(
            f"[{section}] {key} = {value!r}: expected a {'positive' if positive else 'non-negative'} number"
        )
    return float(value)


def _model_price(name: str, table: Any) -> ModelPrice:
    section = f'prices.models."{name}"'
    if not isinstance(table, Mapping):
        raise ConfigError(f"[{section}] must be a table")
    known = {f.name for f in dataclasses.fields(ModelPrice)}
    for key in table:
        if key not in known:
            raise ConfigError(f"[{section}] {key}: unknown; known: {', '.join(sorted(known))}")
    values = {k: _number(section, k, v, positive=k == "concurrency") for k, v in table.items()}
    return ModelPrice(**values)


def load_price_sheet(config: Mapping[str, Any] | None = None, overrides: Mapping[str, Any] | None = None) -> PriceSheet:
    """The price sheet from ``[prices]`` of ``config`` (default: ragtune.toml), then ``overrides`` (same shape;
    ``models`` entries are merged by name)."""
    section: dict[str, Any] = dict((raw_config() if config is None else config).get("prices") or {})
    for key, value in (overrides or {}).items():
        if key == "models":
            section["models"] = {**(section.get("models") or {}), **value}
        else:
            section[key] = value
    known = {f.name for f in dataclasses.fields(PriceSheet)}
    values: dict[str, Any] = {}
    for key, value in section.items():
        if key not in known:
            raise ConfigError(f"[prices] {key}: unknown; known: {', '.join(sorted(known))}")
        if key == "models":
            if not isinstance(value, Mapping):
                raise ConfigError("[prices] models must be a table of model specs")
            values["models"] = {str(name): _model_price(str(name), t) for name, t in value.items()}
        else:
            values[key] = _number("prices", key, value, positive=key == "concurrency")
    return PriceSheet(**values)


def query_cost(
    model_spec: str,
    tokens_in: int,
    tokens_out: int,
    seconds: float,
    *,
    retrieval_seconds: float = 0.0,
    sheet: PriceSheet | None = None,
) -> float:
    """Dollars for one query: the model's token or compute cost plus retrieval compute.

    ``seconds`` is the generation time (billed only for self-hosted models); ``retrieval_seconds`` is the
    embedding + search time, billed on ``retrieval_per_hour``. The extractive answerer (``"extractive"``) is
    self-hosted compute like any unlisted model.
    """
    sheet = sheet or PriceSheet()
    price = sheet.price_for(model_spec)
    cost = tokens_in * price.input_per_million / 1e6 + tokens_out * price.output_per_million / 1e6
    cost += price.per_hour * seconds / 3600 / price.concurrency
    cost += sheet.retrieval_per_hour * retrieval_seconds / 3600 / sheet.concurrency
    return cost


@dataclass
class SetupCost:
    """What it cost to get a strategy ready: dollars, compute seconds, examples used, and the $/h applied."""

    dollars: float
    seconds: float
    examples: int
    per_hour: float

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def setup_cost(
    seconds: float, examples: int = 0, *, data_prep_seconds: float = 0.0, sheet: PriceSheet | None = None
) -> SetupCost:
    """Training (``seconds``) plus data preparation time at ``training_per_hour``, plus ``per_example`` each."""
    if seconds < 0 or data_prep_seconds < 0 or examples < 0:
        raise ValueError("setup seconds and examples must be non-negative")
    sheet = sheet or PriceSheet()
    total = seconds + data_prep_seconds
    dollars = sheet.training_per_hour * total / 3600 + sheet.per_example * examples
    return SetupCost(dollars, total, examples, sheet.training_per_hour)
