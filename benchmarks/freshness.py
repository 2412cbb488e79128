"""Freshness: how long from the start of an ingest of one edited document until search returns it.

In a copy of the SciFact KB (warm: index loaded, model loaded), each trial appends a sentence with a
made-up token to one document, writes it to a one-line JSONL file, calls ``kb.ingest`` on that file,
then searches (default mode, hybrid) for the token until the edited document comes back.

    .venv/bin/python benchmarks/freshness.py [--trials 10]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

TARGET_S = 1.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=10)
    args = ap.parse_args()
    from ragtune import KnowledgeBase

    base, _ = common.scifact_kb("scifact")
    base.close()
    path = common.CACHE / "freshness"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    src = sqlite3.connect(common.CACHE / "scifact" / "kb.sqlite")
    dst = sqlite3.connect(path / "kb.sqlite")
    src.backup(dst)
    src.close()
    dst.close()

    kb = KnowledgeBase.open(path, settings=common.settings())
    docs = list(common.read_jsonl(common.scifact_dir() / "corpus.jsonl"))
    rng = random.Random(7)
    kb.search("warm up", k=10)
    edit_dir = common.CACHE / "freshness_edits"
    edit_dir.mkdir(exist_ok=True)
    trials = []
    for i in range(args.trials):
        doc = rng.choice(docs)
        token = f"zorblax{i}q{rng.randrange(10**6)}"
        edited = {**doc, "text": doc["text"] + f" This abstract mentions the {token} compound."}
        f = edit_dir / f"edit{i}.jsonl"
        f.write_text(json.dumps(edited) + "\n", encoding="utf-8")
        t0 = time.perf_counter()
        rep = kb.ingest([f], id_field="_id", text_field="text", title_field="title")
        t1 = time.perf_counter()
        searches = 0
        found = False
        while time.perf_counter() - t0 < 10:
            searches += 1
            ps = kb.search(token, k=10)
            if any(p.doc_id == str(doc["_id"]) and token in p.text for p in ps):
                found = True
                break
        t2 = time.perf_counter()
        trials.append(
            {
                "doc_id": str(doc["_id"]),
                "ingest_s": t1 - t0,
                "first_search_ms": (t2 - t1) * 1000,
                "total_s": t2 - t0,
                "searches": searches,
                "found": found,
                "chunks_embedded": rep.chunks_embedded,
                "version": rep.version and rep.version.version,
            }
        )
        print(
            f"  trial {i}: ingest {t1 - t0:.3f} s + search {(t2 - t1) * 1000:.1f} ms = {t2 - t0:.3f} s"
            f" (found={found}, {rep.chunks_embedded} chunks embedded)",
            flush=True,
        )
    kb.close()
    totals = [t["total_s"] for t in trials]
    summary = {
        "p50_s": common.percentile(totals, 50),
        "max_s": max(totals),
        "min_s": min(totals),
        "ingest_p50_s": common.percentile([t["ingest_s"] for t in trials], 50),
        "search_p50_ms": common.percentile([t["first_search_ms"] for t in trials], 50),
        "all_found": all(t["found"] for t in trials),
    }
    print(
        common.table(
            ["trial", "doc", "ingest s", "search ms", "total s", "found"],
            [
                [i, t["doc_id"], t["ingest_s"], t["first_search_ms"], t["total_s"], t["found"]]
                for i, t in enumerate(trials)
            ],
        )
    )
    print(f"edit → searchable: p50 {summary['p50_s']:.3f} s, max {summary['max_s']:.3f} s (target ≤ {TARGET_S} s)")
    common.write_result(
        "freshness",
        {
            "trials": trials,
            **summary,
            "target_s": TARGET_S,
            "met": summary["all_found"] and summary["max_s"] <= TARGET_S,
        },
    )


if __name__ == "__main__":
    main()
