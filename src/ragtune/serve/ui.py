"""The web UI: static files shipped in the package (``ragtune/serve/ui/``), served at ``/`` and ``/ui/NAME``.

No build step, no CDN: ``index.html`` loads ES modules and one stylesheet from ``/ui/``, and every page talks
only to the JSON API (``/v1/*``) with the key the user signed in with. These routes need no key (they hold no
data); a Content-Security-Policy keeps the page to its own origin, so it works offline and a passage quoted in
an answer can never load anything from elsewhere.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response

from ragtune.serve.errors import ApiError

UI_PACKAGE = "ragtune.serve"
# Plain file names only: no folders, no dots but the extension's, so no path can leave the folder.
_ASSET = re.compile(r"^[a-z0-9][a-z0-9_-]*\.(js|css|html|svg)$")
_TYPES = {
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "svg": "image/svg+xml",
}
# Reports (``/v1/comparisons/NAME/report.html``) are fetched with the key and shown from a blob: URL, which
# inherits this policy: their inline <style> is allowed, no script is.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "frame-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def asset_names() -> list[str]:
    """The files the UI is made of (what ``/ui/NAME`` serves)."""
    folder = resources.files(UI_PACKAGE).joinpath("ui")
    return sorted(p.name for p in folder.iterdir() if p.is_file() and _ASSET.match(p.name))


def read_asset(name: str) -> bytes:
    if not _ASSET.match(name):
        raise ApiError(404, f"no such UI file: {name!r}", code="not_found")
    path = resources.files(UI_PACKAGE).joinpath("ui", name)
    if not path.is_file():
        raise ApiError(404, f"no such UI file: {name!r}", code="not_found")
    return path.read_bytes()


def mount_ui(app: FastAPI) -> None:
    """Add ``GET /`` (the page) and ``GET /ui/{name}`` (its scripts and stylesheet) to ``app``."""

    def respond(name: str) -> Response:
        return Response(read_asset(name), media_type=_TYPES[name.rsplit(".", 1)[1]], headers=HEADERS)

    @app.get("/", include_in_schema=False)
    def index() -> Any:
        return respond("index.html")

    @app.get("/ui/{name}", include_in_schema=False)
    def asset(name: str) -> Any:
        return respond(name)
