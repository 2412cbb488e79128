"""A real server on 127.0.0.1 for tests (ragtune's own, and the web UI's browser tests).

>>> from ragtune.serve.testing import running_server                               # doctest: +SKIP
>>> with running_server({"docs": kb_dir, "hr": hr_dir},
...                     keys={"ada": "admin", "bob": {"role": "reader", "collections": ["docs"],
...                                                   "groups": ["staff"]}}) as srv:  # doctest: +SKIP
...     httpx.get(srv.url + "/v1/me", headers=srv.headers("bob"))

``collections`` maps names to KB folders (opened here, closed on exit) or to open
:class:`~ragtune.knowledge_base.KnowledgeBase` objects (left open). ``keys`` maps key names to a role or to
``{"role", "collections", "groups"}``; they are created in ``key_file`` (a temporary file by default) and
their secrets are in ``RunningServer.keys``. Without ``keys`` (and ``api_key``) no key is needed. The
server runs in a thread on a free port, with the MCP endpoint at ``RunningServer.url + "/mcp"``.

:func:`serve_process` runs ``ragtune serve`` as its own process instead (end-to-end tests, the load benchmark).
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragtune.errors import RagtuneError
from ragtune.serve.collections import Collection, Collections
from ragtune.serve.keys import KeyStore
from ragtune.serve.settings import ServeSettings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ragtune.embed import Embedder
    from ragtune.knowledge_base import KnowledgeBase


@dataclass
class RunningServer:
    url: str  # http://127.0.0.1:PORT (no trailing slash)
    collections: Collections
    app: FastAPI
    key_store: KeyStore | None = None
    keys: dict[str, str] = field(default_factory=dict)  # key name → the key itself

    def headers(self, name: str | None = None) -> dict[str, str]:
        """``Authorization`` for the key named ``name`` (no header for None)."""
        return {"Authorization": f"Bearer {self.keys[name]}"} if name is not None else {}


@contextmanager
def running_server(
    collections: Mapping[str, str | Path | KnowledgeBase],
    *,
    keys: Mapping[str, str | Mapping[str, Any]] | None = None,
    key_file: str | Path | None = None,
    api_key: str | None = None,
    settings: ServeSettings | None = None,
    embedder: Embedder | None = None,
    model: str | None = None,
    mcp: bool = True,
) -> Iterator[RunningServer]:
    """Start ``ragtune serve``'s app for ``collections`` on 127.0.0.1 (a free port) in a thread; stop it on exit."""
    from ragtune.knowledge_base import KnowledgeBase
    from ragtune.serve.app import create_app
    from ragtune.serve.server import serve_in_thread

    with tempfile.TemporaryDirectory(prefix="ragtune-serve-") as tmp:
        paths = {n: Path(v) for n, v in collections.items() if not isinstance(v, KnowledgeBase)}
        opened = Collections.open(paths, model=model, embedder=embedder) if paths else None
        items: dict[str, Collection] = {}
        for name, value in collections.items():
            if isinstance(value, KnowledgeBase):
                items[name] = Collection(name, value, value.strategies(model=model) if model else value.strategies())
            else:
                assert opened is not None
                items[name] = opened.items[name]
        try:
            store = KeyStore(key_file or Path(tmp) / "keys.json") if (keys or key_file) else None
            secrets: dict[str, str] = {}
            for name, spec in (keys or {}).items():
                spec = {"role": spec} if isinstance(spec, str) else dict(spec)
                assert store is not None
                _, secrets[name] = store.create(
                    name,
                    spec.get("role", "reader"),
                    collections=spec.get("collections") or (),
                    groups=spec.get("groups"),
                )
            served = Collections(items)
            app = create_app(collections=served, keys=store, api_key=api_key, settings=settings, mcp=mcp)
            with serve_in_thread(app) as url:
                yield RunningServer(url, served, app, store, secrets)
        finally:
            if opened is not None:
                opened.close()


@contextmanager
def serve_process(
    argv: Sequence[str], url: str, *, cwd: Path, env: Mapping[str, str], log: Path, start_timeout_s: float = 180.0
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` (a ``ragtune serve`` command line listening at ``url``) with its output in ``log``; return once
    ``url/healthz`` answers 200; terminate it (then kill) on exit. RagtuneError, with the log, when the process
    exits or does not answer within ``start_timeout_s`` (torch and the embedder load first on a busy machine)."""
    import httpx

    with log.open("wb") as out:
        proc = subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            if proc.poll() is not None:
                raise RagtuneError(f"ragtune serve exited with {proc.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RagtuneError(f"ragtune serve did not come up:\n{log.read_text()}")
            time.sleep(0.3)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
