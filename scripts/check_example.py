"""Sanity checks for the bundled example corpus in ``examples/helpcenter``.

Checks that every JSONL file parses, ids are unique, every ``sources`` and
change ``files`` entry exists, numbers/codes in reference answers appear in
their source documents, change folders are consistent with eval.jsonl, HTML
parses, and the PDF text extracts (when pypdf is installed).

Usage: python scripts/check_example.py [path/to/helpcenter]
"""

from __future__ import annotations

import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIN_PAGES, MIN_HTML, MIN_PDF = 28, 5, 1
MIN_QUESTIONS, MIN_UNANSWERABLE, MIN_STYLE, MIN_CHANGES = 64, 8, 110, 3
UNANSWERABLE = "The help center does not say."

# Tokens in an answer that must literally appear in at least one source doc.
KEY_RE = re.compile(r"\$[\d,.]+|DN-\d+|\d[\d,.]*\s?%|\d[\d,.]*(?:\s?(?:GB|TB|MB|KB))?")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.tags: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in {"script", "style", "nav"}:
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style", "nav"} and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def doc_text(path: Path) -> str:
    if path.suffix == ".html":
        p = _TextExtractor()
        p.feed(path.read_text(encoding="utf-8"))
        p.close()
        return " ".join(p.parts)
    if path.suffix == ".pdf":
        try:
            from pypdf import PdfReader
        except ImportError:
            return ""
        return "\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)
    return path.read_text(encoding="utf-8")


def norm(s: str) -> str:
    return re.sub(r"\s+", " ", s.replace("*", "").replace("`", "")).lower()


def read_jsonl(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:  # pragma: no cover - reported below
                raise SystemExit(f"{path.name}:{n}: bad JSON: {e}") from e
    return rows


def main(argv: list[str]) -> int:
    hc = Path(argv[1]) if len(argv) > 1 else ROOT / "examples" / "helpcenter"
    docs = hc / "docs"
    errors: list[str] = []
    files = sorted(p for p in docs.rglob("*") if p.is_file())
    ids = {p.relative_to(docs).as_posix() for p in files}
    by_ext = {ext: sum(1 for p in files if p.suffix == ext) for ext in (".md", ".html", ".pdf")}
    texts = {p.relative_to(docs).as_posix(): norm(doc_text(p)) for p in files}
    pdf_checked = any(p.suffix == ".pdf" and texts[p.relative_to(docs).as_posix()] for p in files)

    if len(files) < MIN_PAGES:
        errors.append(f"only {len(files)} pages (< {MIN_PAGES})")
    if by_ext[".html"] < MIN_HTML:
        errors.append(f"only {by_ext['.html']} html pages")
    if by_ext[".pdf"] < MIN_PDF:
        errors.append("no pdf page")
    for p in files:
        t = texts[p.relative_to(docs).as_posix()]
        if p.suffix == ".html":
            ex = _TextExtractor()
            ex.feed(p.read_text(encoding="utf-8"))
            for tag in ("title", "h1", "p"):
                if tag not in ex.tags:
                    errors.append(f"{p.name}: missing <{tag}>")
            if "function" in t or "{" in t:
                errors.append(f"{p.name}: script/style text leaked into extracted text")
        if p.suffix == ".pdf" and pdf_checked and len(t) < 500:
            errors.append(f"{p.name}: PDF text did not extract")

    evals = read_jsonl(hc / "eval.jsonl")
    eval_by_id = {}
    n_unans = 0
    for row in evals:
        for key in ("id", "question", "answer", "sources", "tags"):
            if key not in row:
                errors.append(f"{row.get('id')}: missing {key}")
        if row["id"] in eval_by_id:
            errors.append(f"duplicate id {row['id']}")
        eval_by_id[row["id"]] = row
        if not row["sources"]:
            n_unans += 1
            if row["answer"] != UNANSWERABLE or "unanswerable" not in row["tags"]:
                errors.append(f"{row['id']}: unanswerable row is malformed")
            continue
        for s in row["sources"]:
            if s not in ids:
                errors.append(f"{row['id']}: source {s} does not exist")
        src = " ".join(texts.get(s, "") for s in row["sources"])
        if row["sources"] and any(s.endswith(".pdf") for s in row["sources"]) and not pdf_checked:
            continue
        for tok in KEY_RE.findall(row["answer"]):
            if norm(tok).rstrip(".,") not in src:
                errors.append(f"{row['id']}: '{tok}' not found in {row['sources']}")

    style = read_jsonl(hc / "style.jsonl")
    eval_qs = {r["question"].strip().lower() for r in evals}
    systems = set()
    for n, row in enumerate(style, 1):
        roles = [m["role"] for m in row["messages"]]
        if roles != ["system", "user", "assistant"]:
            errors.append(f"style line {n}: roles {roles}")
            continue
        systems.add(row["messages"][0]["content"])
        if row["messages"][1]["content"].strip().lower() in eval_qs:
            errors.append(f"style line {n}: copies an eval question")
    if len(systems) != 1:
        errors.append(f"style.jsonl uses {len(systems)} different system prompts")

    changes = sorted(p for p in (hc / "changes").iterdir() if p.is_dir())
    for ch in changes:
        meta = json.loads((ch / "change.json").read_text(encoding="utf-8"))
        for f in meta["files"]:
            if f not in ids:
                errors.append(f"{ch.name}: {f} is not an original doc")
            if not (ch / "docs" / f).is_file():
                errors.append(f"{ch.name}: edited page {f} missing")
            elif (ch / "docs" / f).read_bytes() == (docs / f).read_bytes():
                errors.append(f"{ch.name}: {f} is unchanged")
        for aq in meta["affected_questions"]:
            ev = eval_by_id.get(aq["id"])
            if ev is None:
                errors.append(f"{ch.name}: {aq['id']} not in eval.jsonl")
            elif ev["answer"] != aq["old_answer"] or ev["question"] != aq["question"]:
                errors.append(f"{ch.name}: {aq['id']} question/old_answer differ from eval.jsonl")
            else:
                new_src = " ".join(
                    norm(doc_text(ch / "docs" / s)) if s in meta["files"] else texts.get(s, "") for s in ev["sources"]
                )
                for tok in KEY_RE.findall(aq["new_answer"]):
                    if norm(tok).rstrip(".,") not in new_src:
                        errors.append(f"{ch.name}: {aq['id']} new answer '{tok}' not in edited docs")
                if aq["new_answer"] == aq["old_answer"]:
                    errors.append(f"{ch.name}: {aq['id']} new_answer equals old_answer")

    n_q = len(evals)
    if n_q < MIN_QUESTIONS:
        errors.append(f"only {n_q} questions")
    if n_unans < MIN_UNANSWERABLE:
        errors.append(f"only {n_unans} unanswerable questions")
    if len(style) < MIN_STYLE:
        errors.append(f"only {len(style)} style examples")
    if len(changes) < MIN_CHANGES:
        errors.append(f"only {len(changes)} changes")

    print(
        f"pages: {len(files)} (md {by_ext['.md']}, html {by_ext['.html']}, pdf {by_ext['.pdf']}); "
        f"questions: {n_q} ({n_q - n_unans} answerable, {n_unans} unanswerable); "
        f"style: {len(style)}; changes: {len(changes)}" + ("" if pdf_checked else "; PDF not checked (pypdf missing)")
    )
    for e in errors:
        print("ERROR:", e)
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
