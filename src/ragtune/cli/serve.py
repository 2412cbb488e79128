"""``ragtune serve``: the HTTP API (OpenAI-compatible chat, search, ask, the KB routes, MCP) over one or more
collections, and ``ragtune mcp``: the same collections as MCP tools over stdio."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ragtune.cli.common import kb_option
from ragtune.errors import ConfigError

if TYPE_CHECKING:
    from ragtune.serve.collections import Collections
    from ragtune.serve.keys import KeyStore
    from ragtune.serve.settings import ServeSettings


def collection_option(fn: Any) -> Any:
    return click.option(
        "--collection",
        "collection_specs",
        multiple=True,
        metavar="NAME=PATH",
        help="Serve the knowledge base in PATH as the collection NAME (repeatable). Default: [collections] in "
        "ragtune.toml, else --kb (or the nearest .ragtune/) as 'default'. With --kb, --collection NAME names it.",
    )(fn)


def keys_file_option(fn: Any) -> Any:
    return click.option(
        "--keys",
        "keys_path",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="The API key file (default: [serve] keys in ragtune.toml, else $RAGTUNE_HOME/keys.json).",
    )(fn)


def key_store(keys_path: Path | None, settings: ServeSettings) -> KeyStore:
    from ragtune.serve.keys import KeyStore, default_keys_path

    return KeyStore(keys_path or settings.keys or default_keys_path())


def open_collections(
    specs: tuple[str, ...], kb_path: Path | None, settings: ServeSettings, *, model: str | None, adapter: str | None
) -> Collections:
    """The collections to serve: --collection, else --kb (named by a lone --collection NAME), else
    [collections], else the nearest .ragtune/ as 'default'."""
    from ragtune.config import find_kb
    from ragtune.serve.collections import DEFAULT, Collections
    from ragtune.serve.settings import check_collection_name, parse_collection_option

    if kb_path is not None:
        if len(specs) > 1 or any("=" in s for s in specs):
            raise ConfigError(
                "--kb serves one collection; name it with one --collection NAME, or give every "
                "collection as --collection NAME=PATH instead of --kb"
            )
        name = check_collection_name(specs[0], where="--collection") if specs else DEFAULT
        paths = {name: kb_path}
    elif specs:
        paths = parse_collection_option(specs)
    elif settings.collections:
        paths = dict(settings.collections)
    else:
        found = find_kb()
        if found is None:
            raise ConfigError(
                "no knowledge base: give --collection NAME=PATH or --kb PATH, add [collections] to "
                "ragtune.toml, or run `ragtune init`"
            )
        paths = {DEFAULT: found}
    return Collections.open(paths, model=model, adapter=adapter)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8000, show_default=True, help="Port to listen on.")
@click.option(
    "--api-key",
    envvar="RAGTUNE_API_KEY",
    default=None,
    help="One static admin key, besides the key file: 'Authorization: Bearer KEY' (default: $RAGTUNE_API_KEY).",
)
@keys_file_option
@collection_option
@click.option(
    "--model",
    default=None,
    help="Also serve 'base' and 'rag' with this model: hf:PATH_OR_ID, openai:MODEL, or ft:NAME (a fine-tuned "
    "model registered by ragtune train).",
)
@click.option("--adapter", default=None, help="LoRA adapter for --model.")
@click.option(
    "--results",
    "results",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Comparison results folders (ragtune compare --out), or folders holding them, to list at "
    "/v1/comparisons (repeatable; default: [serve] results).",
)
@kb_option
def serve(
    host: str,
    port: int,
    api_key: str | None,
    keys_path: Path | None,
    collection_specs: tuple[str, ...],
    model: str | None,
    adapter: str | None,
    results: tuple[Path, ...],
    kb_path: Path | None,
) -> None:
    """Serve the knowledge base over HTTP until interrupted.

    \b
    Every strategy is a model of an OpenAI-compatible API at http://HOST:PORT/v1,
    so OpenAI's clients work unchanged:
      OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="KEY")
        .chat.completions.create(model="rag-extractive", messages=[...])
    Several collections: --collection support=support/.ragtune --collection hr=hr/.ragtune,
    and model="rag-extractive@hr". Keys: ragtune keys create --name NAME --role reader|editor|admin.
    Also: GET /v1/collections, /v1/documents, /v1/versions, /v1/diff, POST /v1/search, /v1/ask,
    /v1/uploads, MCP at /mcp, GET /healthz. A non-loopback --host needs keys.
    The web UI is at http://HOST:PORT/ (chat, side by side, knowledge base with
    upload, diff and rollback, training runs, comparisons): open it and sign in
    with a key. See docs/ui.md.
    """
    import dataclasses

    # Imported here so that other commands do not pay for the web stack.
    from ragtune.serve import create_app, run
    from ragtune.serve.settings import ServeSettings

    settings = ServeSettings.load()
    if results:
        settings = dataclasses.replace(settings, results=tuple(results))
    store = key_store(keys_path, settings)
    keyed = bool(api_key) or len(store) > 0
    if not keyed and not is_loopback(host):
        raise ConfigError(
            f"refusing to serve on {host} without API keys: anyone who reaches it could read and change the "
            f"knowledge base. Create a key first (ragtune keys create --name admin --role admin; key file "
            f"{store.path}) or serve on 127.0.0.1"
        )
    collections = open_collections(collection_specs, kb_path, settings, model=model, adapter=adapter)
    for c in collections:
        if c.kb is not None:
            c.kb.retriever  # noqa: B018 - load the embedder and indexes now, not on the first request
    app = create_app(collections=collections, keys=store, api_key=api_key, settings=settings)
    names = ", ".join(f"{c.name} (v{c.kb.head if c.kb else '-'})" for c in collections)
    auth = f"{len(store)} key(s) in {store.path}" + (" + --api-key" if api_key else "") if keyed else "no keys"
    click.secho(f"ragtune: collections {names}; {auth}; http://{host}:{port}/v1", err=True)
    try:
        run(app, host=host, port=port)
    finally:
        collections.close()


@click.command()
@collection_option
@keys_file_option
@click.option(
    "--key",
    envvar="RAGTUNE_API_KEY",
    default=None,
    help="Act as this API key (its collections and groups); default $RAGTUNE_API_KEY; none: the local user, "
    "who reads everything.",
)
@click.option("--model", default=None, help="Also answer with this model (as ragtune serve --model).")
@kb_option
def mcp(
    collection_specs: tuple[str, ...], keys_path: Path | None, key: str | None, model: str | None, kb_path: Path | None
) -> None:
    """Serve the collections as MCP tools (search, ask) over stdio, for agent clients.

    \b
    In a client's MCP configuration:
      {"command": "ragtune", "args": ["mcp", "--collection", "docs=/srv/docs/.ragtune"]}
    Tools: collections(), search(query, collection, k), ask(question, collection, strategy).
    """
    import anyio

    from ragtune.serve.collections import Collections  # noqa: F401 - the web stack is loaded from here on
    from ragtune.serve.context import ServerContext
    from ragtune.serve.keys import OPEN, Authenticator
    from ragtune.serve.mcp_server import build_mcp
    from ragtune.serve.settings import ServeSettings

    settings = ServeSettings.load()
    store = key_store(keys_path, settings)
    principal = OPEN
    if key:
        record = store.verify(key)
        if record is None:
            raise ConfigError(
                f"--key: not a valid key in {store.path} (RAGTUNE_API_KEY is read when --key is not given)"
            )
        principal = record.principal()
    collections = open_collections(collection_specs, kb_path, settings, model=model, adapter=None)
    try:
        server = build_mcp(ServerContext(collections, Authenticator(store), store, settings), default=principal)
        anyio.run(server.run_stdio_async)
    finally:
        collections.close()
