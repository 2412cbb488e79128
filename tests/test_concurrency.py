"""Two processes ingesting at once while readers search: no lock errors, no half-written documents.

A child process loads the model once and forks two writers and a reader; the test process runs two more
reader threads. Writer ``a`` owns folder ``a/``, writer ``b`` owns ``b/``, and both rewrite and ingest
``shared/`` (atomically, by rename), round after round. Every paragraph of a file carries the marker of the
round that wrote it (``GENa03X``), so a reader that sees two markers in one document at one version saw a
torn write.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import traceback
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from ragtune.config import Settings
from ragtune.embed import Embedder
from ragtune.knowledge_base import KnowledgeBase
from ragtune.search.lexical import BM25Index
from ragtune.search.passage import Passage

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("hermetic")]

ROUNDS = 4
MARKER = re.compile(r"GEN(\w+?)X")
SETTINGS = Settings().replace("chunking", max_tokens=48, overlap_tokens=0)
QUERY = "which component keeps which ledger and rotates its keys"

FOLDERS = {
    "a": [f"a{i:02d}" for i in range(8)],
    "b": [f"b{i:02d}" for i in range(8)],
    "shared": [f"s{i:02d}" for i in range(6)],
}


def paragraph(name: str, j: int, gen: str) -> str:
    return (
        f"Paragraph {j} of {name}, generation GEN{gen}X: component {name}-{j} keeps ledger "
        f"{j * 97 + len(name)} and rotates its keys every {j + 3} days (GEN{gen}X)."
    )


def content(name: str, gen: str) -> str:
    return f"# Component {name}\n\n" + "\n\n".join(paragraph(name, j, gen) for j in range(3)) + "\n"


def write_atomic(path: Path, text: str) -> None:
    # Hidden (discovery skips it) and unique to this writer: two writers renaming one temporary name race each
    # other (the second rename finds the file gone), which is the harness failing, not the knowledge base.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# The child imports this module for the helpers above, so writers and test agree on file contents.
CHILD = r"""
import json, os, sys, time, traceback
from pathlib import Path
import torch
torch.set_num_threads(1)  # no OpenMP thread team in the parent, so forking it is safe
from ragtune.embed import load_embedder
from ragtune.knowledge_base import KnowledgeBase
from test_concurrency import FOLDERS, MARKER, QUERY, SETTINGS as settings, content, write_atomic

root, kb_path, stop, rounds = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
embedder = load_embedder()
embedder.embed(["warm up"])
print("ready", flush=True)
sys.stdin.readline()

def writer(name):
    kb = KnowledgeBase.open(kb_path, create=True, settings=settings, embedder=embedder)
    for r in range(1, rounds + 1):
        for stem in FOLDERS[name]:
            write_atomic(root / name / f"{stem}.md", content(stem, f"{name}{r:02d}"))
        for stem in FOLDERS["shared"]:
            write_atomic(root / "shared" / f"{stem}.md", content(stem, f"{name}{r:02d}"))
        report = kb.ingest([root / name, root / "shared"])
        assert not report.errors, report.errors

def reader():
    kb = KnowledgeBase.open(kb_path, settings=settings, embedder=embedder)
    last, n = 0, 0
    while not stop.exists():
        hits = kb.search(QUERY, k=80)
        if hits:
            assert len({p.version for p in hits}) == 1
            assert hits[0].version >= last, (hits[0].version, last)
            last = hits[0].version
            per_doc = {}
            for p in hits:
                per_doc.setdefault(p.doc_id, set()).update(MARKER.findall(p.text))
            torn = {d: m for d, m in per_doc.items() if len(m) != 1}
            assert not torn, torn
        n += 1
    print("reader " + json.dumps({"searches": n, "last_version": last}), flush=True)

roles = {"a": lambda: writer("a"), "b": lambda: writer("b"), "reader": reader}
pids = {}
for role, fn in roles.items():
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            fn()
        except BaseException:
            traceback.print_exc()
            code = 3
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    pids[role] = pid
status = {}
for role in ("a", "b"):
    status[role] = os.waitstatus_to_exitcode(os.waitpid(pids[role], 0)[1])
stop.touch()
status["reader"] = os.waitstatus_to_exitcode(os.waitpid(pids["reader"], 0)[1])
print("status " + json.dumps(status), flush=True)
"""


def generation(passages: list[Passage] | list[dict[str, object]]) -> set[str]:
    found: set[str] = set()
    for p in passages:
        found.update(MARKER.findall(p.text if isinstance(p, Passage) else str(p["text"])))
    return found


class Reader(threading.Thread):
    """Searches in a loop until stopped; records what it saw and any exception."""

    def __init__(self, kb: KnowledgeBase, mode: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.kb, self.mode, self.stop = kb, mode, stop
        self.error: str | None = None  # the traceback of what went wrong
        self.versions: list[int] = []
        self.checked_documents = 0

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.check_once()
        except BaseException:
            self.error = traceback.format_exc()

    def check_once(self) -> None:
        hits = self.kb.search(QUERY, k=80, mode=self.mode)
        if not hits:
            return
        version = hits[0].version
        assert {p.version for p in hits} == {version}
        assert not self.versions or version >= self.versions[-1], (version, self.versions[-1])
        self.versions.append(version)
        by_doc: dict[str, list[Passage]] = defaultdict(list)
        for p in hits:
            by_doc[p.doc_id].append(p)
        for doc_id, passages in by_doc.items():
            assert len({p.revision_id for p in passages}) == 1, doc_id
            assert len(generation(passages)) == 1, (doc_id, version, generation(passages))
        # And one whole document, as it was at that version.
        doc_id = sorted(by_doc)[len(self.versions) % len(by_doc)]
        info, chunks = self.kb.document(doc_id, at=version)
        assert info.revision_id == by_doc[doc_id][0].revision_id
        assert len(chunks) == 3 and len(generation(chunks)) == 1, (doc_id, version)
        self.checked_documents += 1


def test_two_writers_and_readers_never_see_a_torn_document(
    tmp_path: Path, embedder: Embedder, subprocess_env: dict[str, str]
) -> None:
    root = tmp_path / "docs"
    for folder, stems in FOLDERS.items():
        (root / folder).mkdir(parents=True)
        for stem in stems:
            write_atomic(root / folder / f"{stem}.md", content(stem, "init"))
    kb_path = tmp_path / "kb"
    kb = KnowledgeBase.open(kb_path, create=True, settings=SETTINGS, embedder=embedder)
    assert kb.ingest([root / "a", root / "b", root / "shared"]).version is not None

    log = tmp_path / "child.log"
    with log.open("w") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(root), str(kb_path), str(tmp_path / "stop"), str(ROUNDS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**subprocess_env, "PYTHONPATH": str(Path(__file__).parent)},
        )
        try:
            assert child.stdout is not None and child.stdin is not None
            assert child.stdout.readline().strip() == "ready", log.read_text()
            stop = threading.Event()
            readers = [Reader(kb, "hybrid", stop), Reader(kb, "lexical", stop)]
            for r in readers:
                r.start()
            child.stdin.write("go\n")
            child.stdin.flush()
            lines = child.stdout.read().splitlines()
            stop.set()
            for r in readers:
                r.join(60)
            assert child.wait(60) == 0
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()

    errors = log.read_text()
    assert "Traceback" not in errors and "locked" not in errors, errors
    status = json.loads(next(line for line in lines if line.startswith("status "))[len("status ") :])
    assert status == {"a": 0, "b": 0, "reader": 0}, errors
    seen = json.loads(next(line for line in lines if line.startswith("reader "))[len("reader ") :])
    assert seen["searches"] > 0

    for r in readers:
        assert r.error is None, f"{r.mode} reader:\n{r.error}"
        assert not r.is_alive()
        assert r.versions and r.checked_documents > 0
    assert len({v for r in readers for v in r.versions}) > 1, "the readers never saw a new version"
    print(
        f"readers: process {seen}; threads "
        + ", ".join(f"{r.mode} {len(r.versions)} searches over {len(set(r.versions))} versions" for r in readers)
    )

    # Final state: sound, every version a whole one, and the files' latest contents one ingest away.
    db = kb.store._db
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    counts = kb.store.counts(embedder.id)
    assert counts["chunks"] == counts["fts"] == counts["vectors"]
    assert [v.version for v in kb.versions()] == list(range(1, kb.head + 1))
    assert kb.head >= 1 + ROUNDS  # writer a changes its own files every round
    kb.ingest([root / "a", root / "b", root / "shared"])
    for folder, stems in FOLDERS.items():
        for stem in stems:
            on_disk = generation([{"text": (root / folder / f"{stem}.md").read_text()}])
            assert generation(kb.document(f"{stem}.md")[1]) == on_disk, stem
    assert kb.ingest([root / "a", root / "b", root / "shared"]).version is None
    kb.close()


def test_lexical_search_ignores_positions_indexed_after_its_mask_was_taken() -> None:
    # What a reader thread meets when another thread syncs new chunks into the index between the
    # retriever sizing its mask and the BM25 leg running.
    index = BM25Index()
    index.add(["alpha beta", "beta gamma", "gamma delta"])
    allowed = np.array([True, True, False])
    index.add(["beta beta alpha", "alpha", "brand new term"])
    positions, scores = index.search("alpha beta new", allowed, n_live=2, avg_len=2.0, k=10)
    assert sorted(positions.tolist()) == [0, 1]
    assert np.all(scores > 0)
