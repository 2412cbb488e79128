"""Load on a real ``ragtune serve`` over the demo KB: concurrent clients on ``/v1/search`` and on chat
completions with ``rag-extractive``, with an API key (so authentication is part of every request).

One ``ragtune serve`` process on 127.0.0.1 with a key file (one reader key); this script is the client
(``--clients`` threads, each with its own keep-alive connection, back to back for ``--seconds``). Peers in the
same run: the same search load on a second server process started without keys, and the same searches
through the library in this process (``KnowledgeBase.search`` from ``--clients`` threads, no HTTP).
Latency is measured at the client (request sent → response read), so it includes queuing when the two
cores are busy. Server memory: VmRSS of the server process after warm-up and after the load.

    .venv/bin/python benchmarks/load.py [--clients 8] [--seconds 60] [--peer-seconds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from ragtune.serve.testing import serve_process

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

TARGET_SEARCH_P99_MS = 100.0  # issue 12
HELPCENTER = common.REPO / "examples" / "helpcenter"


def questions() -> list[str]:
    return [r["question"] for r in common.read_jsonl(HELPCENTER / "eval.jsonl")]


def demo_kb() -> Path:
    """The demo KB (examples/helpcenter/docs), built once in benchmarks/.cache."""
    from ragtune import KnowledgeBase

    path = common.CACHE / "load-helpcenter" / ".ragtune"
    with KnowledgeBase.open(path, create=True, settings=common.settings()) as kb:
        kb.ingest([HELPCENTER / "docs"])
    return path


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


@contextmanager
def server(kb: Path, keys: Path | None, workdir: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "ragtune.cli.main", "serve", "--kb", str(kb), "--port", str(port)]
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("RAGTUNE_") or k in ("RAGTUNE_HOME", "RAGTUNE_CACHE")
    }
    env["RAGTUNE_HOME"] = str(workdir / ("home-keys" if keys else "home-open"))  # no stray key file for the open one
    if keys is not None:
        cmd += ["--keys", str(keys)]
    url = f"http://127.0.0.1:{port}"
    with serve_process(cmd, url, cwd=workdir, env=env, log=workdir / f"serve-{port}.log") as proc:
        yield url, proc


def run_load(
    call: Callable[[Any, str], None], make_session: Callable[[], Any], clients: int, seconds: float, qs: list[str]
) -> dict[str, Any]:
    """``clients`` threads calling ``call(session, question)`` back to back for ``seconds``."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[list[str]] = [[] for _ in range(clients)]
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def worker(i: int) -> None:
        session = make_session()
        n = i
        start.wait()
        while time.perf_counter() < stop_at[0]:
            q = qs[n % len(qs)]
            n += clients
            t = time.perf_counter()
            try:
                call(session, q)
            except Exception as exc:
                errors[i].append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            latencies[i].append((time.perf_counter() - t) * 1000)
        close = getattr(session, "close", None)
        if close is not None:
            close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    start.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    flat = [x for per in latencies for x in per]
    errs = [e for per in errors for e in per]
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": len(flat),
        "errors": len(errs),
        "error_samples": errs[:5],
        "throughput_rps": round(len(flat) / elapsed, 1),
        "p50_ms": round(common.percentile(flat, 50), 1),
        "p95_ms": round(common.percentile(flat, 95), 1),
        "p99_ms": round(common.percentile(flat, 99), 1),
        "max_ms": round(max(flat), 1) if flat else None,
    }


def http_session(url: str, key: str | None) -> Callable[[], httpx.Client]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return lambda: httpx.Client(base_url=url, headers=headers, timeout=30)


def search_call(session: httpx.Client, q: str) -> None:
    r = session.post("/v1/search", json={"query": q, "k": 10})
    if r.status_code != 200 or not r.json()["results"]:
        raise RuntimeError(f"HTTP {r.status_code}: {r.text[:120]}")


def chat_call(session: httpx.Client, q: str) -> None:
    body = {"model": "rag-extractive", "messages": [{"role": "user", "content": q}]}
    r = session.post("/v1/chat/completions", json=body)
    if r.status_code != 200 or "choices" not in r.json():
        raise RuntimeError(f"HTTP {r.status_code}: {r.text[:120]}")


def warm(url: str, key: str | None, qs: list[str]) -> None:
    c = http_session(url, key)()
    for q in qs[:20]:
        search_call(c, q)
        chat_call(c, q)
    c.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--peer-seconds", type=float, default=20.0)
    args = ap.parse_args()

    from ragtune import KnowledgeBase
    from ragtune.serve.keys import KeyStore

    kb_dir, qs = demo_kb(), questions()
    rows: list[dict[str, Any]] = []
    memory: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="ragtune-load-") as tmp:
        work = Path(tmp)
        store = KeyStore(work / "keys.json")
        _, key = store.create("load", "reader")
        with server(kb_dir, store.path, work) as (url, proc):
            warm(url, key, qs)
            memory["server_rss_mb_before"] = rss_mb(proc.pid)
            for route, call in (("/v1/search", search_call), ("/v1/chat/completions rag-extractive", chat_call)):
                res = run_load(call, http_session(url, key), args.clients, args.seconds, qs)
                rows.append({"what": f"ragtune serve, with a key: {route}", "route": route, "auth": True, **res})
                print(json.dumps(rows[-1]))
            memory["server_rss_mb_after"] = rss_mb(proc.pid)
        with server(kb_dir, None, work) as (url, proc):
            warm(url, None, qs)
            res = run_load(search_call, http_session(url, None), args.clients, args.peer_seconds, qs)
            rows.append(
                {"what": "peer: ragtune serve without keys: /v1/search", "route": "/v1/search", "auth": False, **res}
            )
            print(json.dumps(rows[-1]))
    with KnowledgeBase.open(kb_dir, settings=common.settings()) as kb:
        for q in qs[:20]:
            kb.search(q, k=10)

        def lib_call(_: Any, q: str) -> None:
            if not kb.search(q, k=10):
                raise RuntimeError("no passages")

        res = run_load(lib_call, lambda: None, args.clients, args.peer_seconds, qs)
        rows.append(
            {"what": "peer: KnowledgeBase.search in process (no HTTP)", "route": "library", "auth": False, **res}
        )
        print(json.dumps(rows[-1]))
        chunks = kb.status()["chunks"]
    search = rows[0]
    common.write_result(
        "load",
        {
            "kb": {"path": "examples/helpcenter/docs", "chunks": chunks},
            "queries": len(qs),
            "rows": rows,
            **memory,
            "target_search_p99_ms": TARGET_SEARCH_P99_MS,
            "errors_total": sum(r["errors"] for r in rows),
            "met": search["p99_ms"] < TARGET_SEARCH_P99_MS and all(r["errors"] == 0 for r in rows),
        },
        command=f".venv/bin/python benchmarks/load.py {' '.join(sys.argv[1:])}".strip(),
    )


if __name__ == "__main__":
    main()
