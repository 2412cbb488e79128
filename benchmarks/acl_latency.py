"""Access control's cost at query time (issue 12): warm hybrid latency (k=10, query embedding included) on SciFact.

1. **Unrestricted callers pay nothing**: the SciFact KB searched by a trusted caller, with this tree's code and
   (``--before-src``) with the code before access control, alternating in fresh processes, ``--rounds`` each.
2. **Restricted callers**: every SciFact document gets a random acl (seeded: 25% everyone, else one or two of
   four groups); a caller holding one group searches it. The peer in the same run is what the property test
   compares against: a knowledge base holding only the documents that caller may read (a copy of the KB with
   the others removed), searched unrestricted. Also: the first query of a new group set (its masks are built
   then, once per version and group set).

    .venv/bin/python benchmarks/acl_latency.py [--queries 300] [--rounds 2] [--before-src DIR]

``--before-src`` is a ``src`` folder of ragtune before issue 12 (``git archive 2ae5864 src | tar -x -C DIR``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

WARMUP = 20
GROUPS = ("g1", "g2", "g3", "g4")

# One process, one KB: warm hybrid searches as `ragtune search` runs them (a trusted caller: no access argument,
# so the same code runs against ragtune before access control).
MEASURE_CODE = """
import json, sys, time
import ragtune
from ragtune import KnowledgeBase
from ragtune.config import Settings
kb = KnowledgeBase.open(sys.argv[1], settings=Settings())
queries = json.loads(open(sys.argv[2]).read())
for q in queries[:20]:
    kb.search(q, k=10)
out = []
for q in queries:
    t = time.perf_counter()
    kb.search(q, k=10)
    out.append((time.perf_counter() - t) * 1000)
print(json.dumps({"ms": out, "ragtune": ragtune.__file__}))
"""


def in_fresh_process(kb: Path, queries_file: Path, src: str | None) -> dict[str, Any]:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src  # ahead of the editable install: the old tree's ragtune
    out = subprocess.run(
        [sys.executable, "-c", MEASURE_CODE, str(kb), str(queries_file)], env=env, capture_output=True, text=True
    )
    if out.returncode:
        raise SystemExit(out.stderr)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    ms = data["ms"]
    return {
        "p50_ms": common.percentile(ms, 50),
        "p95_ms": common.percentile(ms, 95),
        "p99_ms": common.percentile(ms, 99),
        "ragtune": data["ragtune"],
    }


def acl_corpus(seed: int = 0) -> list[Any]:
    """SciFact's documents as the loader reads them, each with a random acl."""
    from ragtune.kb.loaders import LoadOptions, load_file

    rng = random.Random(seed)
    docs = load_file(
        common.scifact_dir() / "corpus.jsonl", LoadOptions(id_field="_id", title_field="title", timeout_s=None)
    )
    for d in docs:
        roll = rng.random()
        if roll >= 0.25:
            d.metadata["acl"] = rng.sample(GROUPS, 1 if roll < 0.75 else 2)
    return docs


def timed(kb: Any, queries: list[str], access: Any) -> list[float]:
    for q in queries[:WARMUP]:
        kb.search(q, k=10, access=access)
    out = []
    for q in queries:
        t = time.perf_counter()
        kb.search(q, k=10, access=access)
        out.append((time.perf_counter() - t) * 1000)
    return out


def row(label: str, ms: list[float], **extra: Any) -> dict[str, Any]:
    r = {
        "what": label,
        "queries": len(ms),
        "p50_ms": common.percentile(ms, 50),
        "p95_ms": common.percentile(ms, 95),
        "p99_ms": common.percentile(ms, 99),
        **extra,
    }
    print(f"  {label}: p50 {r['p50_ms']:.2f} ms, p95 {r['p95_ms']:.2f} ms", flush=True)
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--before-src", default=None, help="src/ of ragtune before access control (the peer of part 1)")
    args = ap.parse_args()
    from ragtune import KnowledgeBase
    from ragtune.kb.acl import Access

    test_q, _ = common.scifact_queries("test")
    train_q, _ = common.scifact_queries("train")
    queries = (list(test_q.values()) + list(train_q.values()))[: args.queries]
    qfile = common.CACHE / "acl_queries.json"
    common.CACHE.mkdir(parents=True, exist_ok=True)
    qfile.write_text(json.dumps(queries))

    kb, _ = common.scifact_kb("scifact")  # ingested once, cached
    kb.close()
    plain = common.CACHE / "scifact"

    # 1. unrestricted: before/after, alternating fresh processes
    unrestricted: dict[str, list[dict[str, Any]]] = {"after": [], "before": []}
    for _ in range(args.rounds):
        for name, src in (("before", args.before_src), ("after", None)):
            if name == "before" and not src:
                continue
            unrestricted[name].append(in_fresh_process(plain, qfile, src))
            print(f"  unrestricted [{name}]: p50 {unrestricted[name][-1]['p50_ms']:.2f} ms", flush=True)

    # 2. restricted callers on a copy with random acls, against a KB of only what they may read
    acl_kb_path = common.CACHE / "scifact_acl"
    if not (acl_kb_path / "complete").exists():
        shutil.rmtree(acl_kb_path, ignore_errors=True)
        shutil.copytree(plain, acl_kb_path)
        t = time.perf_counter()
        with KnowledgeBase.open(acl_kb_path, settings=common.settings()) as akb:
            rep = akb.ingest_documents(acl_corpus(), message="random acls")
        print(f"  acls set: {len(rep.updated)} documents updated in {time.perf_counter() - t:.1f} s", flush=True)
        (acl_kb_path / "complete").write_text("ok\n")
    akb = KnowledgeBase.open(acl_kb_path, settings=common.settings())
    reader = Access("bench", ("g1",))
    readable = akb.documents(access=reader)
    twin_path = common.CACHE / "scifact_acl_g1_only"
    if not (twin_path / "complete").exists():
        shutil.rmtree(twin_path, ignore_errors=True)
        shutil.copytree(acl_kb_path, twin_path)
        with KnowledgeBase.open(twin_path, settings=common.settings()) as tkb:
            tkb.remove([d for d in tkb.documents() if d not in readable], message="only g1's documents")
            tkb.retriever.index.persist()
        (twin_path / "complete").write_text("ok\n")
    twin = KnowledgeBase.open(twin_path, settings=common.settings())

    rows = []
    rows.append(row("acl KB, trusted caller", timed(akb, queries, Access())))
    first = []
    for groups in (("g2",), ("g3", "g4"), ("g1", "g3")):  # a group set's first query builds its masks
        t = time.perf_counter()
        akb.search(queries[0], k=10, access=Access("bench", groups))
        first.append((time.perf_counter() - t) * 1000)
    rows.append(row("acl KB, caller in g1", timed(akb, queries, reader), readable_documents=len(readable)))
    rows.append(row("acl KB, caller in g2+g3", timed(akb, queries, Access("bench", ("g2", "g3")))))
    rows.append(row("peer: KB of only g1's documents, trusted caller", timed(twin, queries, Access())))
    same = sum(
        [p.doc_id for p in akb.search(q, k=10, access=reader)] == [p.doc_id for p in twin.search(q, k=10)]
        for q in queries
    )
    print(f"  g1 caller vs the KB of g1's documents: same top-10 for {same}/{len(queries)} queries", flush=True)
    first_ms = common.percentile(first, 50)
    print(f"  first query of a new group set: {first_ms:.1f} ms (median of {len(first)})", flush=True)
    documents = akb.status()["documents"]
    akb.close()
    twin.close()

    def p50(runs: list[dict[str, Any]]) -> float | None:
        return float(np.median([r["p50_ms"] for r in runs])) if runs else None

    before, after = p50(unrestricted["before"]), p50(unrestricted["after"])
    print(
        common.table(
            ["unrestricted SciFact hybrid k=10", "p50 ms (median of rounds)", "per round"],
            [[n, p50(r), ", ".join(f"{x['p50_ms']:.2f}" for x in r)] for n, r in unrestricted.items() if r],
        )
    )
    print(
        common.table(
            ["what", "p50 ms", "p95 ms", "p99 ms"], [[r["what"], r["p50_ms"], r["p95_ms"], r["p99_ms"]] for r in rows]
        )
    )
    common.write_result(
        "acl_latency",
        {
            "k": 10,
            "warmup": WARMUP,
            "queries": len(queries),
            "unrestricted": {
                "kb": f"SciFact ({documents} documents)",
                "before_p50_ms": before,
                "after_p50_ms": after,
                "rounds": unrestricted,
                "before": "ragtune at 2ae5864 (before issue 12), same machine, alternating fresh processes",
            },
            "restricted": rows,
            "same_top10_as_peer": f"{same}/{len(queries)}",
            "first_query_new_group_set_ms": first_ms,
            "acls": "25% everyone; else 1 (50%) or 2 (25%) of 4 groups, seeded",
        },
    )


if __name__ == "__main__":
    main()
