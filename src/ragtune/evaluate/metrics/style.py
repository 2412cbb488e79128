"""Style adherence: closeness to the brand-voice examples, and configurable format rules.

- **Similarity**: the mean of the ``top_k`` highest cosines between the answer and the assistant turns of a
  style chat-JSONL (``examples/helpcenter/style.jsonl``). Top-k rather than the mean over all examples: an
  answer should sound like *some* of the examples, those on its topic, not like their average.
- **Format rules** (``[style] rules`` in ragtune.toml, a list of one-key tables, each optionally with a
  ``name``): ``starts_with``, ``ends_with``, ``contains``, ``not_contains`` (text, compared with whitespace
  collapsed), ``regex`` (searched, multiline), ``max_sentences``, ``min_sentences``, ``max_words``. The score
  is the share of rules passed. Citation markers are stripped before checking.

Example::

    [style]
    examples = "examples/helpcenter/style.jsonl"
    top_k = 5
    rules = [
      { ends_with = "Happy nesting! - The Driftnest crew" },
      { max_sentences = 8, name = "short" },
    ]
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ragtune.config import raw_config
from ragtune.errors import ConfigError
from ragtune.evaluate.metrics.answer import EmbedFn, embed_unique, strip_citations
from ragtune.text import split_sentences

RULE_KINDS = (
    "starts_with",
    "ends_with",
    "contains",
    "not_contains",
    "regex",
    "max_sentences",
    "min_sentences",
    "max_words",
)
_TEXT_KINDS = {"starts_with", "ends_with", "contains", "not_contains", "regex"}


@dataclass(frozen=True)
class FormatRule:
    """One format rule: ``kind`` (one of :data:`RULE_KINDS`), its ``value``, and a display ``name``."""

    kind: str
    value: str | int
    name: str = ""

    def __post_init__(self) -> None:
        if self.kind not in RULE_KINDS:
            raise ConfigError(f"style rule {self.kind!r}: unknown; known: {', '.join(RULE_KINDS)}")
        if (self.kind in _TEXT_KINDS) != isinstance(self.value, str) or isinstance(self.value, bool):
            expected = "text" if self.kind in _TEXT_KINDS else "an integer"
            raise ConfigError(f"style rule {self.kind} = {self.value!r}: expected {expected}")
        if self.kind == "regex":
            try:
                re.compile(str(self.value))
            except re.error as exc:
                raise ConfigError(f"style rule regex = {self.value!r}: {exc}") from None
        if not self.name:
            object.__setattr__(self, "name", f"{self.kind}={self.value}")

    def check(self, text: str) -> bool:
        """Whether ``text`` (citation markers already stripped) passes."""
        flat = " ".join(text.split())
        value = self.value
        if self.kind == "starts_with":
            return flat.startswith(" ".join(str(value).split()))
        if self.kind == "ends_with":
            return flat.endswith(" ".join(str(value).split()))
        if self.kind == "contains":
            return " ".join(str(value).split()) in flat
        if self.kind == "not_contains":
            return " ".join(str(value).split()) not in flat
        if self.kind == "regex":
            return re.search(str(value), text, re.MULTILINE) is not None
        if self.kind == "max_words":
            return len(flat.split()) <= int(value)
        sentences = sum(len(split_sentences(line)) for line in text.splitlines())
        return sentences <= int(value) if self.kind == "max_sentences" else sentences >= int(value)


def parse_rules(items: Sequence[Mapping[str, Any]], origin: str = "[style] rules") -> list[FormatRule]:
    """Rules from a list of one-key tables (``{ends_with = "..."}``, optionally with ``name``)."""
    rules = []
    for i, item in enumerate(items, start=1):
        if not isinstance(item, Mapping):
            raise ConfigError(f'{origin} #{i}: expected a table like {{ ends_with = "..." }}, got {item!r}')
        keys = [k for k in item if k != "name"]
        if len(keys) != 1:
            raise ConfigError(f"{origin} #{i}: expected exactly one of {', '.join(RULE_KINDS)}, got {keys}")
        rules.append(FormatRule(keys[0], item[keys[0]], str(item.get("name", ""))))
    return rules


def check_rules(text: str, rules: Sequence[FormatRule]) -> dict[str, Any]:
    """``{"score": share passed or None without rules, "passed": [names], "failed": [names]}``."""
    clean = strip_citations(text)
    passed = [r.name for r in rules if r.check(clean)]
    failed = [r.name for r in rules if r.name not in passed]
    return {"score": len(passed) / len(rules) if rules else None, "passed": passed, "failed": failed}


def read_style_examples(path: str | Path) -> list[str]:
    """The assistant turns of a chat-JSONL file; a clear error names the line that is not one."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read style examples: {exc}") from exc
    out: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            messages = json.loads(line)["messages"]
            out.extend(str(m["content"]) for m in messages if m["role"] == "assistant")
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ConfigError(
                f'{path}:{number}: expected {{"messages": [{{"role", "content"}}, ...]}} ({exc})'
            ) from None
    if not out:
        raise ConfigError(f"{path}: no assistant turns to take the style from")
    return out


@dataclass
class StyleReference:
    """The brand voice to measure against: example answers (embedded once) and format rules."""

    examples: list[str]
    embed: EmbedFn | None = None
    top_k: int = 5
    rules: list[FormatRule] = field(default_factory=list)
    _matrix: np.ndarray | None = field(default=None, init=False, repr=False)

    def similarity(self, answers: Sequence[str]) -> list[float | None]:
        """Mean of the top-k cosines of each answer to the examples (None without an embedder or examples)."""
        if self.embed is None or not self.examples:
            return [None] * len(answers)
        if self._matrix is None:
            vectors = embed_unique(self.examples, self.embed)
            self._matrix = np.stack([vectors[e] for e in dict.fromkeys(self.examples)])
        clean = [strip_citations(a) for a in answers]
        vectors = embed_unique(clean, self.embed)
        if not vectors:
            return []
        sims = np.stack([vectors[a] for a in clean]) @ self._matrix.T
        k = min(self.top_k, sims.shape[1])
        top = -np.sort(-sims, axis=1)[:, :k]
        return [float(x) for x in top.mean(axis=1)]

    def score(self, answers: Sequence[str]) -> list[dict[str, Any]]:
        """Per answer: ``similarity``, ``rules`` (share passed) and ``failed_rules``."""
        sims = self.similarity(answers)
        out = []
        for answer, sim in zip(answers, sims, strict=True):
            checked = check_rules(answer, self.rules)
            out.append({"similarity": sim, "rules": checked["score"], "failed_rules": checked["failed"]})
        return out


def load_style(
    embed: EmbedFn | None, config: Mapping[str, Any] | None = None, base_dir: Path | None = None
) -> StyleReference | None:
    """The ``[style]`` section (``config`` or ragtune.toml's) as a StyleReference; None when there is none.

    A relative ``examples`` path is taken from ``base_dir`` (default: the current directory).
    """
    section = (raw_config() if config is None else config).get("style")
    if not section:
        return None
    if not isinstance(section, Mapping):
        raise ConfigError("[style] must be a table")
    examples: list[str] = []
    if section.get("examples"):
        path = Path(str(section["examples"]))
        examples = read_style_examples(path if path.is_absolute() else (base_dir or Path.cwd()) / path)
    top_k = section.get("top_k", 5)
    if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1:
        raise ConfigError(f"[style] top_k = {top_k!r}: expected a positive integer")
    rules = section.get("rules", [])
    if not isinstance(rules, list):
        raise ConfigError('[style] rules: expected a list of tables, e.g. rules = [{ ends_with = "..." }]')
    return StyleReference(examples, embed, top_k, parse_rules(rules))
