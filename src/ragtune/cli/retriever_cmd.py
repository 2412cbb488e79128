"""``ragtune tune-retriever``: fine-tune the embedding model on the knowledge base's own data, in one command."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import click

from ragtune.cli.common import emit_json, json_option, kb_option, open_kb, show_progress
from ragtune.search.retriever import MODES
from ragtune.tune.retriever import EMBEDDER, RERANKER, RetrieverConfig, new_model_dir

_TYPES = {"int": int, "float": float, "str": str}


def _config_options(fn: Any) -> Any:
    """One ``--flag`` per RetrieverConfig field, its help from the field."""
    for f in reversed(dataclasses.fields(RetrieverConfig)):
        flag = "--" + f.name.replace("_", "-")
        fn = click.option(flag, f.name, type=_TYPES[str(f.type)], default=f.default, show_default=True,
                          help=f.metadata.get("help", ""))(fn)  # fmt: skip
    return fn


def _pair_options(negatives: int) -> Any:
    """The options that say where training pairs come from (shared by tune-retriever and tune-reranker)."""

    def decorate(fn: Any) -> Any:
        options = [
            click.option("--labels", "labels", multiple=True,
                         type=click.Path(path_type=Path, exists=True, dir_okay=False),
                         help="Labelled questions (repeatable): an eval set (question + sources), chat data from "
                         "`data build`, or query/positive pairs."),
            click.option("--eval", "eval_path", type=click.Path(path_type=Path, exists=True, dir_okay=False),
                         default=None, help="Eval set to keep out of training: pairs whose query is one of its "
                         "questions (or nearly) are dropped."),
            click.option("--synthesize/--no-synthesize", default=True, show_default=True,
                         help="Questions synthesized from the documents' structure (as `data build`)."),
            click.option("--titles/--no-titles", default=True, show_default=True,
                         help="Document titles as queries for their opening passage."),
            click.option("--model", default=None,
                         help="Also have this model write questions per chunk (e.g. smollm2). Slow."),
            click.option("--max-synthesized", type=click.IntRange(min=1), default=None,
                         help="At most N synthesized pairs."),
            click.option("--negatives", type=click.IntRange(min=0), default=negatives, show_default=True,
                         help="Hard negatives mined per pair from the KB's own search."),
            click.option("--mine-mode", type=click.Choice(MODES), default="hybrid", show_default=True,
                         help="The search that mines hard negatives."),
            click.option("--skip", type=click.IntRange(min=0), default=2, show_default=True,
                         help="Mined passages passed over first (the likeliest unlabelled answers)."),
            click.option("--pairs", "pairs_path", type=click.Path(path_type=Path, exists=True, dir_okay=False),
                         default=None,
                         help="Train on this pairs file (pairs.jsonl of an earlier run) instead of building pairs."),
        ]  # fmt: skip
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


@click.command("tune-retriever")
@click.option("--name", default=None, help="Name of the tuned embedder (default: retriever-DATE-TIME).")
@_pair_options(negatives=1)
@click.option("--base", default=None, help="Embedding model to start from (default: the KB's [embed] model).")
@click.option("--reembed", is_flag=True, help="Then re-embed the knowledge base with the tuned model (a new version).")
@click.option("--tag", "tags", multiple=True, help="Tag the registered model (repeatable).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@_config_options
@json_option
@kb_option
def tune_retriever(
    name: str | None,
    base: str | None,
    reembed: bool,
    tags: tuple[str, ...],
    quiet: bool,
    as_json: bool,
    kb_path: Path | None,
    **options: Any,
) -> None:
    """Fine-tune the embedding model on the knowledge base's own questions and passages; register it.

    \b
    Pairs: your labelled questions (--labels), questions synthesized from the documents and their titles, each
    with hard negatives mined from the KB's own search; de-duplicated, and without your eval questions (--eval).
    Training: MultipleNegativesRanking loss (sentence-transformers), minutes on a CPU; tracked in MLflow,
    registered (kind embedder) with its lineage. The model is kept in .ragtune/embedders/NAME/.
    Then search with it from a new version: `ragtune kb reembed --embedder NAME` (or pass --reembed).

    \b
    Example:
      ragtune tune-retriever --labels eval-train.jsonl --eval eval.jsonl --name support-retriever --reembed
    """
    from ragtune.embed.base import resolve_model_path

    pair_opts = {k: options.pop(k) for k in PAIR_KEYS}
    kb = open_kb(kb_path)
    config = RetrieverConfig(**options).validate()
    name = name or "retriever-" + time.strftime("%Y%m%d-%H%M%S")
    new_model_dir(Path(kb.path), EMBEDDER, name)  # a taken name fails before minutes of mining
    progress = show_progress() and not quiet and not as_json
    pairs, summary = _pairs(kb, progress, as_json, **pair_opts)
    base_spec = base or kb.settings.embed.model
    from ragtune.tune.retriever import train_retriever

    result = train_retriever(
        pairs,
        resolve_model_path(kb.resolve_embedder(base_spec)),
        config,
        name=name,
        kb_dir=kb.path,
        kb_version=kb.head,
        quiet=not progress,
        tags=tags,
    )
    out: dict[str, Any] = {"pairs": summary, "training": result.as_dict()}
    if reembed:
        out["reembed"] = kb.reembed(name, progress=progress).as_dict()
    if as_json:
        emit_json(out)
        return
    m = result.metrics
    click.echo(
        f"Trained {result.name} on {result.pairs - result.val_pairs} pairs: {result.steps} steps, "
        f"{result.train_seconds:.0f} s ({result.precision}); run {result.run_id}"
    )
    if "val_recall_at_5" in m:
        click.echo(
            f"Held-out queries ({result.val_pairs} pairs): recall@5 {m['base_val_recall_at_5']:.3f} → "
            f"{m['val_recall_at_5']:.3f}, MRR {m['base_val_mrr']:.3f} → {m['val_mrr']:.3f}"
        )
    if reembed:
        r = out["reembed"]
        v = r["version"]
        click.echo(
            f"Re-embedded: version {v['version'] if v else '(unchanged)'}, {r['chunks_embedded']} chunks embedded"
        )
    else:
        click.echo(f"Search with it: ragtune kb reembed --embedder {result.name}")


PAIR_KEYS = ("labels", "eval_path", "synthesize", "titles", "model", "max_synthesized", "negatives", "mine_mode",
             "skip", "pairs_path")  # fmt: skip


def _pairs(
    kb: Any,
    progress: bool,
    as_json: bool,
    *,
    labels: tuple[Path, ...],
    eval_path: Path | None,
    synthesize: bool,
    titles: bool,
    model: str | None,
    max_synthesized: int | None,
    negatives: int,
    mine_mode: str,
    skip: int,
    pairs_path: Path | None,
) -> tuple[list[Any], dict[str, Any]]:
    """The training pairs the options ask for, and their summary (printed unless ``as_json``)."""
    from ragtune.tune.data.pairs import build_pairs, read_pairs

    if pairs_path is not None:
        pairs = read_pairs(pairs_path)
        summary: dict[str, Any] = {"pairs": len(pairs), "from": str(pairs_path)}
    else:
        generator = None
        if model:
            from ragtune.llm.registry import load_generator

            generator = load_generator(model, kb=kb)
        pair_set = build_pairs(
            kb,
            labels=labels,
            eval_path=eval_path,
            synthesize_pairs=synthesize,
            titles=titles,
            generator=generator,
            max_synthesized=max_synthesized,
            negatives=negatives,
            mine_mode=mine_mode,
            skip=skip,
            progress=_bar("mine negatives") if progress else None,
        )
        pairs, summary = pair_set.pairs, pair_set.as_dict()
    if not as_json:
        click.echo(_pairs_line(summary))
    return pairs, summary


@click.command("tune-reranker")
@click.option("--name", default=None, help="Name of the reranker (default: reranker-DATE-TIME).")
@_pair_options(negatives=3)
@click.option("--base", default=None, help="Bi-encoder whose weights start the cross-encoder (default: [embed] model).")
@click.option("--epochs", type=float, default=1.0, show_default=True, help="Passes over the examples.")
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True, help="Examples per step.")
@click.option("--learning-rate", type=float, default=5e-5, show_default=True,
              help="Peak learning rate (the relevance head starts from random).")  # fmt: skip
@click.option("--max-steps", type=int, default=-1, show_default=True, help="Stop after this many steps (-1: epochs).")
@click.option("--loss", type=click.Choice(["bce", "listwise"]), default="bce", show_default=True,
              help="bce: each passage labelled alone; listwise: softmax over a question's candidates.")  # fmt: skip
@click.option("--tag", "tags", multiple=True, help="Tag the registered model (repeatable).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@json_option
@kb_option
def tune_reranker(
    name: str | None,
    base: str | None,
    epochs: float,
    batch_size: int,
    learning_rate: float,
    max_steps: int,
    loss: str,
    tags: tuple[str, ...],
    quiet: bool,
    as_json: bool,
    kb_path: Path | None,
    **pair_opts: Any,
) -> None:
    """Train a cross-encoder reranker on the knowledge base's own questions and passages; register it.

    \b
    Pairs as tune-retriever builds them, with --negatives hard negatives each (default 3): the reranker learns to
    score the answer above passages the KB's own search ranks high. It starts from the bundled MiniLM's weights
    (no pretrained cross-encoder ships offline), is tracked in MLflow, registered (kind reranker), and kept in
    .ragtune/rerankers/NAME/. Turn it on with [search] rerank = "NAME" (every search), or compare it: the
    strategies rag+rerank and rag-extractive+rerank use the latest one.

    \b
    Example:
      ragtune tune-reranker --labels eval-train.jsonl --eval eval.jsonl --name support-reranker
    """
    from ragtune.embed.base import resolve_model_path
    from ragtune.tune.retriever import search_candidates, train_reranker
    from ragtune.tune.training.reranker import RerankerTrainConfig

    kb = open_kb(kb_path)
    config = RerankerTrainConfig(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                                 max_steps=max_steps, negatives=pair_opts["negatives"], loss=loss)  # fmt: skip
    config.check()
    name = name or "reranker-" + time.strftime("%Y%m%d-%H%M%S")
    new_model_dir(Path(kb.path), RERANKER, name)  # a taken name fails before minutes of mining
    progress = show_progress() and not quiet and not as_json
    pairs, summary = _pairs(kb, progress, as_json, **pair_opts)
    base_spec = base or kb.settings.embed.model
    depth = kb.settings.search.rerank_depth
    result = train_reranker(pairs, resolve_model_path(kb.resolve_embedder(base_spec)), config, name=name,
                            kb_dir=kb.path, kb_version=kb.head, quiet=not progress, tags=tags,
                            candidates=search_candidates(kb.retriever, depth))  # fmt: skip
    if as_json:
        emit_json({"pairs": summary, "training": result.as_dict()})
        return
    m = result.metrics
    click.echo(f"Trained {result.name}: {result.steps} steps, {result.train_seconds:.0f} s; run {result.run_id}")
    if "val_candidate_mrr" in m:
        click.echo(
            f"Held-out queries ({result.val_pairs} pairs): MRR of the answer among its mined candidates "
            f"{m['base_val_candidate_mrr']:.3f} (embedder) → {m['val_candidate_mrr']:.3f} (reranker)"
        )
    if "blend_weight" in m:
        click.echo(
            f"Held-out search ({depth} candidates): MRR {m['val_search_mrr_fused']:.3f} as searched, "
            f"{m['val_search_mrr_reranked']:.3f} reranked alone, {m['val_search_mrr_blended']:.3f} blended with "
            f"the reranker's share at {m['blend_weight']:.2f} (saved with the model)"
        )
        if m["blend_weight"] == 0.0:
            click.echo(
                "Warning: on held-out questions the reranker does not improve the search at any share, so it is "
                "saved with share 0 and turning it on changes nothing. Try more pairs, more epochs or another "
                "--loss, and check it with ragtune compare (rag-extractive+rerank).",
                err=True,
            )
    click.echo(f'Turn it on: [search] rerank = "{result.name}" in ragtune.toml, or compare rag+rerank')


def _pairs_line(summary: dict[str, Any]) -> str:
    if "sources" not in summary:
        return f"Pairs: {summary['pairs']} from {summary['from']}"
    sources = ", ".join(f"{k} {v}" for k, v in sorted(summary["sources"].items()))
    return (
        f"Pairs: {summary['pairs']} ({sources}); dropped {summary['duplicates']} duplicates, {summary['leaking']} "
        f"eval questions; {summary['with_negatives']} with hard negatives"
    )


def _bar(desc: str) -> Any:
    from tqdm import tqdm

    return lambda items: tqdm(items, desc=desc, unit="pair", leave=False)
