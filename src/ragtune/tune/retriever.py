"""Fine-tuning the retriever: an embedding model trained on a team's (query, passage, hard negative) pairs.

"RAG or fine-tuning?" hides a third option that is often the cheapest win: a small embedding model (MiniLM,
22M parameters) trains in minutes on a CPU, where a language model does not, and every search of the knowledge
base gets better with it. :func:`train_retriever`:

- holds out ``val_share`` of the pairs (whole queries) and measures recall@1/@5 and MRR of the held-out queries'
  passages among all held-out passages and negatives, before and after training: a check that needs no eval set;
- trains with sentence-transformers' ``MultipleNegativesRankingLoss`` — each query against its passage, its mined
  hard negative and every other passage in the batch (the batch sampler keeps duplicate texts out of a batch,
  where they would be false negatives) — for one epoch by default: on SciFact one epoch gained most of what
  three did, and more epochs on a few thousand pairs cost generality (docs/benchmarks.md);
- precision by :func:`ragtune.hardware.auto_precision`: bf16 autocast only where the hardware runs it natively (AMX,
  CUDA), else fp32 — on the 2-core AMD EPYC without native bf16 where the benchmark ran, emulated bf16 did not finish
  one training step of 16 pairs in 300 s, where fp32 took 8-17 s;
- saves the model under ``<kb>/embedders/NAME/`` (where a knowledge base finds it by name, offline, without this
  package: :meth:`~ragtune.knowledge_base.KnowledgeBase.resolve_embedder`) with a ``ragtune.json`` naming the run,
  which is part of the embedder's id, so a model retrained under a reused name never shares cached vectors;
- keeps the run in ``<kb>/runs/<run_id>/`` (``run.json``, ``config.json``, the ``pairs.jsonl`` it trained on,
  ``metrics.json``), tracks it in MLflow (``ragtune_kind`` = ``tune-retriever``) and registers the model
  (kind ``embedder``) with its lineage: base model, pairs file sha256, KB version, settings, metrics.

Heavy imports (torch, sentence-transformers, datasets, MLflow) happen inside :func:`train_retriever`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import shutil
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ragtune.embed.base import TUNED_DIR
from ragtune.errors import ConfigError
from ragtune.kb.doc_context import indexed_text
from ragtune.search.passage import Passage
from ragtune.search.rerank import RERANKER_DIR
from ragtune.tune.data.pairs import RetrievalPair, write_pairs
from ragtune.tune.data.similarity import normalize_text
from ragtune.tune.registry import ModelRegistry, RegisteredModel, check_name
from ragtune.tune.training.reranker import (
    CandidateList,
    RerankerTrainConfig,
    RerankRow,
    candidate_mrr,
    choose_blend,
    fit_cross_encoder,
)
from ragtune.tune.training.rundir import RUNS, kb_root, new_run_id, write_json

EMBEDDERS = TUNED_DIR  # <kb>/embedders/NAME/: the folder knowledge_base.EMBEDDERS_DIRNAME resolves names in
RERANKERS = RERANKER_DIR  # <kb>/rerankers/NAME/: where [search] rerank = NAME is found (ragtune.search.rerank)
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass
class RetrieverConfig:
    """Settings of one retriever training run (fields carry their help, as :class:`TrainConfig`'s do)."""

    epochs: float = field(default=1.0, metadata={"help": "passes over the pairs"})
    batch_size: int = field(
        default=32, metadata={"help": "pairs per step: each query is also scored against the batch's other passages"}
    )
    learning_rate: float = field(default=2e-5, metadata={"help": "peak learning rate (AdamW)"})
    warmup_ratio: float = field(default=0.1, metadata={"help": "share of steps spent warming up the learning rate"})
    max_seq_length: int = field(default=256, metadata={"help": "tokens per text (MiniLM's own limit: 256)"})
    scale: float = field(default=20.0, metadata={"help": "similarity scale of the ranking loss (1 / temperature)"})
    val_share: float = field(
        default=0.1, metadata={"help": "share of the queries held out to measure recall before and after"}
    )
    precision: str = field(
        default="auto", metadata={"help": "auto (bf16 where the hardware runs it natively, else fp32) | fp32 | bf16"}
    )
    seed: int = field(default=0, metadata={"help": "random seed (pair order, held-out queries)"})
    max_steps: int = field(default=-1, metadata={"help": "stop after this many steps (-1: use epochs)"})

    def validate(self) -> RetrieverConfig:
        checks = [
            (self.epochs > 0 or self.max_steps > 0, "epochs", "> 0"),
            (self.batch_size >= 2, "batch_size", "≥ 2 (the other passages of a batch are the negatives)"),
            (self.learning_rate > 0, "learning_rate", "> 0"),
            (0 <= self.warmup_ratio < 1, "warmup_ratio", "in [0, 1)"),
            (16 <= self.max_seq_length <= 8192, "max_seq_length", "in [16, 8192]"),
            (0 <= self.val_share < 1, "val_share", "in [0, 1)"),
            (self.precision in PRECISIONS, "precision", f"one of {', '.join(PRECISIONS)}"),
        ]
        for ok, name, expected in checks:
            if not ok:
                raise ConfigError(f"tune-retriever: {name} = {getattr(self, name)!r}: expected {expected}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class RetrieverResult:
    """A finished retriever run: the registered name, where the model is, and what it measured."""

    run_id: str
    name: str
    path: Path
    run_dir: Path
    base: str
    pairs: int
    val_pairs: int
    data_sha256: str
    kb_version: int | None
    precision: str
    steps: int
    train_seconds: float
    metrics: dict[str, float]
    mlflow_run_id: str | None = None
    loss_history: list[tuple[int, float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.update(path=str(self.path), run_dir=str(self.run_dir))
        return out


def split_pairs(
    pairs: Sequence[RetrievalPair], share: float, seed: int
) -> tuple[list[RetrievalPair], list[RetrievalPair]]:
    """(train, held out): whole queries held out (a query's pairs stay together), ``share`` of them, seeded."""
    queries = sorted({normalize_text(p.query) for p in pairs})
    n_val = round(len(queries) * share) if share > 0 and len(queries) >= 10 else 0
    held = set(random.Random(seed).sample(queries, n_val))
    train = [p for p in pairs if normalize_text(p.query) not in held]
    val = [p for p in pairs if normalize_text(p.query) in held]
    return train, val


def ranking_metrics(model: Any, pairs: Sequence[RetrievalPair], batch_size: int = 64) -> dict[str, float]:
    """Recall@1, recall@5 and MRR of each pair's passage among every passage and negative of ``pairs`` (their
    union is the candidate pool: a small, fixed retrieval task that needs nothing but the pairs). Keys
    ``recall_at_1``, ``recall_at_5``, ``mrr``: MLflow metric names allow no "@"."""
    if not pairs:
        return {}
    pool = list(dict.fromkeys([p.positive for p in pairs] + [n for p in pairs for n in p.negatives]))
    where = {text: i for i, text in enumerate(pool)}
    queries = list(dict.fromkeys(p.query for p in pairs))
    relevant: dict[str, set[int]] = {}
    for p in pairs:
        relevant.setdefault(p.query, set()).add(where[p.positive])
    q = model.encode(queries, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
    d = model.encode(pool, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
    order = np.argsort(-(q @ d.T), axis=1)
    r1 = r5 = rr = 0.0
    for i, query in enumerate(queries):
        hits = np.nonzero(np.isin(order[i], list(relevant[query])))[0]
        first = int(hits[0]) if len(hits) else len(pool)
        r1 += first < 1
        r5 += first < 5
        rr += 1.0 / (first + 1)
    n = len(queries)
    return {"recall_at_1": r1 / n, "recall_at_5": r5 / n, "mrr": rr / n}


@dataclass(frozen=True)
class _Kind:
    """What a retriever run trains: where its model is kept, how the registry and MLflow name it."""

    kind: str  # the registry's kind
    folder: str  # <kb>/FOLDER/NAME
    method: str
    tracking: str  # ragtune_kind in MLflow, kind in run.json


EMBEDDER = _Kind("embedder", EMBEDDERS, "mnrl", "tune-retriever")
RERANKER = _Kind("reranker", RERANKERS, "cross-encoder", "tune-reranker")


def train_retriever(
    pairs: Sequence[RetrievalPair],
    base: str,
    config: RetrieverConfig | None = None,
    *,
    name: str,
    kb_dir: str | Path | None = None,
    kb_version: int | None = None,
    quiet: bool = False,
    track: bool = True,
    tags: Sequence[str] = (),
) -> RetrieverResult:
    """Fine-tune the sentence-transformers model ``base`` (a folder; resolve names first) on ``pairs``, save it as
    embedder ``name`` of the KB in ``kb_dir``, track the run and register it (see the module docstring)."""
    config = (config or RetrieverConfig()).validate()

    def fit(*args: Any) -> RetrieverResult:
        return _fit(config, *args)

    return _train(EMBEDDER, pairs, base, config.to_dict(), config.val_share, config.seed, fit, name=name,
                  kb_dir=kb_dir, kb_version=kb_version, quiet=quiet, track=track, tags=tags)  # fmt: skip


def train_reranker(
    pairs: Sequence[RetrievalPair],
    base: str,
    config: RerankerTrainConfig | None = None,
    *,
    name: str,
    kb_dir: str | Path | None = None,
    kb_version: int | None = None,
    quiet: bool = False,
    track: bool = True,
    tags: Sequence[str] = (),
    candidates: Callable[[str], list[Passage]] | None = None,
) -> RetrieverResult:
    """Train a cross-encoder reranker from the bi-encoder folder ``base`` on ``pairs`` (positives and their mined
    hard negatives), save it as reranker ``name`` of the KB (``<kb>/rerankers/NAME``: ``[search] rerank = NAME``),
    track the run and register it (kind ``reranker``). Held-out queries measure the MRR of the positive among its
    mined candidates, as the base embedder orders them and as the reranker does; with ``candidates`` (the KB's
    search without reranking, ``rerank_depth`` deep) they also choose the blend weight of reranker and fusion
    scores (:func:`ragtune.tune.training.reranker.choose_blend`), saved with the model."""
    config = config or RerankerTrainConfig()
    config.check()

    def fit(*args: Any) -> RetrieverResult:
        return _fit_reranker(config, candidates, *args)

    return _train(RERANKER, pairs, base, dataclasses.asdict(config), config.val_share, config.seed, fit, name=name,
                  kb_dir=kb_dir, kb_version=kb_version, quiet=quiet, track=track, tags=tags)  # fmt: skip


def search_candidates(retriever: Any, depth: int) -> Callable[[str], list[Passage]]:
    """A question → the ``depth`` best passages of ``retriever`` (a :class:`ragtune.search.retriever.Retriever`)
    without any rerank stage: the candidates a reranker of that search will reorder (``train_reranker``'s
    ``candidates``)."""
    from ragtune.search.query import Query
    from ragtune.search.rerank import NoRerank

    plain = retriever.with_reranker(NoRerank())
    return lambda question: plain.retrieve(Query(question, k=depth)).passages


def new_model_dir(root: Path, what: _Kind, name: str) -> Path:
    """Where model ``name`` of kind ``what`` goes in the KB at ``root``; ConfigError when the name is taken (checked
    before any work: a name is never reused)."""
    name = check_name(name)
    target = root / what.folder / name
    with ModelRegistry.open(root) as registry:
        if registry.exists(name) or target.exists():
            raise ConfigError(
                f"a model named {name!r} already exists in {root}; choose another --name (a name is never reused: "
                "versions that were searched with it must keep their vectors)"
            )
    return target


def _train(
    what: _Kind,
    pairs: Sequence[RetrievalPair],
    base: str,
    params: dict[str, Any],
    val_share: float,
    seed: int,
    fit: Any,
    *,
    name: str,
    kb_dir: str | Path | None,
    kb_version: int | None,
    quiet: bool,
    track: bool,
    tags: Sequence[str],
) -> RetrieverResult:
    """One tracked run: name checked, run folder, pairs written, held-out split, ``fit`` (which saves the model into
    its folder), metrics, registration; a failed run is marked failed and leaves no model behind."""
    root = kb_root(kb_dir)
    target = new_model_dir(root, what, name)
    if len(pairs) < 2:
        raise ConfigError(f"{what.tracking}: {len(pairs)} training pairs; at least 2 are needed")
    run_id = new_run_id()
    run_dir = root / RUNS / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    data_sha = write_pairs(run_dir / "pairs.jsonl", pairs)
    train, val = split_pairs(pairs, val_share, seed)
    info = {
        "run_id": run_id,
        "kind": what.tracking,
        "status": "running",
        "name": name,
        "base": base,
        "data_path": str(run_dir / "pairs.jsonl"),
        "data_sha256": data_sha,
        "kb_version": kb_version,
        "created_at": time.time(),
    }
    write_json(run_dir / "config.json", {what.kind: params})
    write_json(run_dir / "run.json", info)
    tracker, mlflow_id = _start_tracking(root, info, params, len(train), len(val), track)
    try:
        with _quiet(quiet):
            result: RetrieverResult = fit(info, train, val, target, run_dir, quiet, tracker, mlflow_id)
    except BaseException:
        shutil.rmtree(target.with_name(f".{name}.tmp"), ignore_errors=True)
        if tracker is not None and mlflow_id is not None:
            with contextlib.suppress(Exception):
                tracker.end(mlflow_id, status="FAILED")
        write_json(run_dir / "run.json", {**info, "status": "failed"})
        raise
    write_json(run_dir / "metrics.json", result.as_dict())
    if tracker is not None and mlflow_id is not None:
        tracker.log_metrics(mlflow_id, {**result.metrics, "train_seconds": result.train_seconds}, step=result.steps)
        tracker.log_artifact(mlflow_id, run_dir / "config.json")
        tracker.set_tags(mlflow_id, {"ragtune_model": name})
        tracker.end(mlflow_id)
    with ModelRegistry.open(root) as registry:
        registry.register(
            RegisteredModel(
                name=name,
                base=base,
                method=what.method,
                path=str(target),
                data_sha256=data_sha,
                data_path=str(run_dir / "pairs.jsonl"),
                kb_version=kb_version,
                metrics=result.metrics,
                run_id=run_id,
                tags=list(tags),
                kind=what.kind,
            )
        )
    write_json(run_dir / "run.json", {**info, "status": "finished", "finished_at": time.time()})
    return result


def _start_tracking(
    root: Path, info: dict[str, Any], config: dict[str, Any], n_train: int, n_val: int, track: bool
) -> tuple[Any, str | None]:
    if not track:
        return None, None
    from ragtune.tune.training.tracking import Tracker

    tracker = Tracker(root)
    mlflow_id = tracker.start(info["run_id"], {"ragtune_kind": info["kind"]})
    params = {
        **config,
        "base": info["base"],
        "data_path": info["data_path"],
        "data_sha256": info["data_sha256"],
        "kb_version": info["kb_version"],
        "train_pairs": n_train,
        "val_pairs": n_val,
        "model_name": info["name"],
    }
    tracker.log_params(mlflow_id, params)
    return tracker, mlflow_id


def _dataset(pairs: Sequence[RetrievalPair], seed: int) -> Any:
    """``anchor``, ``positive`` and one ``negative`` column per mined negative. A pair with fewer negatives than
    the most any pair has borrows another pair's passage (an easy negative; columns must be complete)."""
    import datasets

    n_neg = max((len(p.negatives) for p in pairs), default=0)
    rng = random.Random(seed)
    columns: dict[str, list[str]] = {"anchor": [p.query for p in pairs], "positive": [p.positive for p in pairs]}
    for j in range(n_neg):
        col = []
        for p in pairs:
            if j < len(p.negatives):
                col.append(p.negatives[j])
            else:
                other = pairs[rng.randrange(len(pairs))]
                col.append(other.positive if other.positive != p.positive else pairs[0].positive)
        columns[f"negative_{j + 1}" if n_neg > 1 else "negative"] = col
    return datasets.Dataset.from_dict(columns)


def _fit(
    config: RetrieverConfig,
    info: dict[str, Any],
    train: list[RetrievalPair],
    val: list[RetrievalPair],
    target: Path,
    run_dir: Path,
    quiet: bool,
    tracker: Any,
    mlflow_id: str | None,
) -> RetrieverResult:
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import PrinterCallback, ProgressCallback

    from ragtune.hardware import auto_precision, choose_device
    from ragtune.tune.training.callbacks import LossBar, StepCounter, TrackingCallback

    device = choose_device()
    precision = auto_precision(device) if config.precision == "auto" else config.precision
    model = SentenceTransformer(info["base"], device=device)
    model.max_seq_length = min(config.max_seq_length, model.max_seq_length or config.max_seq_length)
    metrics: dict[str, float] = {}
    if val:
        metrics.update({f"base_val_{k}": v for k, v in ranking_metrics(model, val).items()})
    args = SentenceTransformerTrainingArguments(
        output_dir=str(run_dir / "checkpoints"),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        warmup_steps=config.warmup_ratio,  # a float below 1: a share of the steps (warmup_ratio is deprecated)
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=not device.startswith("cuda"),
        seed=config.seed,
        data_seed=config.seed,
        save_strategy="no",
        logging_steps=1,
        report_to=[],
        batch_sampler="no_duplicates",
        disable_tqdm=True,  # transformers' bar writes each logged dict as a line: LossBar instead
        dataloader_num_workers=0,
    )
    loss = MultipleNegativesRankingLoss(model, scale=config.scale)

    class Trainer(SentenceTransformerTrainer):
        def add_model_card_callback(self, default_args_dict: dict[str, Any]) -> None:
            """No hub model card: its callback encodes widget examples at start (a progress bar, seconds of work)."""

    trainer = Trainer(model=model, args=args, train_dataset=_dataset(train, config.seed), loss=loss)
    for default in (PrinterCallback, ProgressCallback):  # a line per logged step; LossBar instead
        trainer.remove_callback(default)
    if not quiet:
        trainer.add_callback(LossBar("tune-retriever"))
    counter = StepCounter()
    trainer.add_callback(counter)
    trainer.add_callback(TrackingCallback(tracker, mlflow_id))
    started = time.perf_counter()
    out = trainer.train()
    seconds = time.perf_counter() - started
    metrics["train_loss"] = float(out.training_loss)
    losses = [(int(h["step"]), float(h["loss"])) for h in trainer.state.log_history if "loss" in h]
    if val:
        metrics.update({f"val_{k}": v for k, v in ranking_metrics(model, val).items()})
    _save(model, target, {"run_id": info["run_id"], "base": info["base"], "data_sha256": info["data_sha256"]})
    return RetrieverResult(
        run_id=info["run_id"],
        name=info["name"],
        path=target,
        run_dir=run_dir,
        base=info["base"],
        pairs=len(train) + len(val),
        val_pairs=len(val),
        data_sha256=info["data_sha256"],
        kb_version=info["kb_version"],
        precision=precision,
        steps=counter.steps,
        train_seconds=round(seconds, 2),
        metrics=metrics,
        mlflow_run_id=mlflow_id,
        loss_history=losses,
    )


def _fit_reranker(
    config: RerankerTrainConfig,
    candidates: Callable[[str], list[Passage]] | None,
    info: dict[str, Any],
    train: list[RetrievalPair],
    val: list[RetrievalPair],
    target: Path,
    run_dir: Path,
    quiet: bool,
    tracker: Any,
    mlflow_id: str | None,
) -> RetrieverResult:
    from sentence_transformers import SentenceTransformer

    from ragtune.tune.training.callbacks import StepCounter, TrackingCallback

    rows = [RerankRow(p.query, p.positive, tuple(p.negatives)) for p in train]
    held = [RerankRow(p.query, p.positive, tuple(p.negatives)) for p in val]
    metrics: dict[str, float] = {}
    if held:
        bi = SentenceTransformer(info["base"], device="cpu")

        def cosine(query: str, texts: list[str]) -> Any:
            vectors = bi.encode([query, *texts], normalize_embeddings=True, convert_to_numpy=True)
            return vectors[1:] @ vectors[0]

        metrics["base_val_candidate_mrr"] = candidate_mrr(cosine, held)
    counter = StepCounter()
    model, figures = fit_cross_encoder(
        rows, info["base"], config, callbacks=[counter, TrackingCallback(tracker, mlflow_id)], progress=not quiet
    )
    metrics["train_loss"] = figures["train_loss"]
    if held:

        def rerank(query: str, texts: list[str]) -> Any:
            return model.predict([(query, t) for t in texts], show_progress_bar=False)

        metrics["val_candidate_mrr"] = candidate_mrr(rerank, held)
    lineage: dict[str, Any] = {"run_id": info["run_id"], "base": info["base"], "data_sha256": info["data_sha256"]}
    if val and candidates is not None:
        lists = [_candidate_list(model, p, candidates(p.query)) for p in val]
        weight, mrr = choose_blend(lists)
        lineage["blend_weight"] = weight
        metrics.update({f"val_search_mrr_{k}": v for k, v in mrr.items()}, blend_weight=weight)
    _save(model, target, lineage)
    return RetrieverResult(
        run_id=info["run_id"],
        name=info["name"],
        path=target,
        run_dir=run_dir,
        base=info["base"],
        pairs=len(train) + len(val),
        val_pairs=len(val),
        data_sha256=info["data_sha256"],
        kb_version=info["kb_version"],
        precision="fp32",
        steps=counter.steps,
        train_seconds=figures["seconds"],
        metrics=metrics,
        mlflow_run_id=mlflow_id,
        loss_history=figures["loss_history"],
    )


def _candidate_list(model: Any, pair: RetrievalPair, passages: list[Passage]) -> CandidateList:
    """A held-out pair's search candidates scored by fusion and by the cross-encoder; a passage answers when its
    document is one of the pair's (its own chunk when the pair names no document)."""
    if not passages:
        return CandidateList((), (), ())
    texts = [(pair.query, indexed_text(p.context, p.text)) for p in passages]
    scores = model.predict(texts, show_progress_bar=False)
    relevant = [(p.doc_id in pair.doc_ids) if pair.doc_ids else p.chunk_id == pair.chunk_id for p in passages]
    return CandidateList(tuple(p.score for p in passages), tuple(map(float, scores)), tuple(relevant))


def _save(model: Any, target: Path, lineage: dict[str, Any]) -> None:
    """The model into ``target`` atomically (a temporary sibling, renamed): a knowledge base never finds half of
    one. ``ragtune.json`` names the run; it is part of the embedder's fingerprint."""
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    model.save(str(tmp))
    (tmp / "ragtune.json").write_text(json.dumps(lineage, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, target)


@contextlib.contextmanager
def _quiet(quiet: bool) -> Iterator[None]:
    """No library chatter; the trainer's own progress bar (steps, ETA) unless ``quiet``."""
    import datasets
    import transformers

    datasets.disable_progress_bars()
    old = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        transformers.logging.set_verbosity(old)
