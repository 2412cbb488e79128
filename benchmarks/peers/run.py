"""Peers side by side on SciFact: LlamaIndex, LangChain, txtai, the plain reference pipeline and ragtune.

Every peer runs in a fresh process of its own (its own virtual environment for the three libraries, created
here on first use under ``benchmarks/.cache/peers/<peer>/venv`` from ``benchmarks/peers/<peer>/requirements.txt``,
torch 2.13.0 CPU installed first), one after another, with the same embedding model (the bundled
all-MiniLM-L6-v2 directory, passed as a local path; nothing is downloaded) and the same texts (title + abstract
of each SciFact document). The measuring part of each peer holds /tmp/BENCH_RUNNING (the shared machine's timing
lock). nDCG@10 is computed here, by ``benchmarks/metrics.py``, from the ranked document ids each peer returns.

    .venv/bin/python benchmarks/peers/run.py [--peers llamaindex,langchain,txtai,reference,ragtune] [--queries N]

``--setup`` only creates the virtual environments. Results: ``benchmarks/results/peers.json`` (rows of peers not
run this time are kept from the previous file, with their own date), then ``benchmarks/report.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from readings import LIBRARY_PEERS, merge_rows, readings

import common

HERE = Path(__file__).resolve().parent
PEERS = ["llamaindex", "langchain", "txtai", "reference", "ragtune", "ragtune_search"]
OWN_VENV = set(LIBRARY_PEERS)  # the others run in ragtune's own venv
TORCH = "torch==2.13.0"
CACHE = common.CACHE / "peers"
LOCK = Path("/tmp/BENCH_RUNNING")
FREEZE = Path("/tmp/exp/freeze.sh")
RUN_TIMEOUT_S = 12 * 60  # the lock is held for at most ~12 minutes at a time
MARK = "PEER_RESULT "


def log(msg: str) -> None:
    print(f"[peers] {msg}", flush=True)


# -- virtual environments --------------------------------------------------------------------------


def requirements(peer: str) -> Path:
    return HERE / peer / "requirements.txt"


def venv_python(peer: str) -> Path:
    if peer not in OWN_VENV:
        return Path(sys.executable)
    return CACHE / peer / "venv" / "bin" / "python"


def ensure_venv(peer: str) -> Path:
    """The peer's interpreter; its venv is created first (recreated when the requirements changed, completed
    when an earlier install was interrupted). One process at a time per venv (a file lock)."""
    python = venv_python(peer)
    if peer not in OWN_VENV:
        return python
    req = requirements(peer)
    if not req.exists():
        raise SystemExit(f"{req}: missing requirements file for peer {peer!r}")
    digest = hashlib.sha256((TORCH + "\n" + req.read_text(encoding="utf-8")).encode()).hexdigest()
    venv = CACHE / peer / "venv"
    stamp = venv / ".peer-requirements.sha256"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with (venv.parent / ".setup.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if python.exists() and stamp.exists() and stamp.read_text().strip() == digest:
            return python
        if stamp.exists() or not python.exists():  # requirements changed, or nothing there yet
            log(f"{peer}: creating {venv.relative_to(common.REPO)} (pip installs run at nice 19)")
            shutil.rmtree(venv, ignore_errors=True)
            base = getattr(sys, "_base_executable", sys.executable)
            subprocess.run([base, "-m", "venv", str(venv)], check=True)
        else:
            log(f"{peer}: completing an interrupted install in {venv.relative_to(common.REPO)}")
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        nice = ["nice", "-n", "19"]
        # torch first, pinned, so that no dependency resolves it to a CUDA build.
        subprocess.run([*nice, *pip, TORCH], check=True)
        subprocess.run([*nice, *pip, "-r", str(req), TORCH], check=True)
        version = subprocess.run(
            [str(python), "-c", "import torch; print(torch.__version__)"], check=True, capture_output=True, text=True
        ).stdout.strip()
        if "+cu" in version or not version:
            raise SystemExit(f"{venv}: torch {version!r} is not the CPU build; remove the venv and check pip's indexes")
        stamp.write_text(digest + "\n")
    return python


# -- the timing lock -------------------------------------------------------------------------------


@contextlib.contextmanager
def bench_lock(name: str, enabled: bool = True) -> Iterator[None]:
    """Hold /tmp/BENCH_RUNNING (waiting for others to release it) with everyone's nice-19 jobs paused."""
    if not enabled:
        yield
        return
    waited = False
    while True:
        try:
            fd = os.open(LOCK, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            if not waited:
                log(f"waiting for {LOCK} ({LOCK.read_text(errors='replace').strip() if LOCK.exists() else ''})")
                waited = True
            time.sleep(2)
    try:
        os.write(fd, f"{name} (pid {os.getpid()})\n".encode())
        os.close(fd)
        if FREEZE.exists():
            subprocess.run([str(FREEZE), "stop"], check=False)
        yield
    finally:
        if FREEZE.exists():
            subprocess.run([str(FREEZE), "cont"], check=False)
        with contextlib.suppress(FileNotFoundError):
            LOCK.unlink()


# -- one peer --------------------------------------------------------------------------------------


def peer_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGTUNE_") or k == "RAGTUNE_HOME"}
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        PYTHONUNBUFFERED="1",
    )
    env.pop("PYTHONPATH", None)
    return env


def run_peer(
    peer: str, python: Path, model: str, corpus: Path, queries_file: Path, k: int, warmup: int, lock: bool
) -> dict:
    work = CACHE / "work" / peer
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    cmd = [
        str(python),
        str(HERE / peer / "peer.py"),
        "--model",
        model,
        "--corpus",
        str(corpus),
        "--queries",
        str(queries_file),
        "--k",
        str(k),
        "--warmup",
        str(warmup),
        "--workdir",
        str(work),
    ]
    with bench_lock(f"peers benchmark: {peer}", lock):
        spawn = time.time()
        proc = subprocess.run(
            cmd, cwd=work, env=peer_env(), capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False
        )
        wall = time.time() - spawn
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"{peer}: peer script failed (exit {proc.returncode}); output above")
    res = json.loads(lines[-1][len(MARK) :])
    marks = res.pop("marks")  # wall-clock instants inside the peer process
    res["process_wall_s"] = wall
    res["imports_s"] = marks["imports"] - spawn
    res["ingest_to_first_answer_s"] = marks["first_answer"] - spawn
    shutil.rmtree(work, ignore_errors=True)
    return res


def query_set(n: int) -> tuple[list[tuple[str, str]], dict[str, dict[str, int]]]:
    """SciFact test queries (all, or a fixed random sample of ``n``) and their qrels."""
    queries, qrels = common.scifact_queries("test")
    items = sorted(queries.items())
    if n and n < len(items):
        items = sorted(random.Random(0).sample(items, n))
    keep = {q for q, _ in items}
    return items, {q: r for q, r in qrels.items() if q in keep}


def corpus_file(n_docs: int, qrels: dict[str, dict[str, int]]) -> tuple[Path, int]:
    """The SciFact corpus, or (``n_docs`` > 0) a fixed subset: every document judged for the queries run plus a
    seeded random sample of the others, up to ``n_docs``, in corpus order. Returns (path, documents)."""
    full = common.scifact_dir() / "corpus.jsonl"
    lines = [ln for ln in full.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if not n_docs or n_docs >= len(lines):
        return full, len(lines)
    judged = {d for rels in qrels.values() for d in rels}
    ids = [str(json.loads(ln)["_id"]) for ln in lines]
    keep = {i for i, d in enumerate(ids) if d in judged}
    others = [i for i in range(len(ids)) if i not in keep]
    keep |= set(random.Random(0).sample(others, max(0, min(len(others), n_docs - len(keep)))))
    path = CACHE / f"corpus_{n_docs}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines[i] + "\n" for i in sorted(keep)), encoding="utf-8")
    return path, len(keep)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peers", default=",".join(PEERS), help="comma-separated, from: " + ", ".join(PEERS))
    ap.add_argument("--queries", type=int, default=0, help="a fixed random sample of N test queries (0: all 300)")
    ap.add_argument(
        "--docs",
        type=int,
        default=0,
        help="index a fixed subset of N documents (every judged one + a seeded sample; 0: all 5,183)",
    )
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=20, help="untimed queries before the timed pass")
    ap.add_argument("--setup", action="store_true", help="only create the peers' virtual environments")
    ap.add_argument("--no-lock", action="store_true", help="do not take /tmp/BENCH_RUNNING (figures unreliable)")
    args = ap.parse_args()
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        raise SystemExit(f"--peers: unknown peer(s) {unknown}; choose from {PEERS}")
    common.scifact_dir()

    pythons = {p: ensure_venv(p) for p in peers}  # all installs first, outside the lock
    if args.setup:
        log("virtual environments ready: " + ", ".join(f"{p}={pythons[p]}" for p in peers))
        return

    from metrics import evaluate
    from ragtune.embed.base import resolve_model_path

    model = resolve_model_path("all-MiniLM-L6-v2")
    items, qrels = query_set(args.queries)
    CACHE.mkdir(parents=True, exist_ok=True)
    queries_file = CACHE / "queries.json"
    queries_file.write_text(json.dumps(items), encoding="utf-8")
    corpus, n_docs = corpus_file(args.docs, qrels)
    log(f"{len(items)} queries, {n_docs} documents ({corpus.name}), model {model}")

    date = time.strftime("%Y-%m-%d %H:%M %Z")
    new_rows = []
    for peer in peers:
        log(f"{peer}: running")
        res = run_peer(peer, pythons[peer], model, corpus, queries_file, args.k, args.warmup, not args.no_lock)
        runs = res.pop("runs")
        res["ndcg@10"] = evaluate(runs, qrels, 10, 100)["ndcg@10"]
        if "runs_as_searched" in res:  # ragtune: the ranking of the k passages a user gets, by document
            res["ndcg@10_k_passages"] = evaluate(res.pop("runs_as_searched"), qrels, 10, 100)["ndcg@10"]
        res.update(peer=peer, date=date, queries=len(items))
        log(
            f"{peer}: ingest {res['ingest_s']:.1f} s, to first answer {res['ingest_to_first_answer_s']:.1f} s, "
            f"p50 {res['p50_ms']:.2f} ms, p95 {res['p95_ms']:.2f} ms, nDCG@10 {res['ndcg@10']:.4f}, "
            f"peak RSS {res['peak_rss_mib']:.0f} MiB"
        )
        new_rows.append(res)

    prev_path = common.RESULTS / "peers.json"
    prev = json.loads(prev_path.read_text(encoding="utf-8")) if prev_path.exists() else {}
    rows = merge_rows(prev.get("rows", []), new_rows, PEERS)
    print(
        common.table(
            ["peer", "ingest s", "to first answer s", "p50 ms", "p95 ms", "nDCG@10", "peak RSS MiB", "date"],
            [
                [
                    r["peer"],
                    r["ingest_s"],
                    r["ingest_to_first_answer_s"],
                    r["p50_ms"],
                    r["p95_ms"],
                    r["ndcg@10"],
                    r["peak_rss_mib"],
                    r["date"],
                ]
                for r in rows
            ],
        )
    )
    command = ".venv/bin/python benchmarks/peers/run.py " + " ".join(sys.argv[1:])
    common.write_result(
        "peers",
        {
            "k": args.k,
            "warmup": args.warmup,
            "queries": len(items),
            "corpus": "full"
            if corpus.name == "corpus.jsonl"
            else f"subset of {n_docs} documents (all judged + seeded sample)",
            "model": model,
            "rows": rows,
            "readings": readings(rows),
        },
        command=command.strip(),
    )


if __name__ == "__main__":
    main()
