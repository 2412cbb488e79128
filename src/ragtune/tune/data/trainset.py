"""A training set: chat examples read and hashed, split for validation, and turned into TRL prompt/completion rows.

Loss is on assistant tokens only. Each conversation becomes TRL's conversational prompt/completion form: the
prompt is every message before the **last** assistant turn, the completion is that turn, and TRL masks the
prompt out of the labels (``completion_only_loss``). This needs no ``{% generation %}`` markers in the chat
template, which most templates (and the tiny models') lack. Limitation: in a multi-turn conversation only the
last assistant turn is trained on; earlier assistant turns are context. Split such a conversation into one
example per assistant turn to train on all of them.

Every top-level key other than ``messages`` (e.g. ``metadata``) is dropped before training; ``metadata.kb_version``
is read first, for the registry's lineage.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragtune.errors import DatasetError
from ragtune.tune.data.dataset import ChatExample, parse_example, read_chat_jsonl
from ragtune.tune.data.split import split_examples


@dataclass
class TrainSet:
    """Examples plus where they came from: ``sha256`` of the file (or of the canonical JSON of in-memory data)."""

    examples: list[ChatExample]
    sha256: str
    path: str | None

    @property
    def kb_version(self) -> int | None:
        """The KB version the examples were built from (the newest one when they disagree), or None."""
        versions = [e.metadata.get("kb_version") for e in self.examples]
        ints = [v for v in versions if isinstance(v, int) and not isinstance(v, bool)]
        return max(ints) if ints else None


def load_trainset(data: str | Path | Sequence[ChatExample | dict[str, Any]]) -> TrainSet:
    """A chat JSONL path, or a list of ChatExample / ``{"messages": ...}`` dicts → TrainSet (DatasetError when bad)."""
    if isinstance(data, (str, Path)):
        path = Path(data)
        examples = read_chat_jsonl(path)
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            raise DatasetError(path, None, f"cannot read: {exc.strerror or exc}") from exc
        out = TrainSet(examples, digest, str(path.resolve()))
    else:
        examples = []
        for i, item in enumerate(data, start=1):
            if isinstance(item, ChatExample):
                examples.append(item)
                continue
            example, problems = parse_example(item, i)
            if example is None or problems:
                raise DatasetError("<examples>", i, "; ".join(problems) or "not an example")
            examples.append(example)
        canonical = "\n".join(json.dumps(e.as_dict(), sort_keys=True, ensure_ascii=False) for e in examples)
        out = TrainSet(examples, hashlib.sha256(canonical.encode()).hexdigest(), None)
    if not out.examples:
        raise DatasetError(out.path or "<examples>", None, "no examples")
    for e in out.examples:
        if not any(m["role"] == "assistant" for m in e.messages):
            raise DatasetError(out.path or "<examples>", e.line, "no assistant turn to train on")
    return out


def split(examples: list[ChatExample], share: float, seed: int) -> tuple[list[ChatExample], list[ChatExample]]:
    """(train, validation): ``share`` held out by a seeded shuffle; no validation when share is 0 or data < 4."""
    if share <= 0 or len(examples) < 4:
        return list(examples), []
    parts = split_examples(examples, val=share, seed=seed)
    return parts.train, parts.val


def prompt_completion(example: ChatExample) -> dict[str, list[dict[str, str]]]:
    """One example as TRL's conversational prompt/completion row (prompt = all before the last assistant turn)."""
    msgs = [{"role": m["role"], "content": m["content"]} for m in example.messages]
    last = max(i for i, m in enumerate(msgs) if m["role"] == "assistant")
    return {"prompt": msgs[:last], "completion": [msgs[last]]}


def to_rows(examples: list[ChatExample]) -> list[dict[str, list[dict[str, str]]]]:
    return [prompt_completion(e) for e in examples]
