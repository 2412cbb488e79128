"""Browser tests of the web UI: one real server (``ragtune.serve.testing``) and one headless Chromium per module.

Chromium is Debian's (``/usr/bin/chromium``, or ``$RAGTUNE_CHROMIUM``), driven by Playwright through
``executable_path``; Playwright never downloads a browser here. Without it these tests fail, saying how to
install it (``make browser`` does, as root; ``make test`` and ``.ci/run`` run it first).
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("RAGTUNE_CHROMIUM", "/usr/bin/chromium")
INSTALL = (
    "the browser tests need Debian's Chromium at {path}: install it with "
    "`sudo apt-get install -y chromium chromium-driver` (or `make browser` as root), "
    "or point RAGTUNE_CHROMIUM at a Chromium binary"
)
KEYS = {
    "ada": "admin",
    "erin": {"role": "editor", "collections": ["help", "team"]},
    "rita": {"role": "reader", "collections": ["help", "team"]},  # no groups: reads only what everyone may
    "hana": {"role": "reader", "collections": ["team"], "groups": ["hr"]},  # reads team's hr/payroll.md too
}
DESKTOP = {"width": 1200, "height": 800}


def _load_world() -> Any:
    spec = importlib.util.spec_from_file_location("ui_world", Path(__file__).with_name("world.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module", autouse=True)
def chromium() -> str:
    """Fails (never skips) every browser test at once when there is no browser, before anything is built."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(INSTALL.format(path=CHROMIUM), pytrace=False)
    return CHROMIUM


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, embedder: Any, tiny_model: Path) -> Iterator[Any]:
    built = _load_world().build(tmp_path_factory.mktemp("ui"), embedder=embedder, tiny_model=tiny_model)
    yield built
    built.close()


@pytest.fixture(scope="module")
def server(world: Any) -> Iterator[Any]:
    from ragtune.serve.settings import ServeSettings
    from ragtune.serve.testing import running_server

    # Strategies are read from the world's ragtune.toml ([strategies.ft]) when the server starts.
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(world.root)
        started = running_server(
            world.collections(),
            keys=KEYS,
            settings=ServeSettings(results=(world.results,)),
            model=world.model,
            mcp=False,
        )
        srv = started.__enter__()
    try:
        yield srv
    finally:
        started.__exit__(None, None, None)


@pytest.fixture(scope="module")
def browser(chromium: str, server: Any) -> Iterator[Any]:
    # After the server: the world is built (forking loader workers) before Playwright's event loop exists.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, headless=True)
        yield launched
        launched.close()


class UI:
    """A browser tab on the server, recording what must never happen: a request leaving 127.0.0.1, a script
    error, a console error that is not an HTTP error status the page itself reports."""

    def __init__(self, browser: Any, server: Any, viewport: dict[str, int]) -> None:
        self.server = server
        self.context = browser.new_context(viewport=viewport)
        self.external: list[str] = []
        self.errors: list[str] = []
        origin = server.url

        def guard(route: Any) -> None:
            url = route.request.url
            if url.startswith((origin, "blob:", "data:")):
                route.continue_()
            else:
                self.external.append(url)
                route.abort()

        self.context.route(re.compile(r".*"), guard)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.on(
            "console",
            lambda m: (
                self.errors.append(f"console: {m.text}")
                if m.type == "error" and "Failed to load resource" not in m.text
                else None
            ),
        )
        self.page.on("dialog", lambda d: d.accept())  # the rollback confirmation

    def open(self, route: str = "") -> Any:
        self.page.goto(f"{self.server.url}/#/{route}")
        return self.page

    def sign_in(self, name: str, route: str = "chat") -> Any:
        page = self.open("signin")
        page.get_by_label("API key", exact=True).fill(self.server.keys[name])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"#/chat$"))
        page.locator("#identity").filter(has_text=name).wait_for()
        if route != "chat":
            page.goto(f"{self.server.url}/#/{route}")
        return page

    def collection(self, name: str) -> None:
        self.page.get_by_label("Collection", exact=True).select_option(name)

    def close_now(self) -> None:
        """Close before the test ends (its server is about to stop); checked as ``close`` is."""
        self.close()
        self.closed = True

    def close(self) -> None:
        if getattr(self, "closed", False):
            return
        self.context.close()
        assert not self.external, f"the UI requested something outside the server: {self.external}"
        assert not self.errors, f"the UI logged errors: {self.errors}"


@pytest.fixture
def ui(browser: Any, server: Any) -> Iterator[Callable[..., UI]]:
    """``ui()`` opens a fresh tab (its own sessionStorage) at desktop size, ``ui(width=400)`` a narrow one,
    ``ui(server=other)`` one on another server."""
    opened: list[UI] = []

    def _open(width: int = DESKTOP["width"], height: int = DESKTOP["height"], server: Any = server) -> UI:
        tab = UI(browser, server, {"width": width, "height": height})
        opened.append(tab)
        return tab

    yield _open
    for tab in opened:
        tab.close()
