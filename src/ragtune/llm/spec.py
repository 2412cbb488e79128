"""A model spec parsed once: ``scheme:name`` plus the options a backend is loaded with.

Specs in the wild: ``extractive`` (no model), ``hf:PATH_OR_HUB_ID``, ``openai:MODEL``, ``ft:NAME`` (a registered
fine-tuned model) and the bundled models' short names (``smollm2``, also ``hf:smollm2`` and ``bundled:smollm2``),
whose scheme is ``bundled``. The scheme chooses the backend in :mod:`ragtune.llm.registry`; callers ask a
:class:`ModelSpec` instead of checking string prefixes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ragtune.llm.bundled import bundled_name

# Schemes that name no model: the whole spec is the scheme.
BARE_SCHEMES = ("extractive",)


@dataclass(frozen=True)
class ModelSpec:
    """``scheme`` (``hf``, ``openai``, ``ft``, ``bundled``, ``extractive``, or a plugin's), the ``name`` after the
    colon (a path, hub id, model or registered name; empty for ``extractive``), and backend ``options``."""

    scheme: str
    name: str = ""
    options: tuple[tuple[str, Any], ...] = field(default=())

    @classmethod
    def parse(cls, spec: str | ModelSpec, **options: Any) -> ModelSpec:
        """Parse a spec string; a bundled model's short name parses as scheme ``bundled``. A spec without a
        colon that is not a bundled name or a bare scheme has scheme ``""`` (unknown to every registry)."""
        if isinstance(spec, ModelSpec):
            return spec.with_options(**options) if options else spec
        opts = tuple(sorted(options.items()))
        text = str(spec)
        short = bundled_name(text)
        if short is not None:
            return cls("bundled", short, opts)
        if text in BARE_SCHEMES:
            return cls(text, "", opts)
        scheme, sep, name = text.partition(":")
        if not sep:
            return cls("", text, opts)
        return cls(scheme, name, opts)

    def with_options(self, **options: Any) -> ModelSpec:
        """The same spec with ``options`` added (replacing same-named ones)."""
        merged = {**dict(self.options), **options}
        return ModelSpec(self.scheme, self.name, tuple(sorted(merged.items())))

    @property
    def settings(self) -> Mapping[str, Any]:
        """The options as a mapping."""
        return dict(self.options)

    def __str__(self) -> str:
        if self.scheme == "bundled" or not self.scheme:
            return self.name
        return f"{self.scheme}:{self.name}" if self.name else self.scheme
