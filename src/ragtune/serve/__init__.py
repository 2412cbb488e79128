"""HTTP API: OpenAI-compatible chat (one model per strategy) plus a small search/ask JSON API.

>>> from ragtune.serve import create_app, serve_in_thread           # doctest: +SKIP
>>> app = create_app(kb.strategies(), kb=kb)                        # doctest: +SKIP
>>> with serve_in_thread(app) as base_url: ...                      # doctest: +SKIP
"""

from ragtune.serve.app import create_app
from ragtune.serve.server import run, serve_in_thread

__all__ = ["create_app", "run", "serve_in_thread"]
