"""``ragtune models``: language models for ragtune (``models tiny`` builds a tiny local one)."""

from __future__ import annotations

from pathlib import Path

import click

from ragtune.cli.common import emit_json, json_option
from ragtune.llm.tiny import VOCABS, build_tiny_model, read_manifest


@click.group()
def models() -> None:
    """Language models: build a tiny local one for trying ragtune out."""


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
@json_option
def tiny(out_dir: Path, train_steps: int, corpus: Path | None, vocab: str, seed: int, as_json: bool) -> None:
    """Build a tiny Llama-style model and tokenizer in OUT_DIR, usable as ``--model hf:OUT_DIR``.

    \b
    Example:
      ragtune models tiny .ragtune/models/tiny --train-steps 300 --corpus docs/
    """
    path = build_tiny_model(out_dir, train_steps=train_steps, corpus=corpus, vocab=vocab, seed=seed)
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
