"""The rare-term sets of ``benchmarks/fusion.py``, built deterministically (seeded) from the visible data.

SciFact: a seeded sample of abstracts, each given one sentence naming an invented error code (``E-44xx``, look-alike
codes in other abstracts), product, protocol (the issue's quokka-lantern case) or bare id (``LOT-204xx`` among
look-alike ids), ingested as a new version on a *copy* of the SciFact KB (the shared one is never written). The help
center: pages of a copy of ``examples/helpcenter/docs`` given a new ``DN-9xx`` error code and a setting name. Each
query names what one edit added; that document must come first.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import common

SEED = 14
HC_PAGES_EDITED = 12


@dataclass
class RareQuery:
    kind: str
    query: str
    doc_id: str  # the one document that holds the term
    sentence: str  # what the edit added


SYLLABLES = ("ka", "lo", "mi", "ven", "tra", "qui", "dor", "zel", "bra", "nex", "fu", "sta", "rin", "pol", "gam", "tur")


def invented(rng: random.Random, vocabulary: set[str], used: set[str], syllables: int = 3) -> str:
    """A pronounceable word no document (and no earlier invention) contains, by its search term."""
    from ragtune.text import analyze

    while True:
        word = "".join(rng.choice(SYLLABLES) for _ in range(syllables))
        terms = analyze(word)
        if terms and not (set(terms) & vocabulary) and word not in used:
            used.add(word)
            return word


def _look_alike_numbers(rng: random.Random, n: int, low: int, high: int) -> list[int]:
    """``n`` distinct numbers from a narrow range: ids that differ in a digit or two, as a catalogue's do."""
    return rng.sample(range(low, high), n)


def rare_edits(
    documents: list[dict[str, Any]], vocabulary: set[str], per_kind: int, rng: random.Random
) -> tuple[dict[str, str], list[RareQuery]]:
    """Seeded edits: doc id → new text, and the queries that name what each edit added."""
    from ragtune.text import analyze

    picked = rng.sample(documents, 4 * per_kind)
    used: set[str] = set()
    codes = _look_alike_numbers(rng, per_kind, 4400, 4500)
    lots = _look_alike_numbers(rng, per_kind, 20400, 20500)
    edits: dict[str, str] = {}
    queries: list[RareQuery] = []
    for i, doc in enumerate(picked):
        kind = ("error_code", "product", "protocol", "id")[i % 4]
        j = i // 4
        topic = [w for w in re.findall(r"[A-Za-z]{5,}", doc.get("title", "")) if analyze(w)][:2]
        if kind == "error_code":
            code = f"E-{codes[j]}"
            sentence = f"Assays that stopped with analyser error {code} were repeated once."
            query = f"analyser error {code}"
        elif kind == "product":
            name = invented(rng, vocabulary, used).capitalize()
            sentence = f"Samples were processed on the {name} {rng.randrange(100, 990, 10)} platform."
            query = f"{name} platform " + " ".join(topic)
        elif kind == "protocol":
            a, b = invented(rng, vocabulary, used, 2), invented(rng, vocabulary, used, 2)
            sentence = f"The {a}-{b} protocol reduced mortality by {rng.randrange(12, 60)} percent in this cohort."
            query = f"{a}-{b} protocol " + " ".join(topic)
        else:
            lot = f"LOT-{lots[j]}"
            sentence = f"Specimens were catalogued as {lot}."
            query = lot
        text = doc["text"]
        cuts = [m.end() for m in re.finditer(r"\. (?=[A-Z])", text)]
        at = rng.choice(cuts) if cuts else len(text)
        edits[doc["_id"]] = (text[:at].rstrip() + " " + sentence + " " + text[at:].lstrip()).strip()
        queries.append(RareQuery(kind, query.strip(), str(doc["_id"]), sentence))
    return edits, queries


def scifact_rare(per_kind: int) -> tuple[Any, list[RareQuery]]:
    """The edited copy of the SciFact KB (copied once from the shared cache, edits ingested as a new version)."""
    from ragtune import KnowledgeBase
    from ragtune.text import analyze

    src, dst = common.CACHE / "scifact", common.CACHE / "fusion_rare"
    corpus = list(common.read_jsonl(common.scifact_dir() / "corpus.jsonl"))
    vocabulary = {t for d in corpus for t in analyze(d.get("title", "") + " " + d["text"])}
    edits, queries = rare_edits(corpus, vocabulary, per_kind, random.Random(SEED))
    if not dst.exists():
        common.scifact_kb("scifact")[0].close()  # the shared KB exists and is complete before copying it
        shutil.copytree(src.resolve(), dst, symlinks=True)
    kb = KnowledgeBase.open(dst, settings=common.settings())
    records = [{**d, "text": edits[d["_id"]]} for d in corpus if d["_id"] in edits]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "edited.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        kb.ingest([path], id_field="_id", text_field="text", title_field="title", message="fusion: rare terms")
    return kb, queries


def helpcenter_rare(docs: Path, rng: random.Random) -> list[RareQuery]:
    """Edit a seeded sample of the copy's Markdown pages: a new DN-9xx error code and a setting name on each."""
    from ragtune.text import analyze

    pages = sorted(p for p in docs.rglob("*.md"))
    vocabulary = {t for p in docs.rglob("*") if p.is_file() for t in analyze(p.read_text("utf-8", "ignore"))}
    codes = _look_alike_numbers(rng, HC_PAGES_EDITED, 900, 1000)
    used: set[str] = set()
    queries = []
    for page, code in zip(rng.sample(pages, HC_PAGES_EDITED), codes, strict=True):
        doc_id = page.relative_to(docs).as_posix()
        setting = f"{invented(rng, vocabulary, used, 2).capitalize()} {invented(rng, vocabulary, used, 2)}"
        added = (
            f"\n\nIf this stops with error DN-{code}, sign out and back in. "
            f"Admins can turn this off with the {setting} setting in Admin Console.\n"
        )
        page.write_text(page.read_text(encoding="utf-8").rstrip() + added, encoding="utf-8")
        queries += [
            RareQuery("hc_error_code", f"DN-{code}", doc_id, added.strip()),
            RareQuery("hc_error_code", f"What does error DN-{code} mean?", doc_id, added.strip()),
            RareQuery("hc_setting", f"Where is the {setting} setting?", doc_id, added.strip()),
        ]
    return queries
