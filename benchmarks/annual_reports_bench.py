"""Annual reports in one shared KB: what each step of issue 13 does for finding the filing, the page and the figure.

On the generated corpus of benchmarks/annual_reports.py (fictional companies, look-alike financial tables, some
tables typeset column by column, some pages scanned), one fresh knowledge base per configuration, every
configuration on the same files; the steps are cumulative:

0. baseline: ``loaders.tables = false``, ``loaders.ocr = false``, ``chunking.context = "headings"``
   (ragtune before issue 13: pypdf's text, no OCR, chunks carry title + headings);
1. + tables (``loaders.tables``); 2. + OCR (``loaders.ocr``); 3. + document context
   (``chunking.context = "document"``); 4. + metadata filters read from the question (``search.auto_filter``);
5. a separate run, ``--llm-context`` (slow): + an LLM-written context per chunk (``chunking.context_model``), on
   the first ``--llm-reports`` reports and their questions, beside steps 3 and 4 on the same subset
   (``benchmarks/results/annual_reports_llm.json``).

Per question (hybrid retrieval, ``k = 20``; the answer from ``kb.ask``, the default extractive strategy):
filing@1/@5 (a passage of a gold filing first / in the top 5), evidence-page@5/@20 (a passage of a gold filing
whose cited page, the page it starts on, is a gold page), page-in-top5 (a top-5 passage whose text reaches a gold
page: a chunk can start at the foot of the page before), gold-in-top5-text (the figure in a top-5 passage of a
gold filing) and answer-contains-gold (the figure in the answer), each also *labelled*: the figure in its row,
after its label with only figures between; digits compared with thousands separators removed.
Scanned-page questions are reported apart too.

Peer, in the same run: PDF pages/s of ragtune's ingest (the last step's settings) and of LangChain's default PDF
path (benchmarks/peers/langchain/pdf_ingest.py in the LangChain peer's venv), and of parsing alone.

    .venv/bin/python benchmarks/annual_reports_bench.py [--seed 13] [--companies 12]
    .venv/bin/python benchmarks/annual_reports_bench.py --llm-context [--llm-reports 6]
    .venv/bin/python benchmarks/annual_reports_bench.py --generate-only      # write the corpus and questions
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))

import annual_reports
import common

# (label, what changes) — cumulative: each step keeps the changes of the steps before it.
STEPS: list[tuple[str, dict[str, dict[str, Any]]]] = [
    ("baseline", {"loaders": {"tables": False, "ocr": False}, "chunking": {"context": "headings"}}),
    ("+ tables", {"loaders": {"tables": True}}),
    ("+ OCR", {"loaders": {"ocr": True}}),
    ("+ document context", {"chunking": {"context": "document"}}),
    ("+ auto filters", {"search": {"auto_filter": True}}),
]
LLM_STEP = ("+ LLM chunk context", {"chunking": {"context_model": "smollm2"}})
METRICS = (
    "filing@1",
    "filing@5",
    "evidence@5",
    "evidence@20",
    "page_in_top5",
    "gold_in_top5_text",
    "labelled_in_top5_text",
    "answer_contains_gold",
    "answer_labelled",
)


def has_figure(text: str, figure: str) -> bool:
    """``figure`` ("41,273") stands in ``text`` as a whole number: its digit groups joined by a comma, a point, one
    space (as OCR may read the comma) or nothing, and no digit group of a longer number on either side. Spaces in
    the text are never removed first: "2022 41,273" holds 41,273, and "1,940,426" does not hold 940,426."""
    return re.search(_figure_pattern(figure), text) is not None


def _figure_pattern(figure: str) -> str:
    body = r"[,.\s]?".join(re.escape(g) for g in re.split(r"[,.]", figure))
    return rf"(?<!\d)(?<!\d[,.]){body}(?![,.]?\d)"


def settings_for(steps: list[dict[str, dict[str, Any]]]) -> Any:
    """Default settings with every step's changes applied in order."""
    from ragtune.config import Settings

    s = Settings()
    for changes in steps:
        s = plus(s, changes)
    return s


def plus(settings: Any, changes: dict[str, dict[str, Any]]) -> Any:
    """``settings`` with ``changes`` (section → values); a setting this ragtune lacks is an error that names it."""
    for section, values in changes.items():
        try:
            settings = settings.replace(section, **values)
        except TypeError as exc:
            raise SystemExit(f"[{section}] {sorted(values)}: not a setting of this ragtune ({exc})") from None
    return settings


def score(
    question: annual_reports.Question, passages: list[Any], answer: str, page_starts: dict[str, list[int]]
) -> dict[str, bool]:
    """One question's hits (see the module docstring). ``page_starts``: per document, where each page's text starts
    (a passage's ``page`` is the page it starts on; ``page_in_top5`` asks whether its text reaches a gold page)."""
    docs = {d for d, _ in question.gold}
    pages = set(question.gold)
    top5 = passages[:5]
    gold_top5 = [p.readable_text for p in top5 if p.doc_id in docs]
    label = question.item.split(":", 1)[-1]  # the row label: "Capital expenditures", a segment's name
    return {
        "filing@1": bool(passages) and passages[0].doc_id in docs,
        "filing@5": any(p.doc_id in docs for p in top5),
        "evidence@5": any((p.doc_id, p.page) in pages for p in top5),
        "evidence@20": any((p.doc_id, p.page) in pages for p in passages[:20]),
        "page_in_top5": any(reaches(p, page, page_starts[d]) for p in top5 for d, page in pages if p.doc_id == d),
        "gold_in_top5_text": any(has_figure(text, question.answer) for text in gold_top5),
        "labelled_in_top5_text": any(beside_label(text, label, question.answer) for text in gold_top5),
        "answer_contains_gold": has_figure(answer, question.answer),
        "answer_labelled": beside_label(answer, label, question.answer),
    }


def beside_label(text: str, label: str, figure: str) -> bool:
    """``figure`` in its row: after its ``label`` with nothing but figures and separators between (``| Capital
    expenditures | (41,273) |``, ``Capital expenditures: (41,273), (39,870)``), as a reader needs it. Text that
    lists a column's figures apart from their labels (pypdf on a table typeset by columns) holds the figure, not
    this."""
    name = r"\s+".join(re.escape(w) for w in label.split())  # a label may wrap onto the next line
    return re.search(rf"{name}[^A-Za-z]{{0,60}}?{_figure_pattern(figure)}", text, re.IGNORECASE) is not None


def reaches(passage: Any, page: int, starts: list[int]) -> bool:
    """Whether ``passage``'s span of its document's text overlaps 1-based ``page``."""
    end = starts[page] if page < len(starts) else float("inf")
    return bool(passage.start < end and passage.end > starts[page - 1])


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Each metric's share of ``rows``; of the answers, the share declined and, of those holding the figure, the
    median count of figures they hold (a whole table strung together holds dozens, one row two to five)."""
    if not rows:
        return {"n": 0}
    out: dict[str, Any] = {"n": len(rows), **{m: round(sum(r[m] for r in rows) / len(rows), 3) for m in METRICS}}
    out["answer_declined"] = round(sum(r["declined"] for r in rows) / len(rows), 3)
    right = [r["figures"] for r in rows if r["answer_contains_gold"]]
    out["figures_per_right_answer_p50"] = float(statistics.median(right)) if right else None
    return out


_FIGURE = re.compile(r"\d{1,3}(?:,\d{3})+")


@dataclasses.dataclass
class Run:
    """What every configuration shares: a scratch folder, the warmed embedder, parses cached by loader options (the
    page spans ``score`` needs, and parse speed) and the corpus's reports (to check the metadata found)."""

    work: Path
    embedder: Any
    reports: list[annual_reports.Report]
    parsed: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)


def run_config(
    run: Run, label: str, settings: Any, pdfs: Path, questions: list[annual_reports.Question]
) -> dict[str, Any]:
    """A fresh KB with ``settings``: ingest ``pdfs`` (timed), then every question retrieved and answered."""
    from ragtune import KnowledgeBase
    from ragtune.search.query import Query

    path = run.work / re.sub(r"\W+", "_", label)
    shutil.rmtree(path, ignore_errors=True)
    with KnowledgeBase.open(path, create=True, settings=settings, embedder=run.embedder) as kb:
        t = time.perf_counter()
        rep = kb.ingest([pdfs])
        ingest_s = time.perf_counter() - t
        opts = kb.load_options()
        if repr(opts) not in run.parsed:
            run.parsed[repr(opts)] = parse(pdfs, opts)
        starts, texts = run.parsed[repr(opts)]["page_starts"], run.parsed[repr(opts)]["texts"]
        meta = {doc: kb.document(doc)[0].metadata for doc in kb.documents()}
        rows, per_question, off = [], [], 0
        filters = {"company": 0, "year": 0, "excluding_the_gold_filing": 0}
        for q in questions:
            result = kb.retrieve(Query(q.question, k=20))
            passages = result.passages
            off += sum(texts[p.doc_id][p.start : p.end] != p.text for p in passages[:5])  # page spans valid?
            for key in ("company", "year"):
                filters[key] += key in result.auto_filters
            filters["excluding_the_gold_filing"] += not admits(result.auto_filters, meta[q.doc])
            answer = kb.ask(q.question)
            hit = score(q, passages, answer.text, starts)
            rows.append({**hit, "declined": not answer.answered, "figures": len(_FIGURE.findall(answer.text))})
            per_question.append([q.id, *[int(hit[m]) for m in METRICS]])
    shutil.rmtree(path, ignore_errors=True)
    return {
        "label": label,
        "ingest_s": round(ingest_s, 2),
        "documents": len(rep.added),
        "chunks": rep.chunks_written,
        "errors": [f"{e.path}: {e.reason}" for e in rep.errors],
        "warnings": len(rep.warnings),
        "parse": {k: v for k, v in run.parsed[repr(opts)].items() if k not in ("page_starts", "texts")},
        "passages_off_their_document_text": off,  # 0 unless the loader's text differs from the ingested one
        "metadata": metadata_found(meta, run.reports),
        "auto_filters": filters,
        "all": summarize(rows),
        "scanned": summarize([r for r, q in zip(rows, questions, strict=True) if q.scanned]),
        "questions": per_question,
    }


def admits(filters: dict[str, Any], fields: dict[str, Any]) -> bool:
    """Whether a document with metadata ``fields`` passes ``filters`` (a value, or a list of accepted values)."""
    for key, wanted in filters.items():
        options = wanted if isinstance(wanted, list) else [wanted]
        if str(fields.get(key)) not in [str(o) for o in options]:
            return False
    return True


def metadata_found(meta: dict[str, dict[str, Any]], reports: list[annual_reports.Report]) -> dict[str, int]:
    """How many documents got a company / year / doc_type from ragtune, and how many of those are right."""
    out = {"documents": 0, "company": 0, "company_right": 0, "year": 0, "year_right": 0, "doc_type": 0}
    for report in reports:
        fields = meta.get(report.file)
        if fields is None:
            continue
        out["documents"] += 1
        company, year = str(fields.get("company") or ""), str(fields.get("year") or "")
        out["company"] += bool(company)
        out["company_right"] += report.company.short.casefold() in company.casefold()
        out["year"] += bool(year)
        out["year_right"] += year == str(report.year)
        out["doc_type"] += bool(fields.get("doc_type"))
    return out


def parse(pdfs: Path, opts: Any) -> dict[str, Any]:
    """ragtune's ``load_pdf`` over every file with loader options ``opts``, timed after a warm-up on the first:
    pages, seconds, pages/s, and each document's ``page_starts`` (by file name, its doc id)."""
    from ragtune.kb.loaders._pdf import load_pdf

    files = sorted(pdfs.glob("*.pdf"))
    load_pdf(files[0], opts)  # warm-up: imports and first-call costs out of the timing
    t = time.perf_counter()
    docs = {f.name: load_pdf(f, opts)[0] for f in files}
    seconds = time.perf_counter() - t
    pages = sum(int(d.metadata["pages"]) for d in docs.values())
    return {
        "tables": getattr(opts, "tables", None),
        "ocr": opts.ocr,
        "pages": pages,
        "seconds": round(seconds, 2),
        "pages_per_s": round(pages / seconds, 1),
        "page_starts": {name: d.page_starts or [0] for name, d in docs.items()},
        "texts": {name: d.text for name, d in docs.items()},
    }


def langchain_peer(pdfs: Path) -> dict[str, Any]:
    """LangChain's default PDF path in its own venv (benchmarks/peers/langchain/pdf_ingest.py)."""
    from run import HERE, peer_env, venv_python

    from ragtune.embed.base import resolve_model_path

    python = venv_python("langchain")
    if not python.exists():
        setup = "benchmarks/peers/run.py --setup --peers langchain"
        return {"status": "not run", "reason": f"no venv at {python}: run {setup}"}
    cmd = [str(python), str(HERE / "langchain" / "pdf_ingest.py"), "--model", resolve_model_path("all-MiniLM-L6-v2"),
           "--pdfs", str(pdfs)]  # fmt: skip
    proc = subprocess.run(cmd, env=peer_env(), capture_output=True, text=True, timeout=900, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("PEER_RESULT ")]
    if proc.returncode or not lines:
        return {"status": "failed", "reason": (proc.stderr or proc.stdout)[-2000:]}
    res = json.loads(lines[-1].split(" ", 1)[1])
    res.update(status="ok", parse_pages_per_s=round(res["pages"] / res["parse_s"], 1))
    res["ingest_pages_per_s"] = round(res["pages"] / res["ingest_s"], 1)
    return res


def scan_check(corpus: annual_reports.Corpus, settings: Any) -> list[dict[str, Any]]:
    """Per scanned page: the figures ragtune's OCR reads from the page as ``load_pdf`` renders it (at
    ``loaders.ocr_dpi``) and from the scan's embedded image at its own resolution, and how many of the questions'
    gold figures on the page each holds. Tells whether a lost figure was lost by the scan or by the re-render."""
    import pypdfium2 as pdfium

    from ragtune.kb.loaders import LoadOptions
    from ragtune.kb.loaders._ocr import ocr_image, ocr_pdf_pages

    s = settings.loaders
    opts = LoadOptions(ocr=True, ocr_dpi=s.ocr_dpi, ocr_timeout_s=s.ocr_timeout_s)
    out = []
    for report in corpus.reports:
        path = corpus.pdf_dir / report.file
        for page, dpi in zip(report.scanned, report.scan_dpi, strict=True):
            golds = [q.answer for q in corpus.questions if (report.file, page) in q.gold]
            rendered = ocr_pdf_pages(path, [page], opts).text.get(page, "")
            pdf = pdfium.PdfDocument(path)
            image = next(o for o in pdf[page - 1].get_objects() if o.type == pdfium.raw.FPDF_PAGEOBJ_IMAGE)
            native = ocr_image(image.get_bitmap().to_pil(), opts, s.ocr_timeout_s)
            pdf.close()
            out.append(
                {
                    "file": report.file,
                    "page": page,
                    "scan_dpi": dpi,
                    "figures_read_rendered": len(_FIGURE.findall(rendered)),
                    "figures_read_native": len(_FIGURE.findall(native)),
                    "gold": len(golds),
                    "gold_read_rendered": sum(has_figure(rendered, g) for g in golds),
                    "gold_read_native": sum(has_figure(native, g) for g in golds),
                }
            )
    return out


def warm_embedder(corpus: annual_reports.Corpus, settings: Any, work: Path) -> Any:
    """The embedder, loaded and warmed by one small ingest, shared by every configuration (model load apart)."""
    from ragtune import KnowledgeBase

    one = work / "warm-up-pdf"
    one.mkdir(parents=True, exist_ok=True)
    shutil.copy(corpus.pdf_dir / corpus.reports[0].file, one)
    with KnowledgeBase.open(work / "warm-up", create=True, settings=settings) as kb:
        kb.ingest([one])
        kb.ask(corpus.questions[0].question)
        return kb.embedder


def corpus_facts(corpus: annual_reports.Corpus) -> dict[str, Any]:
    reports = corpus.reports
    return {
        "seed": corpus.seed,
        "companies": len({r.company.short for r in reports}),
        "reports": len(reports),
        "pages": corpus.pages,
        "scanned_pages": sum(len(r.scanned) for r in reports),
        "scanned_pages_at_150_dpi": sum(d == 150 for r in reports for d in r.scan_dpi),
        "reports_without_running_header": sum(not r.running_header for r in reports),
        "reports_with_tables_by_columns": sum(r.table_layout == "columns" for r in reports),
        "questions": len(corpus.questions),
        "scanned_questions": sum(q.scanned for q in corpus.questions),
        "naming": {n: sum(q.naming == n for q in corpus.questions) for n in ("legal", "name", "short")},
    }


def llm_context(corpus: annual_reports.Corpus, n_reports: int, run: Run) -> dict[str, Any]:
    """Steps 3, 4 and 5 (4 + an LLM-written context per chunk) on the first ``n_reports`` reports and their
    questions."""
    subset = run.work / "llm-subset"
    shutil.rmtree(subset, ignore_errors=True)
    subset.mkdir(parents=True)
    reports = corpus.reports[:n_reports]
    for report in reports:
        shutil.copy(corpus.pdf_dir / report.file, subset)
    files = {r.file for r in reports}
    questions = [q for q in corpus.questions if q.doc in files]
    steps = [c for _, c in STEPS]
    rows = [run_config(run, f"{i} {STEPS[i][0]}", settings_for(steps[: i + 1]), subset, questions) for i in (3, 4)]
    llm = plus(settings_for(steps), LLM_STEP[1])
    rows.append(run_config(run, f"5 {LLM_STEP[0]}", llm, subset, questions))
    return {"reports": sorted(files), "pages": sum(r.pages for r in reports), "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--companies", type=int, default=12)
    ap.add_argument("--generate-only", action="store_true", help="write the corpus and its questions, then stop")
    ap.add_argument("--steps", default="", help="comma-separated step numbers to run (default: all)")
    ap.add_argument(
        "--llm-context", action="store_true", help="only steps 3, 4 and 5 (SmolLM2 chunk context; slow), on a subset"
    )
    ap.add_argument("--llm-reports", type=int, default=6, help="reports the LLM step runs on")
    ap.add_argument("--no-peer", action="store_true", help="skip the LangChain ingest peer")
    args = ap.parse_args()

    corpus = annual_reports.ensure(args.seed, args.companies)
    facts = corpus_facts(corpus)
    print(json.dumps(facts))
    print(f"corpus: {corpus.pdf_dir}; questions: {corpus.root / 'questions.jsonl'}")
    if args.generate_only:
        return
    wanted = {int(s) for s in args.steps.split(",") if s.strip()} or set(range(len(STEPS)))
    all_settings = [settings_for([c for _, c in STEPS[: i + 1]]) for i in range(len(STEPS))]  # fail before work
    final = all_settings[-1]
    command = ".venv/bin/python benchmarks/annual_reports_bench.py " + " ".join(sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="ragtune-annual-") as tmp:
        work = Path(tmp)
        run = Run(work, warm_embedder(corpus, final, work), corpus.reports)
        if args.llm_context:
            llm = llm_context(corpus, args.llm_reports, run)
            common.write_result("annual_reports_llm", {"corpus": facts, **llm}, command=command.strip())
            return
        configs: list[dict[str, Any]] = []
        for i, (label, changes) in enumerate(STEPS):
            if i not in wanted:
                continue
            row = run_config(run, f"{i} {label}", all_settings[i], corpus.pdf_dir, corpus.questions)
            row.update(step=i, changes=changes, pages_per_s=round(corpus.pages / row["ingest_s"], 1))
            print({k: v for k, v in row.items() if k != "questions"}, flush=True)
            configs.append(row)
    parse_rows = [{k: v for k, v in p.items() if k not in ("page_starts", "texts")} for p in run.parsed.values()]
    scans = scan_check(corpus, final)
    peer = {"status": "skipped"} if args.no_peer else langchain_peer(corpus.pdf_dir)
    print(json.dumps({"parse": parse_rows, "langchain": peer}), flush=True)
    print(
        common.table(
            ["step", *METRICS, "scanned ans.", "ingest s"],
            [[c["label"], *[c["all"][m] for m in METRICS], c["scanned"]["answer_contains_gold"], c["ingest_s"]]
             for c in configs],
        )
    )  # fmt: skip
    result = {"corpus": facts, "configs": configs, "parse": parse_rows, "langchain": peer, "scans": scans}
    result["ocr_dpi"] = final.loaders.ocr_dpi
    common.write_result("annual_reports", result, command=command.strip())


if __name__ == "__main__":
    main()
