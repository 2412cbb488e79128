"""The ``ragtune`` command end to end, through real subprocesses.

Every call that ingests, searches or answers loads the embedding model (seconds), so the commands that
need it run in one scenario (five model loads); commands that only read the store get their own tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.usefixtures("hermetic")

CORPUS = {
    "billing/plans.md": "# Plans\n\nThe Team plan costs 49 dollars per month and includes ten seats.\n",
    "billing/refunds.md": "# Refunds\n\nRefunds are issued within 14 days of a cancelled subscription.\n",
    "guides/setup.md": "# Setup\n\nInstall the desktop agent, then sign in with your workspace address.\n",
}
PLANS_V2 = "# Plans\n\nThe Team plan costs 59 dollars per month and includes twelve seats.\n"
REFUNDS_V2 = "# Refunds\n\nRefunds are issued within 30 calendar days of a cancelled subscription.\n"
SEARCH_KEYS = {"rank", "doc_id", "chunk_id", "score", "source", "text"}


class CLI:
    """Runs ``python -m ragtune.cli.main ARGS --kb KB`` in a scratch directory."""

    def __init__(self, cwd: Path, kb: Path, env: dict[str, str]) -> None:
        self.cwd, self.kb, self.env = cwd, kb, env

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "ragtune.cli.main", *args, "--kb", str(self.kb)]

    def run(self, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(self.argv(*args), cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == code, f"ragtune {' '.join(args)} → {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc

    def json(self, *args: str, code: int = 0) -> Any:
        return json.loads(self.run(*args, "--json", code=code).stdout)

    def fails(self, *args: str, code: int = 2) -> str:
        """The error a failing command prints: one line, no stack trace."""
        proc = self.run(*args, code=code)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        return lines[0]


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    for rel, text in CORPUS.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def cli(tmp_path: Path, subprocess_env: dict[str, str]) -> CLI:
    return CLI(tmp_path, tmp_path / "kb", subprocess_env)


def test_init_creates_once(cli: CLI) -> None:
    assert cli.json("init") == {"path": str(cli.kb), "created": True, "version": 0}
    assert (cli.kb / "kb.sqlite").exists()
    assert "Found existing" in cli.run("init").stdout
    assert cli.json("kb", "status")["version"] == 0
    assert "No versions yet" in cli.run("kb", "log").stdout


def test_errors_are_one_clear_line(cli: CLI) -> None:
    assert "no knowledge base" in cli.fails("kb", "status")
    cli.run("init")
    # None of these need the model: the version is checked before anything is loaded.
    assert "no version 99" in cli.fails("search", "anything", "--at", "99")
    assert "no version" in cli.fails("kb", "diff", "1", "3")
    assert "nope.md" in cli.fails("kb", "show", "nope.md")
    assert "nope.md" in cli.fails("rm", "nope.md")
    assert "psychic" in cli.run("search", "x", "--mode", "psychic", code=2).stderr  # click's usage error


def test_help_lists_every_command(cli: CLI) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ragtune.cli.main", "--help"], env=cli.env, capture_output=True, text=True
    ).stdout
    for command in ("init", "ingest", "rm", "search", "ask", "kb", "watch"):
        assert command in out
    out = subprocess.run(
        [sys.executable, "-m", "ragtune.cli.main", "kb", "--help"], env=cli.env, capture_output=True, text=True
    ).stdout
    for command in ("status", "log", "diff", "show", "rollback"):
        assert command in out


def test_end_to_end(cli: CLI, docs: Path) -> None:
    # ingest, human output, with a broken file: reported on stderr, exit code 1, the rest lands as v1
    (docs / "broken.pdf").write_bytes(b"this is not a PDF")
    proc = cli.run("ingest", str(docs), code=1)
    assert "3 added" in proc.stdout and "version 1" in proc.stdout
    assert "broken.pdf" in proc.stderr

    # an edit, --json, --allow-errors: exit 0, v2, the broken file still named
    (docs / "billing/plans.md").write_text(PLANS_V2, encoding="utf-8")
    report = cli.json("ingest", str(docs), "--allow-errors")
    assert report["version"] == 2
    assert report["updated"] == ["billing/plans.md"] and report["added"] == [] and report["unchanged"] == 2
    assert [Path(e["path"]).name for e in report["errors"]] == ["broken.pdf"]
    assert report["errors"][0]["reason"]
    assert report["chunks_written"] == report["chunks_embedded"] == 1

    # search --json --at: exactly the documented schema, from the KB as it was at v1
    result = cli.json("search", "How much does the Team plan cost?", "--k", "2", "--at", "1")
    assert set(result) == {"version", "results"} and result["version"] == 1
    assert len(result["results"]) == 2
    for i, hit in enumerate(result["results"], start=1):
        assert set(hit) == SEARCH_KEYS and hit["rank"] == i
        assert isinstance(hit["score"], float) and isinstance(hit["chunk_id"], str) and hit["chunk_id"]
    top = result["results"][0]
    assert top["doc_id"] == "billing/plans.md" and "49 dollars" in top["text"]
    assert "plans.md" in top["source"]

    # ask --json
    answer = cli.json("ask", "How much does the Team plan cost per month?")
    assert {"version", "answer", "citations", "timings_ms"} <= set(answer)
    assert answer["version"] == 2 and "59 dollars" in answer["answer"]
    assert answer["citations"], answer
    for c in answer["citations"]:
        assert {"n", "doc_id", "source", "text"} <= set(c)
        assert isinstance(c["n"], int) and c["n"] >= 1
    assert answer["citations"][0]["doc_id"] == "billing/plans.md"
    assert {"retrieve", "generate", "total"} <= set(answer["timings_ms"])

    # kb status / log / diff / show (no model needed)
    status = cli.json("kb", "status")
    assert (status["version"], status["documents"]) == (2, 3)
    assert status["chunks"] == status["vectors"] == 4
    log = cli.json("kb", "log")
    assert [(v["version"], v["operation"], v["updated"]) for v in log] == [(2, "ingest", 1), (1, "ingest", 0)]
    human_log = cli.run("kb", "log").stdout.splitlines()
    assert human_log[0].startswith("v2") and human_log[1].startswith("v1")
    assert cli.json("kb", "diff", "1", "2") == {
        "a": 1,
        "b": 2,
        "added": [],
        "removed": [],
        "changed": ["billing/plans.md"],
    }
    assert "~ billing/plans.md" in cli.run("kb", "diff", "1", "2").stdout
    shown = cli.json("kb", "show", "billing/plans.md")
    assert shown["doc_id"] == "billing/plans.md" and "59 dollars" in shown["chunks"][0]["text"]
    assert [span[:2] for span in shown["history"]] == [[1, 2], [2, None]]
    assert "49 dollars" in cli.json("kb", "show", "billing/plans.md", "--at", "1")["chunks"][0]["text"]

    # rm → v3; the document is gone at head and still there at v2
    assert cli.json("rm", "guides/setup.md") == {"version": 3, "removed": ["guides/setup.md"]}
    assert "guides/setup.md" in cli.fails("kb", "show", "guides/setup.md")
    assert "desktop agent" in cli.json("kb", "show", "guides/setup.md", "--at", "2")["chunks"][0]["text"]

    # rollback → v4 equal to v2
    assert cli.json("kb", "rollback", "2") == {"version": 4, "rolled_back_to": 2}
    assert cli.json("kb", "diff", "2", "4") == {"a": 2, "b": 4, "added": [], "removed": [], "changed": []}
    assert "Already identical" in cli.run("kb", "rollback", "2").stdout

    # watch: picks up one edit, ingests it, exits
    (docs / "broken.pdf").unlink()
    watcher = subprocess.Popen(
        [*cli.argv("watch", str(docs), "--max-changes", "1", "--interval", "0.2")],
        cwd=cli.cwd,
        env={**cli.env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watcher.stdout is not None
        first = watcher.stdout.readline()  # the initial ingest's report
        assert "no changes, no new version" in first, first
        assert watcher.stdout.readline().startswith("Watching")
        time.sleep(1.0)  # let it take its first snapshot
        (docs / "billing/refunds.md").write_text(REFUNDS_V2, encoding="utf-8")
        out, err = watcher.communicate(timeout=120)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.communicate()
    assert watcher.returncode == 0, err
    assert "refunds.md" in out and "1 updated" in out and "version 5" in out
    assert "30 calendar days" in cli.json("kb", "show", "billing/refunds.md")["chunks"][0]["text"]
    assert "14 days" in cli.json("kb", "show", "billing/refunds.md", "--at", "4")["chunks"][0]["text"]


def test_acl_on_ingest_and_reading_as_groups(cli: CLI, docs: Path) -> None:
    (docs / "hr").mkdir()
    (docs / "hr" / "salaries.md").write_text("---\nacl: hr\n---\n# Salaries\n\nSalaries are reviewed in March.\n")
    cli.run("ingest", str(docs))  # salaries: hr only, from its front matter; the rest: everyone
    only_billing = ("--ignore", "guides/*", "--ignore", "hr/*")
    cli.run("ingest", str(docs), *only_billing, "--acl", "sales,finance")  # replaces: billing for two teams only
    assert cli.json("kb", "show", "billing/plans.md")["metadata"]["acl"] == ["finance", "sales"]
    assert "--acl: bad acl group name 'two words'" in cli.fails("ingest", str(docs), "--acl", "two words")

    found = cli.json("search", "salaries reviewed plan dollars", "--as-groups", "sales")["results"]
    assert {r["doc_id"] for r in found} == {"billing/plans.md", "billing/refunds.md", "guides/setup.md"}
    hr = cli.json("search", "salaries reviewed plan dollars", "--k", "3", "--as-groups", "hr", "--mode", "lexical")
    assert hr["results"][0]["doc_id"] == "hr/salaries.md"
    assert all(not r["doc_id"].startswith("billing/") for r in hr["results"])

    assert "no document 'hr/salaries.md'" in cli.fails("kb", "show", "hr/salaries.md", "--as-groups", "sales")
    assert [h[:2] for h in cli.json("kb", "show", "hr/salaries.md", "--as-groups", "hr")["history"]] == [[1, None]]
    # ops reads the public documents; billing's acl today closes billing at version 1 too (the current acl governs)
    log = cli.json("kb", "log", "--as-groups", "ops")
    assert [(v["version"], v["added"], v["updated"], v["removed"]) for v in log] == [(2, 0, 0, 0), (1, 1, 0, 0)]
    assert cli.json("kb", "diff", "1", "2", "--as-groups", "sales")["changed"] == [
        "billing/plans.md",
        "billing/refunds.md",
    ]
    assert cli.json("kb", "diff", "1", "2", "--text", "billing/plans.md")["diff"] == ""  # text unchanged: acl only


def test_training_data_leaves_restricted_documents_out_unless_asked(cli: CLI, docs: Path, tmp_path: Path) -> None:
    """A fine-tuned model can repeat its training text to anyone who may query it: by default only documents
    everyone may read become training data."""
    (docs / "hr").mkdir()
    (docs / "faq.md").write_text("# FAQ\n\n## How do I reset my password?\n\nUse the link on the sign-in page.\n")
    (docs / "hr" / "faq.md").write_text(
        "---\nacl: hr\n---\n# HR FAQ\n\n## How do I see my salary band?\n\nAsk the people team for the band sheet.\n"
    )
    cli.run("ingest", str(docs))
    default = cli.json("data", "build", "--out", str(tmp_path / "a.jsonl"))
    assert default["restricted_skipped"] == 1
    docs_used = {json.loads(line)["metadata"]["doc_id"] for line in (tmp_path / "a.jsonl").read_text().splitlines()}
    assert docs_used and not any(d.startswith("hr/") for d in docs_used)
    hr = cli.json("data", "build", "--out", str(tmp_path / "b.jsonl"), "--as-groups", "hr")
    every = cli.json("data", "build", "--out", str(tmp_path / "c.jsonl"), "--all-documents")
    assert hr["restricted_skipped"] == 0 == every["restricted_skipped"]
    assert "hr/faq.md" in (tmp_path / "c.jsonl").read_text() and every["examples"] > default["examples"]
    both = ("--as-groups", "hr", "--all-documents")
    assert "not both" in cli.fails("data", "build", "--out", str(tmp_path / "d.jsonl"), *both)
