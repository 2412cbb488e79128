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
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragtune.errors import ConfigError

DEFAULT_NEGATIVES = 3
LOSSES = ("bce", "listwise")
IN_BATCH_NEGATIVES = 1  # listwise: another question's positive beside the mined negatives (an easy one)


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
    max_steps: int = -1
    val_share: float = 0.1  # queries held out to measure the reranker (tune-reranker)
    # bce: each (query, passage) labelled 1/0 alone; listwise: a softmax over each query's positive and its hard
    # negatives (plus in-batch ones), which cannot be satisfied by predicting how common positives are
    loss: str = "bce"

    def check(self) -> None:
        if self.epochs <= 0 or self.batch_size < 1 or self.learning_rate <= 0 or self.negatives < 0:
            raise ConfigError("reranker training: epochs, batch size and learning rate must be positive")
        if self.loss not in LOSSES:
            raise ConfigError(f"reranker training: loss must be one of {', '.join(LOSSES)}, not {self.loss!r}")
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


def listwise_columns(rows: Sequence[RerankRow], negatives: int, seed: int = 0) -> dict[str, list[str]]:
    """``query``, ``positive`` and ``negative_1..n`` columns (rows shuffled with ``seed``); a row with fewer hard
    negatives than ``negatives`` borrows another row's positive (columns must be complete; with a single row,
    its own query stands in)."""
    rng = random.Random(seed)
    order = list(rows)
    rng.shuffle(order)
    columns: dict[str, list[str]] = {"query": [r.query for r in order], "positive": [r.positive for r in order]}
    for j in range(negatives):
        col = []
        for r in order:
            if j < len(r.negatives):
                col.append(r.negatives[j])
            else:
                others = [o.positive for o in order if o.positive != r.positive] or [r.query]
                col.append(others[rng.randrange(len(others))])
        columns[f"negative_{j + 1}"] = col
    return columns


def fit_cross_encoder(
    rows: Sequence[RerankRow],
    base: str,
    config: RerankerTrainConfig | None = None,
    *,
    callbacks: Sequence[Any] = (),
    progress: bool = True,
) -> tuple[Any, dict[str, Any]]:
    """A cross-encoder trained on ``rows`` from the bi-encoder folder ``base`` (a new one-logit head), and the
    figures of the run (examples, steps, seconds, final training loss). Saving is the caller's."""
    config = config or RerankerTrainConfig()
    config.check()
    if not rows:
        raise ConfigError("reranker training: no training rows")
    from datasets import Dataset
    from sentence_transformers.cross_encoder import CrossEncoder, CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    model = CrossEncoder(base, num_labels=1, max_length=config.max_length, device="cpu")
    if config.loss == "listwise":
        from sentence_transformers.cross_encoder.losses import MultipleNegativesRankingLoss

        data = Dataset.from_dict(listwise_columns(rows, config.negatives, config.seed))
        loss: Any = MultipleNegativesRankingLoss(model, num_negatives=IN_BATCH_NEGATIVES)
        n_examples = len(data) * (1 + config.negatives + IN_BATCH_NEGATIVES)
    else:
        examples = labelled_examples(rows, config.negatives, config.seed)
        queries, passages, labels = (list(column) for column in zip(*examples, strict=True))
        data = Dataset.from_dict({"query": queries, "passage": passages, "label": labels})
        loss = BinaryCrossEntropyLoss(model)
        n_examples = len(examples)
    from transformers import PrinterCallback, ProgressCallback

    from ragtune.tune.training.callbacks import LossBar

    args = CrossEncoderTrainingArguments(
        output_dir=str(Path(tempfile.gettempdir()) / "ragtune-cross-encoder"),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        warmup_steps=config.warmup_ratio,  # a float below 1: a share of the steps (warmup_ratio is deprecated)
        seed=config.seed,
        data_seed=config.seed,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        disable_tqdm=True,  # transformers' bar writes each logged dict as a line: LossBar instead
        use_cpu=True,
        dataloader_num_workers=0,
    )

    class Trainer(CrossEncoderTrainer):
        def add_model_card_callback(self, default_args_dict: dict[str, Any]) -> None:
            """No hub model card: its callback scores widget examples at start (a progress bar, seconds of work)."""

    trainer = Trainer(model=model, args=args, train_dataset=data, loss=loss, callbacks=list(callbacks))
    for default in (PrinterCallback, ProgressCallback):  # a line per logged step; LossBar instead
        trainer.remove_callback(default)
    if progress:
        trainer.add_callback(LossBar("tune-reranker"))
    started = time.perf_counter()
    out = trainer.train()
    losses = [(int(h["step"]), float(h["loss"])) for h in trainer.state.log_history if "loss" in h]
    figures = {
        "examples": n_examples,
        "rows": len(rows),
        "steps": int(trainer.state.global_step),
        "seconds": round(time.perf_counter() - started, 2),
        "train_loss": float(out.training_loss),
        "loss_history": losses,
    }
    return model, figures


def candidate_mrr(score: Callable[[str, list[str]], Sequence[float]], rows: Sequence[RerankRow]) -> float:
    """Mean reciprocal rank of each row's positive among its own candidates (the positive and its hard
    negatives) as ``score(query, candidates)`` orders them: what reranking the mined candidates achieves."""
    total = 0.0
    scored = [r for r in rows if r.negatives]
    for row in scored:
        values = list(score(row.query, [row.positive, *row.negatives]))
        total += 1.0 / (1 + sum(v > values[0] for v in values[1:]))
    return total / len(scored) if scored else float("nan")


BLEND_GRID = tuple(i / 20 for i in range(21))  # the cross-encoder's share of the blended score, 0 … 1


@dataclass(frozen=True)
class CandidateList:
    """One held-out question as the KB's search answered it: fusion's scores (in its order), the cross-encoder's
    scores of the same passages, and which passages answer the question."""

    fused: tuple[float, ...]
    reranked: tuple[float, ...]
    relevant: tuple[bool, ...]


def blended_mrr(lists: Sequence[CandidateList], weight: float) -> float:
    """MRR of the first answering passage when each list is ordered by the blend at ``weight`` (0 for a question
    whose answer is not among its candidates: no weight can help it, and it still counts)."""
    from ragtune.search.cross_encoder import blend_scores, monotone

    total = 0.0
    for c in lists:
        if not any(c.relevant):
            continue
        mixed = blend_scores(monotone(c.fused), c.reranked, weight)
        order = sorted(range(len(mixed)), key=lambda i: (-mixed[i], i))
        total += 1.0 / (1 + next(r for r, i in enumerate(order) if c.relevant[i]))
    return total / len(lists) if lists else float("nan")


def choose_blend(lists: Sequence[CandidateList]) -> tuple[float, dict[str, float]]:
    """The cross-encoder's share (on :data:`BLEND_GRID`) that orders the held-out questions' candidates best, and
    the MRRs: ``fused`` (weight 0: search as it is), ``reranked`` (weight 1: the cross-encoder alone) and
    ``blended`` (the chosen weight). Ties go to the smaller weight: less of an unproven model."""
    mrr = {w: blended_mrr(lists, w) for w in BLEND_GRID}
    best = max(BLEND_GRID, key=lambda w: (round(mrr[w], 9), -w))
    return best, {"fused": mrr[0.0], "reranked": mrr[1.0], "blended": mrr[best]}


def train_cross_encoder(
    rows: Sequence[RerankRow], out_dir: Path, config: RerankerTrainConfig | None = None, *, progress: bool = True
) -> dict[str, Any]:
    """Train a cross-encoder on ``rows`` from ``config.base`` and save it to ``out_dir`` (``cross-encoder:out_dir``)."""
    from ragtune.embed.base import resolve_model_path

    config = config or RerankerTrainConfig()
    model, figures = fit_cross_encoder(rows, resolve_model_path(config.base), config, progress=progress)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(out_dir))
    return figures
