"""Training a cross-encoder reranker on the team's own (question, passage, hard negatives) rows.

No pretrained cross-encoder ships offline, so the reranker starts from the bundled MiniLM bi-encoder's weights
with a new one-logit head (``CrossEncoder(base, num_labels=1)``) and learns relevance from the KB's own pairs:
each row gives one positive (label 1) and its hard negatives — passages the KB's own search ranks high for the
question that are not its answer — labelled 0, trained with binary cross-entropy (sentence-transformers'
``CrossEncoderTrainer``). The head starts from random, so a learning rate above fine-tuning's usual 2e-5 helps it
settle in one short epoch on CPU; the passage is read as the search indexes it (header + text,
:func:`ragtune.kb.doc_context.indexed_text`), as :mod:`ragtune.search.cross_encoder` will read it at query time.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragtune.errors import ConfigError

DEFAULT_NEGATIVES = 3


@dataclass(frozen=True)
class RerankRow:
    """A question, a passage that answers it, and passages that look relevant but do not."""

    query: str
    positive: str
    negatives: tuple[str, ...] = ()


@dataclass
class RerankerTrainConfig:
    base: str = "all-MiniLM-L6-v2"
    epochs: float = 1.0
    batch_size: int = 16
    learning_rate: float = 5e-5
    warmup_ratio: float = 0.1
    max_length: int = 256
    negatives: int = DEFAULT_NEGATIVES  # hard negatives per row used (each row gives 1 + negatives examples)
    seed: int = 0

    def check(self) -> None:
        if self.epochs <= 0 or self.batch_size < 1 or self.learning_rate <= 0 or self.negatives < 0:
            raise ConfigError("reranker training: epochs, batch size and learning rate must be positive")
        if not 16 <= self.max_length <= 512:
            raise ConfigError(f"reranker training: max_length must be 16..512, got {self.max_length}")


def labelled_examples(rows: Sequence[RerankRow], negatives: int, seed: int = 0) -> list[tuple[str, str, float]]:
    """(query, passage, label) triples: every positive, and up to ``negatives`` hard negatives per row, shuffled
    with ``seed`` so batches mix questions."""
    out: list[tuple[str, str, float]] = []
    for row in rows:
        out.append((row.query, row.positive, 1.0))
        out += [(row.query, n, 0.0) for n in row.negatives[:negatives]]
    random.Random(seed).shuffle(out)
    return out


def train_cross_encoder(
    rows: Sequence[RerankRow],
    out_dir: Path,
    config: RerankerTrainConfig | None = None,
    *,
    on_log: Callable[[dict[str, float], int], None] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train a cross-encoder on ``rows`` and save it to ``out_dir`` (loadable as ``cross-encoder:out_dir``).
    Returns the figures of the run: examples, steps, seconds, final training loss."""
    config = config or RerankerTrainConfig()
    config.check()
    if not rows:
        raise ConfigError("reranker training: no training rows")
    from datasets import Dataset
    from sentence_transformers.cross_encoder import (
        CrossEncoder,
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss
    from transformers import TrainerCallback

    from ragtune.embed.base import resolve_model_path

    examples = labelled_examples(rows, config.negatives, config.seed)
    data = Dataset.from_dict(
        {
            "query": [q for q, _, _ in examples],
            "passage": [p for _, p, _ in examples],
            "label": [y for *_, y in examples],
        }
    )
    model = CrossEncoder(resolve_model_path(config.base), num_labels=1, max_length=config.max_length, device="cpu")
    losses: list[float] = []

    class _Log(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kw: Any) -> None:
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))
                if on_log is not None:
                    on_log({"loss": float(logs["loss"])}, int(state.global_step))

    args = CrossEncoderTrainingArguments(
        output_dir=str(out_dir / "checkpoints"),
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        warmup_ratio=config.warmup_ratio,
        seed=config.seed,
        logging_steps=10,
        save_strategy="no",
        report_to=[],
        disable_tqdm=not progress,
        use_cpu=True,
        dataloader_drop_last=False,
    )
    trainer = CrossEncoderTrainer(
        model=model, args=args, train_dataset=data, loss=BinaryCrossEntropyLoss(model), callbacks=[_Log()]
    )
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(out_dir))
    return {
        "examples": len(examples),
        "rows": len(rows),
        "steps": int(trainer.state.global_step),
        "seconds": round(seconds, 1),
        "loss": losses[-1] if losses else float("nan"),
    }
