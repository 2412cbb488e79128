"""HTTP API: OpenAI-compatible chat (one model per strategy and collection), search, ask, the knowledge-base
routes, API keys and MCP tools, over one or more collections.

>>> from ragtune.serve import create_app, serve_in_thread           # doctest: +SKIP
>>> app = create_app(kb.strategies(), kb=kb)                        # doctest: +SKIP
>>> with serve_in_thread(app) as base_url: ...                      # doctest: +SKIP

Several collections and keys: ``create_app(collections=Collections.open({...}), keys="keys.json")``;
for tests, :func:`ragtune.serve.testing.running_server`.
"""

from ragtune.serve.app import create_app
from ragtune.serve.collections import Collection, Collections
from ragtune.serve.keys import KeyStore, Principal
from ragtune.serve.server import run, serve_in_thread
from ragtune.serve.settings import ServeSettings

__all__ = [
    "Collection",
    "Collections",
    "KeyStore",
    "Principal",
    "ServeSettings",
    "create_app",
    "run",
    "serve_in_thread",
]
