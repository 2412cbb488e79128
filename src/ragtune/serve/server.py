"""Running the app: in the foreground (``ragtune serve``) or in a background thread (notebooks, tests, evals)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from ragtune.errors import RagtuneError


def run(app: Any, *, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    """Serve ``app`` until interrupted."""
    uvicorn.run(app, host=host, port=port, log_level=log_level)


@contextmanager
def serve_in_thread(
    app: Any, *, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning", start_timeout_s: float = 30.0
) -> Iterator[str]:
    """Serve ``app`` from a daemon thread; yields its base URL (``http://127.0.0.1:PORT``), stops on exit.

    ``port=0`` takes a free port. The socket is bound here, before the thread starts, so the port cannot
    be taken by someone else between choosing and listening.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="ragtune-serve", daemon=True)
    thread.start()
    bound = sock.getsockname()[1]
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RagtuneError(f"the server on {host}:{bound} did not start")
        time.sleep(0.01)
    try:
        yield f"http://{f'[{host}]' if family == socket.AF_INET6 else host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
