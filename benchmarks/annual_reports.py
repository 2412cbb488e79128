"""A corpus of synthetic annual reports, made to fail retrieval the way real 10-K filings in one shared KB do.

On real filings the right filing was in the top 5 for 39% of questions and the evidence page for 19%, for two
reasons this corpus reproduces: a chunk from deep inside one filing rarely names its company or year, so
"What were Northwind's capital expenditures in fiscal 2023?" matches every filing's cash-flow table alike; and
a text layer read line by line loses a table's rows and columns. So: fictional companies, three per industry
(same segment names, same statement rows, different numbers), some with reports for two fiscal years (the year
matters, and each statement repeats the prior year's column); a cover naming the company in one of three
styles; a running header on most reports but not all; prose pages that say "we" and not the company's name;
ruled tables (fpdf2 ``pdf.table()``); file names from informative to meaningless; and 1-2 table pages of some
reports scanned (rendered by pypdfium2, skewed, blurred, specked, put back as an image with no text layer).

Questions ask for one table cell each, naming the company in varied ways. Each carries its gold answer (the
cell as printed), the report it was drawn from and every (file, 1-based page) where the same figure stands in
a table (a prior-year column, a segment total, the cash-flow statement's net income): ``gold``.

    .venv/bin/python benchmarks/annual_reports.py [--seed 13] [--companies 12] [--out DIR]

Everything follows from ``--seed``. The corpus is written under ``benchmarks/.cache/annual_reports/`` (git-ignored)
and reused while its manifest matches; ``benchmarks/annual_reports_bench.py`` measures on it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import random
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import annual_reports_text as words
import common
from scans import degrade

VERSION = 2  # bump when the corpus changes, so cached copies are rebuilt
CACHE = common.CACHE / "annual_reports"
CREATED = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)  # fixed: the same seed gives the same bytes


@dataclass(frozen=True)
class Company:
    legal: str  # "Northwind Turbines, Inc."
    name: str  # "Northwind Turbines"
    short: str  # "Northwind"
    industry: str


# Three per industry, interleaved so that a small --companies still has look-alike pairs.
COMPANIES = [
    Company("Northwind Turbines, Inc.", "Northwind Turbines", "Northwind", "wind"),
    Company("Harrowfield Specialty Chemicals, Inc.", "Harrowfield Specialty Chemicals", "Harrowfield", "chemicals"),
    Company("Aldercrest Power Systems Corp.", "Aldercrest Power Systems", "Aldercrest", "wind"),
    Company("Quillon Materials Corporation", "Quillon Materials", "Quillon", "chemicals"),
    Company("Tollgate Freight Holdings, Inc.", "Tollgate Freight", "Tollgate", "freight"),
    Company("Oakhollow Foods, Inc.", "Oakhollow Foods", "Oakhollow", "food"),
    Company("Cairnway Logistics Corp.", "Cairnway Logistics", "Cairnway", "freight"),
    Company("Brightwater Grocers Corporation", "Brightwater Grocers", "Brightwater", "food"),
    Company("Bluegate Energy Equipment, Inc.", "Bluegate Energy Equipment", "Bluegate", "wind"),
    Company("Redmarsh Polymers, Inc.", "Redmarsh Polymers", "Redmarsh", "chemicals"),
    Company("Pellmont Shipping Co.", "Pellmont Shipping", "Pellmont", "freight"),
    Company("Fenwick Provisions, Inc.", "Fenwick Provisions", "Fenwick", "food"),
]


@dataclass
class Report:
    """One generated PDF: whose, which fiscal year, how it looks, and where its tables are."""

    file: str
    company: Company
    year: int
    cover: str  # "10-K" | "glossy" | "name-first"
    running_header: str  # "" when the report has none
    info_title: str  # the PDF's Title ("" when unset)
    table_layout: str  # "rows" (fpdf2's pdf.table()) | "columns" (typeset column by column: see annual_reports_pdf)
    pages: int = 0
    table_pages: dict[str, int] = field(default_factory=dict)  # statement → 1-based page
    scanned: list[int] = field(default_factory=list)  # 1-based pages with no text layer
    scan_dpi: list[int] = field(default_factory=list)  # the resolution each of those was scanned at


@dataclass
class Question:
    id: str
    question: str
    answer: str  # the cell as printed, without the parentheses of an outflow: "41,273"
    doc: str  # the report the question was drawn from (its file name = its doc id when a folder is ingested)
    page: int
    gold: list[tuple[str, int]]  # every (file, page) where the figure stands for that year
    company: str
    year: int
    item: str
    naming: str  # how the question names the company: legal | name | short
    scanned: bool  # the drawn page has no text layer


@dataclass
class Corpus:
    root: Path
    seed: int
    reports: list[Report]
    questions: list[Question]

    @property
    def pdf_dir(self) -> Path:
        return self.root / "pdfs"

    @property
    def pages(self) -> int:
        return sum(r.pages for r in self.reports)


class _Figures:
    """Figures unique across the corpus (a cell string points to one fact), drawn near a target value, and never a
    number the prose or a cover prints: those are multiples of 100 (addresses, head counts), years, or the SEC's
    ZIP code, so finding a figure's digits in a text means the figure."""

    def __init__(self, rng: random.Random) -> None:
        self.rng, self.used = rng, set[int]()

    def draw(self, target: float) -> int:
        value = max(1_000, round(target * self.rng.uniform(0.93, 1.07)))
        while value in self.used or value % 100 == 0 or 1900 <= value <= 2100 or value == 20549:
            value += 1
        self.used.add(value)
        return value


def _financials(figs: _Figures, rng: random.Random, company: Company, years: list[int]) -> dict[int, dict[str, int]]:
    """Per fiscal year, every row of every statement (in thousands), plausible but not audited."""
    scale = rng.uniform(150_000, 2_500_000)
    out: dict[int, dict[str, int]] = {}
    for year in years:
        revenue = scale * (1 + rng.uniform(-0.05, 0.15)) ** (year - years[0])
        rows = {label: figs.draw(revenue * share) for label, share in words.ROW_SHARES.items()}
        segments = words.INDUSTRIES[company.industry]["segments"]
        weights = [rng.uniform(0.5, 1.5) for _ in segments]
        for seg, w in zip(segments, weights, strict=True):
            rows[f"segment:{seg}"] = figs.draw(revenue * 0.95 * w / sum(weights))
            rows[f"segment-oi:{seg}"] = figs.draw(revenue * 0.1 * w / sum(weights))
        out[year] = rows
    return out


def _plan(rng: random.Random, n_companies: int) -> list[Report]:
    """Which reports exist and how each looks: ~half the companies have two fiscal years."""
    reports: list[Report] = []
    meaningless = iter(rng.sample(words.MEANINGLESS_NAMES, len(words.MEANINGLESS_NAMES)))
    for i, company in enumerate(COMPANIES[:n_companies]):
        years = [[2022, 2023], [2023], [2022, 2023], [2022]][i % 4]
        for year in years:
            style = rng.choice(["informative", "ticker", "meaningless"])
            if style == "informative":
                file = f"{company.short.lower()}_{year}_annual_report.pdf"
            elif style == "ticker":
                file = f"{company.short[:3].upper()}-10K-{year}.pdf"
            else:
                file = next(meaningless).format(year=year, n=rng.randint(1000, 9999))
            header = rng.choice(  # a third without a running header: the header is not the only signal
                ["", "", f"{company.name} \u2014 Annual Report {year}", f"{company.short} | {year} Form 10-K",
                 f"{company.name} Annual Report {year}", f"{company.name} \u2014 Annual Report {year}"]
            )  # fmt: skip
            title = rng.choice(["", "", "Annual Report", f"Microsoft Word - AR{year}_final.docx", company.name])
            cover = rng.choice(["10-K", "glossy", "name-first"])
            reports.append(Report(file, company, year, cover, header, title, rng.choice(["rows", "columns"])))
    return reports


def generate(root: Path, seed: int = 13, n_companies: int = 12, scanned_share: float = 0.35) -> Corpus:
    """Write the corpus under ``root`` (``pdfs/``, ``questions.jsonl``, ``manifest.json``), replacing what is there."""
    from annual_reports_pdf import write_report  # fpdf2/pypdfium2 only when generating

    if not 1 <= n_companies <= len(COMPANIES):
        raise ValueError(f"n_companies must be 1..{len(COMPANIES)}, got {n_companies}")
    rng = random.Random(seed)
    figs = _Figures(rng)
    reports = _plan(rng, n_companies)
    companies = list(dict.fromkeys(r.company for r in reports))  # in plan order: a set's order would vary by run
    books = {c.short: _financials(figs, rng, c, [2021, 2022, 2023]) for c in companies}
    shutil.rmtree(root, ignore_errors=True)
    (root / "pdfs").mkdir(parents=True)
    n_scanned = max(1, round(len(reports) * scanned_share))
    to_scan = set(rng.sample(range(len(reports)), n_scanned))
    cells: dict[str, list[tuple[str, int]]] = {}  # printed figure → every (file, page) showing it
    for i, report in enumerate(reports):
        book = books[report.company.short]
        shown = write_report(
            root / "pdfs" / report.file, report, book[report.year], book[report.year - 1], rng, CREATED
        )
        if i in to_scan:
            pages = sorted(report.table_pages.values())
            report.scanned = sorted(rng.sample(pages, rng.choice([1, 2])))
            report.scan_dpi = _scan_pages(root / "pdfs" / report.file, report.scanned, rng)
        for figure, page in shown:
            cells.setdefault(figure, []).append((report.file, page))
    questions = _questions(rng, reports, books, cells)
    corpus = Corpus(root, seed, reports, questions)
    _save(corpus, n_companies)
    return corpus


def _questions(
    rng: random.Random, reports: list[Report], books: dict[str, dict[int, dict[str, int]]], cells: dict[str, Any]
) -> list[Question]:
    """One question per table page of every report, on a figure of that report's own fiscal year."""
    out: list[Question] = []
    for report in reports:
        c, year = report.company, report.year
        for statement, page in report.table_pages.items():
            key, templates = rng.choice(words.askable(statement, c.industry))
            naming = rng.choice(["legal", "name", "short"])
            who = {"legal": c.legal, "name": c.name, "short": c.short}[naming]
            segment = key.split(":", 1)[1] if ":" in key else ""
            text = rng.choice(templates).format(co=who, y=year, segment=segment)
            text = text.replace("s's ", "s' ")  # "Northwind Turbines' capital expenditures"
            answer = f"{books[c.short][year][key]:,}"
            gold = sorted(set(cells[answer]))
            assert (report.file, page) in gold, (report.file, page, answer)
            qid = f"q{len(out) + 1:03d}"
            scanned = page in report.scanned
            out.append(Question(qid, text, answer, report.file, page, gold, c.name, year, key, naming, scanned))
    return out


def _scan_pages(path: Path, pages: list[int], rng: random.Random) -> list[int]:
    """Replace ``pages`` of the PDF at ``path`` by scans of themselves: rendered at 150 or 200 DPI, degraded, and
    embedded as an image, so the page has no text layer. Returns each page's DPI."""
    import pypdfium2 as pdfium
    from fpdf import FPDF
    from pypdf import PdfReader, PdfWriter

    doc = pdfium.PdfDocument(path)
    images, dpis = {}, []
    for page in pages:
        dpis.append(rng.choice([150, 200]))
        bitmap = doc[page - 1].render(scale=dpis[-1] / 72, grayscale=True)
        images[page] = degrade(
            bitmap.to_pil(), skew_deg=rng.uniform(-0.6, 0.6), blur=0.5, noise=0.02, seed=rng.randrange(1 << 30)
        )
    doc.close()
    scans = FPDF(format="A4")
    scans.set_creation_date(CREATED)
    for page in pages:
        scans.add_page()
        scans.image(images[page], x=0, y=0, w=210, h=297)
    scanned = PdfReader(io.BytesIO(bytes(scans.output())))
    original = PdfReader(path)
    writer = PdfWriter()
    for number, page in enumerate(original.pages, start=1):
        writer.add_page(scanned.pages[pages.index(number)] if number in pages else page)
    if original.metadata:
        writer.add_metadata(dict(original.metadata))
    buf = io.BytesIO()
    writer.write(buf)
    path.write_bytes(buf.getvalue())
    return dpis


def _save(corpus: Corpus, n_companies: int) -> None:
    reports = [{**asdict(r), "company": asdict(r.company)} for r in corpus.reports]
    manifest = {"version": VERSION, "seed": corpus.seed, "companies": n_companies, "reports": reports}
    (corpus.root / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    lines = [json.dumps(asdict(q)) for q in corpus.questions]
    (corpus.root / "questions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def load(root: Path) -> Corpus:
    """A corpus written by :func:`generate`."""
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    reports = [Report(**{**r, "company": Company(**r["company"])}) for r in manifest["reports"]]
    questions = []
    for q in common.read_jsonl(root / "questions.jsonl"):
        questions.append(Question(**{**q, "gold": [(d, p) for d, p in q["gold"]]}))
    return Corpus(root, manifest["seed"], reports, questions)


def ensure(seed: int = 13, n_companies: int = 12, root: Path | None = None) -> Corpus:
    """The corpus for ``seed`` and ``n_companies`` under the cache (generated unless an identical one is there)."""
    root = root or CACHE / f"seed{seed}-c{n_companies}"
    try:
        manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
        if (manifest["version"], manifest["seed"], manifest["companies"]) == (VERSION, seed, n_companies):
            return load(root)
    except (OSError, ValueError, KeyError):
        pass
    return generate(root, seed, n_companies)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--companies", type=int, default=12, help=f"1..{len(COMPANIES)}")
    ap.add_argument("--out", type=Path, default=None, help="default: benchmarks/.cache/annual_reports/seed<S>-c<N>")
    args = ap.parse_args()
    root = args.out or CACHE / f"seed{args.seed}-c{args.companies}"
    corpus = generate(root, args.seed, args.companies)
    scanned = sum(q.scanned for q in corpus.questions)
    print(
        f"{len(corpus.reports)} reports, {corpus.pages} pages, {sum(len(r.scanned) for r in corpus.reports)} scanned; "
        f"{len(corpus.questions)} questions ({scanned} on scanned pages) in {root}"
    )


if __name__ == "__main__":
    main()
