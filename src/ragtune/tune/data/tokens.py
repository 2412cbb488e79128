"""Counting training tokens: the base model's own tokenizer when we have it, a whitespace estimate otherwise."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragtune.errors import ModelError

# Chat markup around each message (role marker, separators) when no chat template is available to measure it.
PER_MESSAGE_OVERHEAD = 4


@dataclass
class TokenCounter:
    """Counts tokens of texts and whole conversations. ``exact`` is False for the whitespace estimate."""

    name: str
    exact: bool
    max_length: int | None = None  # the model's limit, when its files state one
    _tokenizer: Any = None

    def count(self, text: str) -> int:
        """Tokens of ``text`` (no special tokens)."""
        if self._tokenizer is None:
            return len(text.split())
        return len(self._tokenizer.encode(text, add_special_tokens=False))

    def count_messages(self, messages: Sequence[dict[str, str]]) -> int:
        """Tokens of a conversation as the model sees it: through its chat template when it has one."""
        tok = self._tokenizer
        if tok is not None and getattr(tok, "chat_template", None):
            try:
                ids = tok.apply_chat_template(list(messages), tokenize=True)
            except Exception:  # a template that rejects this conversation: fall back to the estimate below
                ids = None
            if ids is not None:
                ids = ids["input_ids"] if hasattr(ids, "keys") else ids
                return len(ids)
        return sum(self.count(m["content"]) + PER_MESSAGE_OVERHEAD for m in messages)


def whitespace_counter() -> TokenCounter:
    """The fallback: words separated by whitespace (roughly 0.75 of a subword tokenizer's count in English)."""
    return TokenCounter("whitespace (approximate)", exact=False)


def load_token_counter(spec: str | None) -> TokenCounter:
    """A counter for ``hf:PATH_OR_ID`` (or a bare path/id): only the tokenizer is loaded, offline.

    None gives the whitespace estimate. Other model specs (``openai:...``, ``extractive``) have no local
    tokenizer, so they also get the estimate.
    """
    if not spec:
        return whitespace_counter()
    from ragtune.hardware import load_tokenizer
    from ragtune.llm.registry import local_tokenizer
    from ragtune.llm.spec import ModelSpec

    # A spec without a scheme is a bare path or hub id; otherwise the backend says where its tokenizer is.
    name = spec if not ModelSpec.parse(spec).scheme else local_tokenizer(spec)
    if name is None:
        return whitespace_counter()
    try:
        tokenizer = load_tokenizer(name)
    except Exception as exc:
        raise ModelError(f"{spec}: cannot load the tokenizer ({type(exc).__name__}: {exc})") from exc
    return TokenCounter(f"hf:{name}", exact=True, max_length=_max_length(name, tokenizer), _tokenizer=tokenizer)


def _max_length(name: str, tokenizer: Any) -> int | None:
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < 1_000_000:  # transformers uses ~1e30 for "not stated"
        return limit
    config = Path(name) / "config.json"
    if config.is_file():
        try:
            value = json.loads(config.read_text(encoding="utf-8")).get("max_position_embeddings")
        except (OSError, ValueError):
            return None
        return int(value) if isinstance(value, int) and value > 0 else None
    return None
