"""``ragtune data check | build | split`` (training data) and ``ragtune eval build`` (eval sets)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click
from tqdm import tqdm

from ragtune.cli.common import (
    access_for,
    as_groups_option,
    emit_json,
    json_option,
    kb_option,
    open_kb,
    show_progress,
)
from ragtune.config import LLMSettings, raw_config
from ragtune.errors import ConfigError
from ragtune.llm.base import Generator
from ragtune.llm.defaults import defaults_for
from ragtune.llm.prompts import PromptTemplates
from ragtune.search.retriever import MODES
from ragtune.tune.data.similarity import DEFAULT_THRESHOLD

T = TypeVar("T")

_near = click.option(
    "--near",
    "near",
    type=click.FloatRange(0.0, 1.0, min_open=True),
    default=DEFAULT_THRESHOLD,
    show_default=True,
    help="Jaccard similarity (character 4-grams) at which two texts count as near duplicates.",
)
_at = click.option("--at", "at", type=int, default=None, help="Use the KB as of version V (default: latest).")
_model = click.option(
    "--model",
    default=None,
    metavar="SPEC",
    help="Write pairs with this model (hf:PATH_OR_ID or openai:MODEL; [llm] in ragtune.toml gives base_url). "
    "Default: no model, pairs from the documents' structure.",
)
_max_per_chunk = click.option(
    "--max-per-chunk", type=click.IntRange(1), default=3, show_default=True, help="Pairs kept per chunk."
)


def _templates(default: str | None = None) -> PromptTemplates:
    """``[prompts]`` of ragtune.toml; without that section, the ``default`` layout (a model's measured one)."""
    section = raw_config().get("prompts")
    return PromptTemplates.from_config(section, default=None if section else default)


def _progress(desc: str, unit: str) -> Any:
    def wrap(items: Iterable[T]) -> Iterable[T]:
        return tqdm(items, desc=desc, unit=unit, disable=not show_progress(), leave=False)

    return wrap


def _generator(spec: str | None) -> Generator | None:
    if spec is None:
        return None
    from ragtune.llm.registry import backend_settings, load_generator
    from ragtune.llm.spec import ModelSpec

    if ModelSpec.parse(spec).scheme == "extractive":
        raise ConfigError(
            "--model extractive cannot write questions; leave --model out to use the documents' structure"
        )
    return load_generator(spec, **backend_settings(spec, LLMSettings.from_config().endpoint()))


@click.group()
def data() -> None:
    """Training data: check a chat JSONL file, build one from the knowledge base, split it."""


@data.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--eval",
    "eval_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Eval set (JSONL with id, question, ...): its questions must not appear in the training data.",
)
@click.option(
    "--tokenizer",
    default=None,
    metavar="hf:PATH_OR_ID",
    help="Count tokens with this tokenizer (only the tokenizer is loaded, offline).",
)
@click.option("--base", default=None, metavar="MODEL_SPEC", help="The base model you will train (its tokenizer).")
@click.option(
    "--max-tokens",
    type=click.IntRange(1),
    default=None,
    help="Longest allowed example in tokens (default: the model's limit, when its files state one).",
)
@_near
@json_option
def check(
    file: Path,
    eval_path: Path | None,
    tokenizer: str | None,
    base: str | None,
    max_tokens: int | None,
    near: float,
    as_json: bool,
) -> None:
    """Check a chat JSONL training FILE and print a report; exit 1 when it has errors.

    \b
    Errors (exit 1): invalid JSON; schema (no messages list, content not a string, bad metadata);
    roles (unknown role, system not first, user/assistant not alternating, not ending with assistant);
    empty turns; examples over --max-tokens; exact duplicates; leakage (an --eval question appearing
    exactly or nearly as a user turn); no valid examples.
    Warnings (exit 0): near duplicates (question + answer within --near); token counts estimated by
    whitespace because no --tokenizer/--base was given.

    \b
    Example:
      ragtune data check train.jsonl --eval eval.jsonl --base hf:Qwen/Qwen2.5-0.5B-Instruct
    """
    from ragtune.evaluate.evalset import read_eval_set
    from ragtune.tune.data.check import check_dataset
    from ragtune.tune.data.tokens import load_token_counter

    if tokenizer and base:
        raise click.UsageError("give --tokenizer or --base, not both")
    questions = None
    if eval_path is not None:
        questions = [(item.id, item.question) for item in read_eval_set(eval_path)]
    report = check_dataset(
        file,
        eval_questions=questions,
        eval_path=str(eval_path) if eval_path else None,
        counter=load_token_counter(tokenizer or base),
        max_tokens=max_tokens,
        near_threshold=near,
        templates=_templates(),
    )
    if as_json:
        emit_json(report.as_dict())
    else:
        click.echo(report.render())
    if not report.ok:
        sys.exit(1)


@data.command()
@click.option(
    "--out", "out", type=click.Path(path_type=Path, dir_okay=False), required=True, help="Chat JSONL file to write."
)
@kb_option
@_at
@_model
@_max_per_chunk
@click.option("--system", default=None, help="System prompt to put first in every plain example.")
@click.option("--raft", is_flag=True, help="Write RAFT examples (question + oracle + distractor passages).")
@click.option("--k", "k", type=click.IntRange(0), default=4, show_default=True, help="RAFT: distractor passages.")
@click.option(
    "--oracle-share",
    type=click.FloatRange(0.0, 1.0),
    default=0.8,
    show_default=True,
    help="RAFT: share of examples that keep the relevant passage.",
)
@click.option(
    "--withheld",
    type=click.Choice(["keep", "decline"]),
    default="keep",
    show_default=True,
    help="RAFT: the answer when the relevant passage is withheld (keep = the paper's choice).",
)
@click.option("--mode", type=click.Choice(MODES), default=None, help="RAFT: retrieval mode for distractors.")
@click.option("--seed", type=int, default=0, show_default=True, help="RAFT: which examples keep the oracle, order.")
@click.option(
    "--base",
    "base",
    default=None,
    metavar="SPEC",
    help="RAFT: the model to train (hf:PATH_OR_ID or smollm2; its measured prompt layout and source budget are "
    "used, as at inference): distractors are dropped until the prompt fits its context "
    "window less the answer's tokens, exactly as the RAG pipeline packs passages at inference.",
)
@click.option(
    "--answer-tokens",
    type=click.IntRange(1),
    default=None,
    help="RAFT with --base: tokens kept free for the answer (default: [llm] max_new_tokens, else 256).",
)
@as_groups_option
@click.option(
    "--all-documents",
    is_flag=True,
    help="Include documents with an acl (restricted to some groups). Default: only documents everyone may read, "
    "since a fine-tuned model can repeat its training text to anyone who may query it.",
)
@json_option
def build(
    out: Path,
    kb_path: Path | None,
    at: int | None,
    model: str | None,
    max_per_chunk: int,
    system: str | None,
    raft: bool,
    k: int,
    oracle_share: float,
    withheld: str,
    mode: str | None,
    seed: int,
    base: str | None,
    answer_tokens: int | None,
    as_groups: str | None,
    all_documents: bool,
    as_json: bool,
) -> None:
    """Synthesize question/answer training examples from the knowledge base's chunks.

    Only documents everyone may read are used unless --as-groups (what those groups may read) or
    --all-documents says otherwise: a fine-tuned model can repeat its training text to anyone who queries it.

    Without --model, pairs come from the documents' structure: FAQ questions, how-to headings, step lists,
    definitions. Each example records metadata {doc_id, chunk_id, kb_version, kind}. With --raft, each
    question comes with its passage and --k distractors in the RAG prompt format (--system is not used:
    RAFT examples use the RAG system prompt, as at inference).

    \b
    Example:
      ragtune data build --out train.jsonl --system "You are the Acme help assistant."
      ragtune data build --out raft.jsonl --raft --k 4 --oracle-share 0.8
    """
    from ragtune.tune.data.dataset import write_chat_jsonl
    from ragtune.tune.data.raft import build_raft
    from ragtune.tune.data.synth import TRAINING_READER, pair_examples, synthesize

    if all_documents and as_groups is not None:
        raise ConfigError("give --as-groups or --all-documents, not both")
    access = access_for(None) if all_documents else TRAINING_READER if as_groups is None else access_for(as_groups)
    kb = open_kb(kb_path)
    generator = _generator(model)
    synthesis = synthesize(
        kb,
        generator=generator,
        method=model or "",
        at=at,
        max_per_chunk=max_per_chunk,
        progress=_progress("synthesize", "chunk"),
        access=access,
    )
    withheld_docs = len(kb.documents(synthesis.version)) - len(kb.documents(synthesis.version, access=access))
    if not synthesis.pairs:
        raise ConfigError(f"no question/answer pairs found in {synthesis.chunks} chunks at version {synthesis.version}")
    if raft:
        count_tokens, budget = _raft_budget(base, answer_tokens)
        # The model's measured RAG defaults (prompt layout, source budget) shape its training prompts too.
        defaults = defaults_for(base) if base else {}
        examples = build_raft(
            kb,
            synthesis.pairs,
            k=k,
            oracle_share=oracle_share,
            withheld=withheld,
            seed=seed,
            templates=_templates(defaults.get("template")),
            source_tokens=defaults.get("source_tokens"),
            context=defaults.get("context", "passages"),
            at=synthesis.version,
            mode=mode,
            count_tokens=count_tokens,
            budget=budget,
            progress=_progress("raft", "example"),
            access=access,
        )
    else:
        examples = pair_examples(synthesis.pairs, system)
    n = write_chat_jsonl(out, examples)
    summary = {"out": str(out), "examples": n, "raft": raft, **synthesis.as_dict(), "restricted_skipped": withheld_docs}
    if as_json:
        emit_json(summary)
        return
    kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(synthesis.counts().items()))
    click.echo(f"Wrote {n} examples to {out} from {synthesis.chunks} chunks at version {synthesis.version} ({kinds}).")
    if generator is not None:
        click.echo(f"Skipped {synthesis.unparseable} unparseable outputs and {synthesis.rejected} rejected pairs.")
    if withheld_docs:
        who = "readable by everyone" if as_groups is None else f"readable by {as_groups}"
        click.echo(
            f"Used only documents {who}: {withheld_docs} restricted document(s) left out (--all-documents includes "
            "them; a model trained on them can repeat them to anyone who queries it)."
        )


@data.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--val",
    "val",
    type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
    default=0.1,
    show_default=True,
    help="Share held out for validation.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same split.")
@click.option("--by-source", is_flag=True, help="Keep each source document (metadata.doc_id) on one side.")
@click.option(
    "--out-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Write DIR/train.jsonl and DIR/val.jsonl.",
)
@click.option("--train-out", type=click.Path(path_type=Path, dir_okay=False), default=None, help="Training part.")
@click.option("--val-out", type=click.Path(path_type=Path, dir_okay=False), default=None, help="Validation part.")
@json_option
def split(
    file: Path,
    val: float,
    seed: int,
    by_source: bool,
    out_dir: Path | None,
    train_out: Path | None,
    val_out: Path | None,
    as_json: bool,
) -> None:
    """Split a chat JSONL FILE into training and validation parts, reproducibly.

    \b
    Example:
      ragtune data split train.jsonl --val 0.1 --seed 0 --by-source --out-dir data/
    """
    from ragtune.tune.data.split import split_file

    if out_dir is None and (train_out is None or val_out is None):
        raise click.UsageError("give --out-dir, or both --train-out and --val-out")
    train_path = train_out or Path(out_dir or ".") / "train.jsonl"
    val_path = val_out or Path(out_dir or ".") / "val.jsonl"
    result = split_file(file, train_path, val_path, val=val, seed=seed, by_source=by_source)
    if as_json:
        emit_json({"train_path": str(train_path), "val_path": str(val_path), **result.as_dict()})
        return
    docs = f" ({result.train_groups} / {result.val_groups} documents)" if by_source else ""
    click.echo(f"{len(result.train)} training examples → {train_path}, {len(result.val)} validation → {val_path}{docs}")


@click.group(name="eval")
def eval_group() -> None:
    """Eval sets: synthesize one from the knowledge base."""


@eval_group.command(name="build")
@click.option(
    "--out", "out", type=click.Path(path_type=Path, dir_okay=False), required=True, help="Eval JSONL file to write."
)
@click.option("--n", "n", type=click.IntRange(1), default=50, show_default=True, help="Questions to keep.")
@click.option("--seed", type=int, default=0, show_default=True, help="Which questions are chosen.")
@click.option(
    "--exclude",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Training data (chat JSONL): drop questions that appear in it exactly or nearly.",
)
@_near
@kb_option
@_at
@_model
@_max_per_chunk
@json_option
def eval_build(
    out: Path,
    n: int,
    seed: int,
    exclude: Path | None,
    near: float,
    kb_path: Path | None,
    at: int | None,
    model: str | None,
    max_per_chunk: int,
    as_json: bool,
) -> None:
    """Synthesize an eval set (id, question, answer, sources, tags) from the knowledge base.

    With --exclude, `ragtune data check TRAIN --eval OUT` then finds no leakage (same test, same --near).

    \b
    Example:
      ragtune eval build --out eval.jsonl --n 50 --exclude train.jsonl
    """
    from ragtune.evaluate.evalset import build_eval_set, write_eval_set
    from ragtune.tune.data.dataset import read_chat_jsonl

    kb = open_kb(kb_path)
    result = build_eval_set(
        kb,
        n=n,
        seed=seed,
        exclude=read_chat_jsonl(exclude) if exclude else (),
        threshold=near,
        templates=_templates(),
        at=at,
        generator=_generator(model),
        method=model or "",
        max_per_chunk=max_per_chunk,
    )
    if not result.items:
        left = f" after excluding questions in {exclude}" if exclude else ""
        raise ConfigError(f"no questions found in {result.synthesis.chunks} chunks{left}; nothing written")
    written = write_eval_set(out, result.items)
    if as_json:
        emit_json({"out": str(out), **result.as_dict()})
        return
    dropped = f", {result.excluded} dropped as leaking into {exclude}" if exclude else ""
    click.echo(f"Wrote {written} eval questions to {out} from {result.synthesis.chunks} chunks{dropped}.")


def _raft_budget(base: str | None, answer_tokens: int | None) -> tuple[Callable[[str], int] | None, int | None]:
    """Token counter and prompt budget of ``base`` (the pipeline's rule: context − answer − 16)."""
    if base is None:
        return None, None
    from ragtune.tune.data.tokens import load_token_counter

    counter = load_token_counter(base)
    if counter.max_length is None:
        raise ConfigError(f"--base {base}: its context window is not stated in its files; cannot pack passages")
    llm = LLMSettings.from_config().table
    reserve = answer_tokens or int(llm.get("max_new_tokens", defaults_for(base).get("max_new_tokens", 256)))
    return counter.count, counter.max_length - reserve - 16
