"""``ragtune keys``: the API keys ``ragtune serve`` accepts (create, list, revoke)."""

from __future__ import annotations

from pathlib import Path

import click

from ragtune.cli.common import emit_json, json_option
from ragtune.cli.serve import key_store, keys_file_option


def _settings():  # type: ignore[no-untyped-def]
    from ragtune.serve.settings import ServeSettings

    return ServeSettings.load()


@click.group()
def keys() -> None:
    """API keys for ragtune serve: create (printed once), list, revoke. Stored hashed (argon2id)."""


@keys.command("create")
@click.option("--name", required=True, help="Who the key is for (unique; shown in logs and `keys list`).")
@click.option(
    "--role",
    type=click.Choice(["reader", "editor", "admin"]),
    default="reader",
    show_default=True,
    help="reader: search, ask, chat, read documents; editor: also upload and remove; admin: also roll "
    "back, manage keys, read comparisons.",
)
@click.option(
    "--collection",
    "collections",
    multiple=True,
    metavar="NAME",
    help="A collection the key may use (repeatable; default: all).",
)
@click.option(
    "--groups",
    default=None,
    metavar="G1,G2",
    help="The groups the key reads documents as (per-document access control).",
)
@keys_file_option
@json_option
def create(
    name: str, role: str, collections: tuple[str, ...], groups: str | None, keys_path: Path | None, as_json: bool
) -> None:
    """Create a key and print it (once: only its hash is stored)."""
    store = key_store(keys_path, _settings())
    record, token = store.create(name, role, collections=collections, groups=groups)
    if as_json:
        emit_json({**record.public(), "key": token, "file": str(store.path)})
        return
    click.echo(token)
    scope = ", ".join(record.collections) or "all collections"
    groups_text = ", ".join(record.groups) or "none"
    click.secho(
        f"created key {record.id} '{name}' ({role}; {scope}; groups: {groups_text}) in {store.path}. "
        "It is shown only now: keep it.",
        err=True,
    )


@keys.command("list")
@keys_file_option
@json_option
def list_keys(keys_path: Path | None, as_json: bool) -> None:
    """The keys (never their secrets)."""
    store = key_store(keys_path, _settings())
    rows = [k.public() for k in store.list()]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo(f"no keys in {store.path}")
        return
    for r in rows:
        cols = ",".join(r["collections"] or ["*"])
        click.echo(
            f"{r['id']}  {r['name']:<20} {r['role']:<7} collections={cols} groups={','.join(r['groups'])} "
            f"created {r['created']}"
        )


@keys.command("revoke")
@click.argument("id_or_name")
@keys_file_option
def revoke(id_or_name: str, keys_path: Path | None) -> None:
    """Revoke a key by id or name (a running server refuses it from its next request)."""
    store = key_store(keys_path, _settings())
    record = store.revoke(id_or_name)
    click.echo(f"revoked {record.id} '{record.name}'")
