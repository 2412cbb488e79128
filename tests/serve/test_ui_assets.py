"""The web UI's files (``serve/ui.py``): served without a key, from the package only, under a same-origin CSP."""

from __future__ import annotations

import re
from importlib import resources

import httpx

from ragtune.knowledge_base import KnowledgeBase
from ragtune.serve.testing import running_server
from ragtune.serve.ui import asset_names


def test_ui_files_need_no_key_and_stay_in_their_folder(served_kb: KnowledgeBase) -> None:
    with running_server({"docs": served_kb}, keys={"ada": "admin"}, mcp=False) as srv:
        index = httpx.get(srv.url + "/")
        assert index.status_code == 200
        assert index.headers["content-type"].startswith("text/html")
        csp = index.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        for name in re.findall(r'(?:src|href)="/ui/([^"]+)"', index.text):
            assert httpx.get(f"{srv.url}/ui/{name}").status_code == 200
        assert set(asset_names()) >= {"index.html", "app.js", "app.css", "api.js"}
        js = httpx.get(srv.url + "/ui/app.js")
        assert js.headers["content-type"].startswith("text/javascript")
        # Nothing outside the folder, however the name is spelled.
        for bad in ("..%2Fui.py", "..%2F..%2Fknowledge_base.py", "ui.py", "%2Fetc%2Fpasswd", "APP.JS", "x.js"):
            response = httpx.get(f"{srv.url}/ui/{bad}")
            assert response.status_code == 404, bad
            assert "error" in response.json()
        # The data behind the pages still needs the key.
        assert httpx.get(srv.url + "/v1/me").status_code == 401
        assert httpx.get(srv.url + "/v1/me", headers=srv.headers("ada")).json()["role"] == "admin"


def test_ui_files_load_nothing_from_elsewhere() -> None:
    folder = resources.files("ragtune.serve").joinpath("ui")
    for name in asset_names():
        text = folder.joinpath(name).read_text(encoding="utf-8")
        urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"'`)]*", text))
        urls.discard("http://www.w3.org/2000/svg")  # the SVG namespace, a name and not a request
        assert not urls, f"{name} refers to {urls}"
        assert "@import" not in text and "url(http" not in text
