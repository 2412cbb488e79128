"""``ragtune serve``: the HTTP API (OpenAI-compatible chat, search, ask) over the knowledge base."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import click

from ragtune.cli.common import kb_option, open_kb


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8000, show_default=True, help="Port to listen on.")
@click.option(
    "--api-key",
    envvar="RAGTUNE_API_KEY",
    default=None,
    help="Require 'Authorization: Bearer KEY' on /v1/* (default: $RAGTUNE_API_KEY; unset = no key needed).",
)
@click.option(
    "--model",
    default=None,
    help="Also serve 'base' and 'rag' with this model: hf:PATH_OR_ID, openai:MODEL, or ft:NAME (a fine-tuned "
    "model registered by ragtune train).",
)
@click.option("--adapter", default=None, help="LoRA adapter for --model.")
@kb_option
def serve(
    host: str, port: int, api_key: str | None, model: str | None, adapter: str | None, kb_path: Path | None
) -> None:
    """Serve the knowledge base over HTTP until interrupted.

    \b
    Every strategy is a model of an OpenAI-compatible API at http://HOST:PORT/v1,
    so OpenAI's clients work unchanged:
      OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="KEY")
        .chat.completions.create(model="rag-extractive", messages=[...])
    Also: GET /v1/models, POST /v1/search, POST /v1/ask, GET /healthz.
    """
    # Imported here so that other commands do not pay for the web stack.
    from ragtune.rag.strategies import load_strategies
    from ragtune.serve import create_app, run

    kb = open_kb(kb_path)
    strategies = load_strategies(kb, model=model, adapter=adapter)
    kb.retriever  # noqa: B018 - load the embedder now, not on the first request
    if not api_key and not _is_loopback(host):
        click.secho(f"warning: serving on {host} without --api-key; anyone who can reach it can query the KB", err=True)
    click.secho(
        f"ragtune: version {kb.head} of {kb.path}; models: {', '.join(strategies)}; http://{host}:{port}/v1", err=True
    )
    run(create_app(strategies, kb=kb, api_key=api_key), host=host, port=port)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
