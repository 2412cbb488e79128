"""``ragtune search`` and ``ragtune ask``."""

from __future__ import annotations

import textwrap
from pathlib import Path

import click

from ragtune.cli.common import access_for, as_groups_option, emit_json, json_option, kb_option, open_kb, parse_filters
from ragtune.search.query import Query
from ragtune.search.retriever import MODES

_mode = click.option("--mode", type=click.Choice(MODES), default=None, help="Retrieval mode (default: hybrid).")
_at = click.option("--at", "at", type=int, default=None, help="Query the KB as of version V (default: latest).")
_filter = click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="KEY=VALUE",
    help="Only documents whose field matches (doc_id, source, title, format or metadata such as company, year, "
    "doc_type; globs allowed).",
)
_auto_filter = click.option(
    "--auto-filter/--no-auto-filter",
    default=None,
    help="Filter by the company, year or document type the question names, when unambiguous "
    "(default: [search] auto_filter, off).",
)


@click.command()
@click.argument("query")
@click.option("--k", "k", type=int, default=10, show_default=True, help="Passages to return.")
@_mode
@_at
@_filter
@_auto_filter
@as_groups_option
@json_option
@kb_option
def search(
    query: str,
    k: int,
    mode: str | None,
    at: int | None,
    filters: tuple[str, ...],
    auto_filter: bool | None,
    as_groups: str | None,
    as_json: bool,
    kb_path: Path | None,
) -> None:
    """Rank passages for QUERY (hybrid keyword + vector search by default)."""
    kb = open_kb(kb_path)
    access = access_for(as_groups)
    parsed = parse_filters(filters)
    found = kb.retrieve(Query(query, k, mode, at, parsed, access.principal, access.groups, auto_filter))
    version, passages = found.version, found.passages
    if as_json:
        out: dict[str, object] = {
            "version": version,
            "results": [
                {key: p.as_dict()[key] for key in ("rank", "doc_id", "chunk_id", "score", "source", "text")}
                for p in passages
            ],
        }
        if found.auto_filters:  # only when the question set some, as over HTTP
            out["auto_filters"] = found.auto_filters
        emit_json(out)
        return
    if found.auto_filters:
        said = ", ".join(f"{key}={value}" for key, value in found.auto_filters.items())
        click.secho(f"filtered by what the question names: {said}", dim=True)
    if not passages:
        click.echo(f"No results (version {version}).")
        return
    click.secho(f"{len(passages)} results at version {version}", dim=True)
    for p in passages:
        click.echo(f"\n{p.rank:>2}. ", nl=False)
        click.secho(p.citation_source, bold=True, nl=False)
        click.secho(f"  score {p.score:.4f}  chunk {p.chunk_id[:12]}", dim=True)
        snippet = " ".join(p.text.split())
        click.echo(textwrap.indent(textwrap.fill(snippet[:400] + ("…" if len(snippet) > 400 else ""), 96), "    "))


@click.command()
@click.argument("question")
@click.option("--k", "k", type=int, default=None, help="Passages given to the answerer (default 5).")
@_mode
@_at
@_filter
@_auto_filter
@click.option("--show-passages", is_flag=True, help="Also print the retrieved passages.")
@click.option(
    "--strategy",
    default=None,
    help="base | rag | rag-extractive | a [strategies.NAME] from ragtune.toml (default: rag-extractive, "
    "or rag with --model).",
)
@click.option(
    "--model",
    default=None,
    help="Model spec: hf:PATH_OR_ID, openai:MODEL, or ft:NAME (a fine-tuned model registered by ragtune train; "
    "see ragtune models list). Default: ragtune.toml [llm].",
)
@click.option("--adapter", default=None, type=click.Path(), help="A LoRA adapter directory for an hf: model.")
@as_groups_option
@json_option
@kb_option
def ask(
    question: str,
    k: int | None,
    mode: str | None,
    at: int | None,
    filters: tuple[str, ...],
    auto_filter: bool | None,
    show_passages: bool,
    strategy: str | None,
    model: str | None,
    adapter: str | None,
    as_groups: str | None,
    as_json: bool,
    kb_path: Path | None,
) -> None:
    """Answer QUESTION from the knowledge base, citing sources as [n]."""
    kb = open_kb(kb_path)
    answer = kb.ask(
        question,
        k=k,
        mode=mode,
        at=at,
        filters=parse_filters(filters),
        strategy=strategy,
        model=model,
        adapter=adapter,
        access=access_for(as_groups),
        auto_filter=auto_filter,
    )
    if as_json:
        data = answer.as_dict(with_passages=show_passages)
        data["citations"] = [
            {key: c[key] for key in ("n", "doc_id", "source", "text", "chunk_id", "page")} for c in data["citations"]
        ]
        emit_json(data)
        return
    click.echo(textwrap.fill(answer.text, 100))
    if answer.citations:
        click.echo()
        for c in answer.citations:
            click.secho(f"[{c.n}] {c.source}", dim=True)
    tokens = f" · {answer.tokens_in}+{answer.tokens_out} tokens" if answer.tokens_in else ""
    version = f"version {answer.version} · " if answer.version is not None else ""
    click.secho(
        f"\n{version}{answer.trace.get('strategy')} · retrieve {answer.timings_ms['retrieve']:.0f} ms"
        f" · answer {answer.timings_ms['generate']:.0f} ms{tokens}",
        dim=True,
    )
    if show_passages:
        for i, p in enumerate(answer.passages, start=1):
            click.secho(f"\n[{i}] {p.citation_source}", bold=True)
            click.echo(textwrap.indent(textwrap.fill(" ".join(p.text.split())[:500], 96), "    "))
