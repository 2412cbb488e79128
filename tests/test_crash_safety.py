"""A killed ingest leaves every document wholly at its old or its new revision, and re-running finishes it.

An ingest runs in a child process that is SIGKILLed at a random moment, at least 20 times. Loading the
model costs seconds, so the child is a small fork server: it loads the model once, and forks one worker
per ingest, which is the process that gets killed. Its embedding batch is made small so that writes are
spread over the whole ingest rather than bunched at its end.

Every paragraph of a generated file carries its generation's marker (``GEN0007X``), so a document whose
live passages carry two markers, or a marker of neither its old nor its new content, was torn.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragtune.config import Settings
from ragtune.embed import Embedder
from ragtune.knowledge_base import KnowledgeBase

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("hermetic")]

N_FILES = 30
PARAGRAPHS = 3
# Short chunks (one per paragraph) keep an ingest near two seconds on a small CPU.
SETTINGS = Settings().replace("chunking", max_tokens=48, overlap_tokens=0)
MIN_KILLS = 20
MAX_ROUNDS = 60
MARKER = re.compile(r"GEN(\d{4})X")

SERVER = r"""
import os, sys, time, traceback
import torch
torch.set_num_threads(1)  # no OpenMP thread team in the server, so forking it is safe
from ragtune.config import Settings
from ragtune.embed import load_embedder
from ragtune.knowledge_base import KnowledgeBase
import ragtune.kb.ingest

ragtune.kb.ingest.EMBED_BATCH = 8  # write documents throughout the ingest, not all at its end
kb_path, docs = sys.argv[1], sys.argv[2]
embedder = load_embedder()
embedder.embed(["warm up"])
print("ready", flush=True)
started = {}
for line in sys.stdin:
    cmd, *args = line.split()
    if cmd == "go":
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                settings = Settings().replace("chunking", max_tokens=48, overlap_tokens=0)
                kb = KnowledgeBase.open(kb_path, create=True, settings=settings, embedder=embedder)
                kb.ingest([docs])
            except BaseException:
                traceback.print_exc()
                code = 3
            finally:
                sys.stderr.flush()
                os._exit(code)
        started[pid] = time.perf_counter()
        print(f"pid {pid}", flush=True)
    elif cmd == "wait":
        pid = int(args[0])
        _, status = os.waitpid(pid, 0)
        print(f"status {status} {time.perf_counter() - started.pop(pid):.3f}", flush=True)
"""


def paragraph(name: str, j: int, gen: int) -> str:
    return (
        f"Paragraph {j} of {name}, generation GEN{gen:04d}X: component {name}-{j} keeps ledger "
        f"{j * 97 + len(name)} and rotates its keys every {j + 3} days (GEN{gen:04d}X)."
    )


def content(name: str, gen: int) -> str:
    return f"# Component {name}\n\n" + "\n\n".join(paragraph(name, j, gen) for j in range(PARAGRAPHS)) + "\n"


def doc_ids() -> list[str]:
    return [f"c{i:02d}.md" for i in range(N_FILES)]


def write_generation(docs: Path, gens: dict[str, int]) -> None:
    for doc_id, gen in gens.items():
        (docs / doc_id).write_text(content(doc_id.removesuffix(".md"), gen), encoding="utf-8")


class ForkServer:
    """The child process: ``start()`` forks an ingest worker, ``wait()`` reaps it and says how it ended."""

    def __init__(self, kb_path: Path, docs: Path, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._stderr = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(kb_path), str(docs)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=env,
        )
        assert self._read() == "ready"

    def _read(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"fork server died (rc={self.proc.poll()}):\n{self.log.read_text()}"
        return line.strip()

    def _send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def start(self) -> int:
        self._send("go")
        kind, pid = self._read().split()
        assert kind == "pid"
        return int(pid)

    def wait(self, pid: int) -> tuple[int, float]:
        """(raw wait status, seconds since the worker was forked)."""
        self._send(f"wait {pid}")
        kind, status, seconds = self._read().split()
        assert kind == "status"
        return int(status), float(seconds)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self._stderr.close()


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def wait_gone(pids: list[int], timeout: float = 10.0) -> list[int]:
    """The pids still running after ``timeout`` (zombies count as gone)."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":
                alive.append(pid)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def check_store(kb: KnowledgeBase, embedder_id: str) -> None:
    """The store is sound: SQLite and FTS integrity, counts agree, every revision written whole."""
    db = kb.store._db
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")  # raises when corrupt
    counts = kb.store.counts(embedder_id)
    assert counts["chunks"] == counts["fts"] == counts["vectors"], counts
    unembedded = db.execute(
        "SELECT COUNT(*) FROM passages p WHERE NOT EXISTS "
        "(SELECT 1 FROM embeddings e WHERE e.chunk_id = p.chunk_id AND e.embedder = ?)",
        (embedder_id,),
    ).fetchone()[0]
    assert unembedded == 0
    torn = db.execute(
        "SELECT r.doc_id, r.n_chunks, COUNT(p.id) FROM revisions r LEFT JOIN passages p ON p.revision_id = r.id "
        "GROUP BY r.id HAVING COUNT(p.id) != r.n_chunks"
    ).fetchall()
    assert torn == [], f"revisions missing passages: {torn}"


def live_generation(kb: KnowledgeBase, doc_id: str) -> int:
    """The one generation all of a document's live passages carry (fails on a torn document)."""
    _, passages = kb.document(doc_id)
    found = [set(MARKER.findall(p["text"])) for p in passages]
    assert passages and all(found), f"{doc_id}: a passage without a generation marker"
    gens = set().union(*found)
    assert len(gens) == 1, f"{doc_id} is torn between generations {sorted(gens)}"
    gen = int(gens.pop())
    joined = " ".join(" ".join(p["text"].split()) for p in passages)
    for j in range(PARAGRAPHS):
        assert paragraph(doc_id.removesuffix(".md"), j, gen) in joined, f"{doc_id}: paragraph {j} missing"
    return gen


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    return docs


@pytest.fixture
def server(tmp_path: Path, corpus: Path, subprocess_env: dict[str, str]) -> Iterator[ForkServer]:
    srv = ForkServer(tmp_path / "kb", corpus, subprocess_env, tmp_path / "server.log")
    yield srv
    srv.close()


def test_killed_ingests_leave_whole_documents_and_can_be_finished(
    tmp_path: Path, corpus: Path, server: ForkServer, embedder: Embedder
) -> None:
    rng = random.Random(20240611)
    ids = doc_ids()
    gens = dict.fromkeys(ids, 0)
    write_generation(corpus, gens)
    kb = KnowledgeBase.open(tmp_path / "kb", create=True, settings=SETTINGS, embedder=embedder)
    assert kb.ingest([corpus]).version is not None

    # One full ingest in a worker, to learn how long one takes.
    gens = dict.fromkeys(ids, 1)
    write_generation(corpus, gens)
    pid = server.start()
    status, duration = server.wait(pid)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, server.log.read_text()
    assert kb.head == 2 and all(live_generation(kb, d) == 1 for d in ids)

    kills = 0
    rounds = 0
    staged = 0  # kills that left written but uncommitted revisions behind (the interesting ones)
    while kills < MIN_KILLS:
        rounds += 1
        assert rounds <= MAX_ROUNDS, f"only {kills} kills landed mid-ingest in {MAX_ROUNDS} rounds"
        old = dict(gens)
        changed = rng.sample(ids, rng.randint(2 * N_FILES // 3, N_FILES))
        gens.update({d: 2 + rounds for d in changed})
        write_generation(corpus, {d: gens[d] for d in changed})
        head = kb.head
        revisions = kb.store.counts()["revisions"]

        pid = server.start()
        time.sleep(rng.uniform(0.0, duration))
        loader_workers = children(pid)
        os.kill(pid, signal.SIGKILL)
        status, _ = server.wait(pid)
        if os.WIFSIGNALED(status):
            assert os.WTERMSIG(status) == signal.SIGKILL
            kills += 1
        else:
            assert os.WEXITSTATUS(status) == 0, server.log.read_text()
        assert wait_gone(loader_workers) == [], "a killed ingest left its loader worker running"

        # What the kill left: a sound store, each document wholly old or wholly new.
        check_store(kb, embedder.id)
        assert kb.head in (head, head + 1)
        committed = kb.head == head + 1
        live = {d: live_generation(kb, d) for d in ids}
        assert all(live[d] in (old[d], gens[d]) for d in ids), live
        assert live == (gens if committed else old)  # one commit makes the whole ingest live

        # Running the ingest again finishes the job, reusing what the killed one stored.
        before = kb.store.counts(embedder.id)
        staged += not committed and before["revisions"] > revisions
        report = kb.ingest([corpus])
        assert not report.errors
        after = kb.store.counts(embedder.id)
        assert report.chunks_embedded == after["chunks"] - before["chunks"]
        assert (report.version is None) == committed
        assert kb.head == head + 1
        assert {d: live_generation(kb, d) for d in ids} == gens
        check_store(kb, embedder.id)
        again = kb.ingest([corpus])
        assert again.version is None and again.chunks_written == again.chunks_embedded == 0

    print(f"one ingest: {duration:.2f} s; {kills} kills mid-ingest ({staged} mid-write) in {rounds} rounds")
    assert staged >= 5, "too few kills landed while documents were being written"
    assert server.log.read_text().count("Traceback") == 0, server.log.read_text()
    assert len(kb.versions()) == kb.head == 2 + rounds
    kb.close()
