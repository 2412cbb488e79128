"""``data split``: a training file into train and validation parts, reproducibly.

The same file, share and seed always give the same split. With ``by_source``, examples are grouped by
``metadata.doc_id`` and whole documents go to one side, so no validation question shares a source document
with a training one (otherwise validation loss rewards memorizing the page, not generalizing).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ragtune.errors import ConfigError, DatasetError
from ragtune.tune.data.dataset import ChatExample, read_chat_jsonl, write_chat_jsonl


@dataclass
class Split:
    """The two parts; ``groups`` counts the source documents on each side (0 when not split by source)."""

    train: list[ChatExample]
    val: list[ChatExample]
    train_groups: int = 0
    val_groups: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "train": len(self.train),
            "val": len(self.val),
            "train_documents": self.train_groups,
            "val_documents": self.val_groups,
        }


def split_examples(
    examples: Sequence[ChatExample],
    *,
    val: float = 0.1,
    seed: int = 0,
    by_source: bool = False,
    path: str | Path = "<examples>",
) -> Split:
    """Split ``examples``: a ``val`` share (0 < val < 1) of examples, or of source documents with ``by_source``.

    Each side keeps the file's order. With ``by_source`` every example needs ``metadata.doc_id``; the
    validation side then holds whole documents, about ``val`` of the examples (never none, never all).
    """
    if not 0.0 < val < 1.0:
        raise ConfigError(f"the validation share must be between 0 and 1, not {val}")
    if len(examples) < 2:
        raise DatasetError(path, None, f"{len(examples)} examples cannot be split into train and validation")
    rng = random.Random(seed)
    if not by_source:
        order = list(range(len(examples)))
        rng.shuffle(order)
        n_val = min(max(1, round(val * len(examples))), len(examples) - 1)
        return _parts(examples, set(order[:n_val]), 0, 0)
    groups: dict[str, list[int]] = {}
    for i, ex in enumerate(examples):
        doc = ex.metadata.get("doc_id")
        if not isinstance(doc, str) or not doc:
            line = ex.line or None
            raise DatasetError(path, line, "--by-source needs metadata.doc_id on every example (this one has none)")
        groups.setdefault(doc, []).append(i)
    if len(groups) < 2:
        raise DatasetError(path, None, f"--by-source needs at least 2 source documents, found {len(groups)}")
    docs = sorted(groups)
    rng.shuffle(docs)
    target = val * len(examples)
    chosen: set[int] = set()
    val_docs = 0
    for doc in docs[:-1]:  # the last document always stays in training
        if chosen and len(chosen) + len(groups[doc]) / 2 > target:
            break  # adding this document would overshoot the target by more than it helps
        chosen.update(groups[doc])
        val_docs += 1
    return _parts(examples, chosen, len(groups) - val_docs, val_docs)


def _parts(examples: Sequence[ChatExample], chosen: set[int], train_groups: int, val_groups: int) -> Split:
    train = [ex for i, ex in enumerate(examples) if i not in chosen]
    held = [ex for i, ex in enumerate(examples) if i in chosen]
    return Split(train, held, train_groups, val_groups)


def split_file(
    path: str | Path,
    train_out: str | Path,
    val_out: str | Path,
    *,
    val: float = 0.1,
    seed: int = 0,
    by_source: bool = False,
) -> Split:
    """Read a chat JSONL file, split it, and write both parts (atomically)."""
    split = split_examples(read_chat_jsonl(path), val=val, seed=seed, by_source=by_source, path=path)
    write_chat_jsonl(train_out, split.train)
    write_chat_jsonl(val_out, split.val)
    return split
