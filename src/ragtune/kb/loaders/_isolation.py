"""Parsing under a time limit, in a worker process, so a hung parser costs one file and no CPU.

A single worker is forked on first use and kept for the next files (a fork per file would add
milliseconds to each). On a timeout the worker is killed and the next file gets a fresh one. The worker
is forked, not spawned, so loaders registered at run time (closures included) work in it without being
pickled; a worker forked before a registry change is replaced. Where fork is unavailable or unsafe
(Windows, macOS) the parse runs in a daemon thread instead: the caller still gets its timeout, but a
hung thread cannot be stopped and keeps running until the process exits.
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
import threading
import warnings
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ragtune.errors import LoaderError

from ..document import Document
from ._options import LoadOptions
from ._parse import parse
from ._registry import registry_generation

WORKER_NAME = "ragtune-loader"
CAN_FORK = "fork" in multiprocessing.get_all_start_methods() and sys.platform != "darwin"

_lock = threading.Lock()
_worker: _Worker | None = None
_in_worker = False  # set in the worker itself, where a nested load (a custom loader calling load_file)
# must parse in place: the worker cannot fork, and the lock it inherited may be held.


def parse_with_timeout(path: Path, opts: LoadOptions, timeout_s: float) -> list[Document]:
    """:func:`parse` in the worker, raising LoaderError("parser timed out after N s") past ``timeout_s``."""
    if _in_worker:
        return parse(path, opts)
    if not CAN_FORK:
        return _parse_in_thread(path, opts, timeout_s)
    global _worker
    with _lock:
        if _worker is not None and (_worker.generation != registry_generation() or not _worker.alive()):
            _worker.stop()
            _worker = None
        if _worker is None:
            _worker = _Worker()
        worker = _worker
        try:
            status, payload = worker.call(path, opts, timeout_s)
        except BaseException:
            # Timed out, crashed, or interrupted mid-call: its state is unknown, so it goes.
            worker.stop()
            _worker = None
            raise
    if status == "ok":
        documents: list[Document] = payload
        return documents
    raise LoaderError(path, payload)


def stop_worker() -> None:
    """Stop the worker process now (it is also stopped when the interpreter exits)."""
    global _worker
    with _lock:
        if _worker is not None:
            _worker.stop()
            _worker = None


class _Worker:
    def __init__(self) -> None:
        ctx = multiprocessing.get_context("fork")
        self.conn, child_conn = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child_conn, self.conn), name=WORKER_NAME, daemon=True)
        self.generation = registry_generation()
        with warnings.catch_warnings():
            # Python 3.12+ warns that forking a threaded process may deadlock the child. The child only
            # parses, and a deadlocked child is caught by the timeout like any other hang.
            warnings.simplefilter("ignore", DeprecationWarning)
            self.process.start()
        child_conn.close()  # so that the worker's death reads as EOF here

    def alive(self) -> bool:
        return self.process.is_alive()

    def call(self, path: Path, opts: LoadOptions, timeout_s: float) -> tuple[str, Any]:
        self.conn.send((path, opts))
        if not self.conn.poll(timeout_s):
            raise LoaderError(path, f"parser timed out after {timeout_s:g} s")
        try:
            reply: tuple[str, Any] = self.conn.recv()
        except (EOFError, OSError):
            self.process.join(1)
            code = self.process.exitcode
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            raise LoaderError(path, f"parser crashed ({how})") from None
        return reply

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.process.close()
        self.conn.close()


def _serve(conn: Connection, parent_end: Connection) -> None:
    """The worker's loop: parse each requested file and send back ("ok", docs) or ("error", reason)."""
    global _in_worker
    _in_worker = True
    # The fork copied the parent's end of the pipe; while this copy is open, the parent's death
    # (even SIGKILL) never reads as EOF here and the worker would outlive it forever.
    parent_end.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it kills us
    while True:
        try:
            path, opts = conn.recv()
        except (EOFError, OSError):
            return  # the parent went away
        try:
            conn.send(("ok", parse(path, opts)))
            continue
        except LoaderError as exc:
            reply = ("error", exc.reason)
        except BaseException as exc:  # e.g. unpicklable metadata, SystemExit in a loader
            reply = ("error", f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except OSError:
            return  # the parent went away while we parsed (why the first send failed, too)


def _parse_in_thread(path: Path, opts: LoadOptions, timeout_s: float) -> list[Document]:
    outcome: list[list[Document] | BaseException] = []

    def run() -> None:
        try:
            outcome.append(parse(path, opts))
        except BaseException as exc:  # handed to the caller's thread
            outcome.append(exc)

    thread = threading.Thread(target=run, name=WORKER_NAME, daemon=True)
    thread.start()
    thread.join(timeout_s)
    if not outcome:
        raise LoaderError(path, f"parser timed out after {timeout_s:g} s")
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result
