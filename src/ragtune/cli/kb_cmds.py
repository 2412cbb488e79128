"""``ragtune init | ingest | rm | watch`` and the ``ragtune kb`` history commands."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click

from ragtune.cli.common import access_for, as_groups_option, emit_json, json_option, kb_option, open_kb, show_progress
from ragtune.config import KB_DIRNAME
from ragtune.errors import ConfigError
from ragtune.kb.acl import normalize_acl
from ragtune.kb.ingest import IngestReport
from ragtune.kb.watch import watch as watch_paths


@click.command()
@json_option
@kb_option
def init(as_json: bool, kb_path: Path | None) -> None:
    """Create an empty knowledge base (.ragtune/ in the current directory by default)."""
    path = kb_path or Path.cwd() / KB_DIRNAME
    existed = (path / "kb.sqlite").exists()
    kb = open_kb(path, create=True)
    if as_json:
        emit_json({"path": str(kb.path), "created": not existed, "version": kb.head})
    else:
        click.echo(f"{'Found existing' if existed else 'Created'} knowledge base in {kb.path}")


def print_report(report: IngestReport, as_json: bool) -> None:
    if as_json:
        emit_json(report.as_dict())
        return
    v = report.version
    head = f"version {v.version}" if v else "no changes, no new version"
    click.echo(
        f"Ingested: {len(report.added)} added, {len(report.updated)} updated, {len(report.unchanged)} unchanged, "
        f"{len(report.removed)} removed → {head} ({report.chunks_written} chunks written, "
        f"{report.chunks_embedded} embedded, {report.seconds:.1f} s)"
    )
    for e in report.errors:
        click.secho(f"  skipped {e.path}: {e.reason}", fg="yellow", err=True)
    for w in report.warnings:
        click.secho(f"  warning {w.path}: {w.reason}", fg="yellow", err=True)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--remove-missing", is_flag=True, help="Remove documents whose files under PATHS are gone.")
@click.option("--allow-errors", is_flag=True, help="Exit 0 even when some files could not be read.")
@click.option("--id-field", default=None, help="JSON/JSONL collections: the record field holding the id.")
@click.option("--text-field", default=None, help="JSON/JSONL collections: the field holding the text.")
@click.option("--title-field", default=None, help="JSON/JSONL collections: the field holding the title.")
@click.option("--ignore", multiple=True, help="Glob of files to skip (repeatable), added to ragtune.toml's.")
@click.option(
    "--acl",
    default=None,
    metavar="G1,G2",
    help="Groups allowed to read every document ingested ('*': everyone). Replaces any acl the files declare "
    "(front matter `acl:`, a JSON record's `acl` field); without it each file's own acl applies.",
)
@click.option(
    "--context-model",
    default=None,
    metavar="MODEL",
    help="A model (e.g. smollm2) that writes a context sentence for each new chunk, indexed with it "
    "([chunking] context_model; keep it there: an ingest with another setting re-indexes every document). Slow.",
)
@click.option("-m", "--message", default="", help="A note recorded with the new version.")
@json_option
@kb_option
def ingest(
    paths: tuple[Path, ...],
    remove_missing: bool,
    allow_errors: bool,
    id_field: str | None,
    text_field: str | None,
    title_field: str | None,
    ignore: tuple[str, ...],
    acl: str | None,
    context_model: str | None,
    message: str,
    as_json: bool,
    kb_path: Path | None,
) -> None:
    """Add or update the documents in PATHS (files or folders, recursively): md, txt, html, pdf, docx,
    pptx, xlsx, csv, epub, eml, json(l), png/jpg/tif (OCR).

    Unchanged files are skipped; changed ones become new revisions; everything lands as one new version.
    Unreadable files are reported and skipped; the exit code is 1 then, unless --allow-errors.
    """
    opts: dict[str, object] = {"id_field": id_field, "text_field": text_field, "title_field": title_field}
    if acl is not None:  # checked before anything is created
        try:
            opts["acl"] = normalize_acl(acl, where="--acl")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    kb = open_kb(kb_path, create=True)
    if ignore:
        opts["ignore"] = [*kb.settings.loaders.ignore, *ignore]
    if context_model is not None:
        kb.settings.chunking.context_model = context_model
    report = kb.ingest(list(paths), remove_missing=remove_missing, progress=show_progress(), message=message, **opts)
    print_report(report, as_json)
    if report.errors and not allow_errors:
        sys.exit(1)


@click.command()
@click.argument("doc_ids", nargs=-1, required=True)
@json_option
@kb_option
def rm(doc_ids: tuple[str, ...], as_json: bool, kb_path: Path | None) -> None:
    """Remove documents (a new version; earlier versions still have them)."""
    info = open_kb(kb_path).remove(list(doc_ids))
    if as_json:
        emit_json({"version": None if info is None else info.version, "removed": list(doc_ids)})
    else:
        click.echo(f"Removed {len(doc_ids)} document(s) → version {info.version if info else '-'}")


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--interval", type=float, default=1.0, show_default=True, help="Seconds between scans.")
@click.option("--max-changes", type=int, default=None, help="Stop after this many re-ingests (for scripts).")
@json_option
@kb_option
def watch(
    paths: tuple[Path, ...], interval: float, max_changes: int | None, as_json: bool, kb_path: Path | None
) -> None:
    """Ingest PATHS, then re-ingest whenever files under them change (Ctrl-C to stop)."""
    kb = open_kb(kb_path, create=True)
    print_report(kb.ingest(list(paths), remove_missing=True), as_json)
    if not as_json:
        click.echo(f"Watching {', '.join(map(str, paths))} (every {interval:g} s)…")

    def changed(files: list[str]) -> None:
        if not as_json:
            click.secho(f"changed: {', '.join(files[:5])}{' …' if len(files) > 5 else ''}", dim=True)
        print_report(kb.ingest(list(paths), remove_missing=True), as_json)

    with contextlib.suppress(KeyboardInterrupt):
        watch_paths(list(paths), changed, interval=interval, max_changes=max_changes)


@click.group()
def kb() -> None:
    """Inspect the knowledge base: status, history, diffs, documents; roll back; re-embed."""


@kb.command()
@json_option
@kb_option
def status(as_json: bool, kb_path: Path | None) -> None:
    """Documents, chunks and the current version."""
    info = open_kb(kb_path).status()
    if as_json:
        emit_json(info)
        return
    for key, value in info.items():
        click.echo(f"{key:>10}: {value}")


@kb.command()
@click.option("-n", "limit", type=int, default=None, help="Show only the last N versions.")
@as_groups_option
@json_option
@kb_option
def log(limit: int | None, as_groups: str | None, as_json: bool, kb_path: Path | None) -> None:
    """The version history, newest first."""
    versions = list(reversed(open_kb(kb_path).versions(access=access_for(as_groups))))[: limit or None]
    if as_json:
        emit_json([v.as_dict() for v in versions])
        return
    if not versions:
        click.echo("No versions yet: run `ragtune ingest PATH`.")
    for v in versions:
        click.secho(f"v{v.version:<4}", bold=True, nl=False)
        embedder = f"  [{v.embedder}]" if v.embedder else ""
        click.echo(f" {v.created_at}  {v.operation:<8} +{v.added} ~{v.updated} -{v.removed}  {v.message}{embedder}")


@kb.command()
@click.argument("v1", type=int)
@click.argument("v2", type=int)
@click.option(
    "--text", "doc_id", default=None, metavar="DOC_ID", help="Print the unified diff of this document's text."
)
@as_groups_option
@json_option
@kb_option
def diff(v1: int, v2: int, doc_id: str | None, as_groups: str | None, as_json: bool, kb_path: Path | None) -> None:
    """Documents added, removed and changed between versions V1 and V2."""
    kbase, access = open_kb(kb_path), access_for(as_groups)
    if doc_id is not None:
        text = kbase.text_diff(doc_id, v1, v2, access=access)
        if as_json:
            emit_json({"doc_id": doc_id, "a": v1, "b": v2, "diff": text})
        else:
            click.echo(text or f"{doc_id}: no change between v{v1} and v{v2}", nl=bool(not text))
        return
    d = kbase.diff(v1, v2, access=access)
    if as_json:
        emit_json(d.as_dict())
        return
    click.echo(f"v{d.a} → v{d.b}: {len(d.added)} added, {len(d.changed)} changed, {len(d.removed)} removed")
    for mark, color, ids in (("+", "green", d.added), ("~", "yellow", d.changed), ("-", "red", d.removed)):
        for doc_id in ids:
            click.secho(f"  {mark} {doc_id}", fg=color)


@kb.command()
@click.argument("doc_id")
@click.option("--at", "at", type=int, default=None, help="As of version V.")
@as_groups_option
@json_option
@kb_option
def show(doc_id: str, at: int | None, as_groups: str | None, as_json: bool, kb_path: Path | None) -> None:
    """A document's live revision, its history and its chunks."""
    kbase, access = open_kb(kb_path), access_for(as_groups)
    info, passages = kbase.document(doc_id, at, access=access)
    history = kbase.history(doc_id, access=access)
    if as_json:
        emit_json({**info.__dict__, "history": history, "chunks": passages})
        return
    click.secho(f"{info.doc_id}  —  {info.title}", bold=True)
    click.echo(f"source: {info.source}\nrevision: {info.revision_id} ({info.content_hash[:12]}, {info.created_at})")
    spans = ", ".join(f"v{a}–{'' if b is None else f'v{b - 1}'}" for a, b, _ in history)
    click.echo(f"live in: {spans}\nchunks: {len(passages)}")
    for p in passages:
        where = " › ".join(p["heading_path"]) + (f" (p. {p['page']})" if p["page"] else "")
        click.secho(f"\n#{p['ord']} {where}  [{p['n_tokens']} tokens, chunk {p['chunk_id'][:12]}]", dim=True)
        click.echo(p["text"][:300] + ("…" if len(p["text"]) > 300 else ""))


@kb.command()
@click.argument("version", type=int)
@json_option
@kb_option
def rollback(version: int, as_json: bool, kb_path: Path | None) -> None:
    """Make a new version whose documents equal those of VERSION."""
    info = open_kb(kb_path).rollback(version)
    if as_json:
        emit_json({"version": None if info is None else info.version, "rolled_back_to": version})
    elif info is None:
        click.echo(f"Already identical to v{version}; no new version.")
    else:
        click.echo(
            f"Rolled back to v{version} → version {info.version} (+{info.added} ~{info.updated} -{info.removed})"
        )


@kb.command()
@click.option(
    "--embedder",
    required=True,
    metavar="NAME",
    help="A tuned embedder's name (ragtune tune-retriever; `ragtune models list`) or any [embed] model value.",
)
@click.option("-m", "--message", default="", help="A note recorded with the new version.")
@json_option
@kb_option
def reembed(embedder: str, message: str, as_json: bool, kb_path: Path | None) -> None:
    """Search the knowledge base with another embedder from a new version on (older versions keep theirs).

    \b
    Every chunk gets a vector from NAME (vectors already cached are reused; the old ones stay), then a version with
    the same documents records NAME: searches at it, and at later versions, use NAME; `--at` an older version or
    a rollback to one searches with the embedder it was built with. Back to the configured model:
      ragtune kb reembed --embedder all-MiniLM-L6-v2
    """
    report = open_kb(kb_path).reembed(embedder, progress=show_progress() and not as_json, message=message)
    if as_json:
        emit_json(report.as_dict())
    elif report.version is None:
        click.echo(f"The head version already searches with {embedder} ({report.embedder_id}); no new version.")
    else:
        click.echo(
            f"Re-embedded with {embedder} ({report.embedder_id}) → version {report.version.version} "
            f"({report.chunks_embedded} of {report.chunks} chunks embedded, the rest cached; {report.seconds:.1f} s)"
        )
