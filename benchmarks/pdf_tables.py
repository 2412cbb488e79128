"""PDF tables: pypdf's text against pdfplumber's tables, speed and structure, on PDFs generated here (fpdf2).

Two corpora (``--prose-pages 2,12``): ``--docs`` synthetic annual reports of fictional companies, each that many
prose pages and a ruled segment table (``FPDF.table``: header row, numbers, a multi-line notes cell every fifth
row) long enough to span two pages. Three readers run on the same files in the same process, each timed over all pages:

* ``pypdf``: ``page.extract_text()`` on every page (ragtune's PDF path before tables);
* ``pdfplumber``: ``find_tables()`` plus ``extract_text()`` on every page (pdfplumber everywhere);
* ``ragtune``: ``load_pdf`` as shipped: pypdf on every page, pdfplumber only on pages whose content stream
  draws lines or rectangles, its tables as ``| a | b |`` rows at their place in the page's text.

Structure: a table row is *intact* when one line of the page's text holds all of its cells, in order; the
share of the generated rows that are intact is reported per reader.

    .venv/bin/python benchmarks/pdf_tables.py --docs 12 --prose-pages 2,12
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

PROSE = (
    "The board reviewed the results of the year and the outlook for the next. Revenue grew in most regions "
    "while costs were held flat. The company continued to invest in its plants and in training. "
)


def make_report(path: Path, company: str, rng: random.Random, n_rows: int, prose_pages: int) -> list[list[str]]:
    """A PDF with prose pages and a segment table over two pages; returns the table's data rows."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    for _ in range(prose_pages):
        pdf.add_page()
        pdf.multi_cell(0, 6, f"{company} annual report. " + PROSE * 6)
    pdf.add_page()
    pdf.multi_cell(0, 6, f"Segment results of {company}.")
    header = ["Segment", "Revenue", "Operating income", "Notes"]
    rows = []
    for i in range(n_rows):
        note = "divested in the second half; figures restated for comparability" if i % 5 == 0 else "steady"
        rows.append([f"Segment {i}", f"{rng.randint(1000, 99999):,}", f"{rng.randint(10, 9999):,}", note])
    with pdf.table() as table:
        for values in [header, *rows]:
            row = table.row()
            for value in values:
                row.cell(value)
    pdf.multi_cell(0, 6, "Outlook. " + PROSE * 3)
    pdf.output(str(path))
    return rows


def intact(rows: list[list[str]], text: str) -> int:
    """Rows whose cells all appear, in order, on one line of ``text``."""
    lines = text.split("\n")
    found = 0
    for row in rows:
        for line in lines:
            pos = 0
            for cell in row:
                pos = line.find(cell, pos)
                if pos < 0:
                    break
                pos += len(cell)
            else:
                found += 1
                break
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=12)
    ap.add_argument("--rows", type=int, default=60, help="table rows per report (60 span two pages)")
    ap.add_argument(
        "--prose-pages", default="2,12", help="comma-separated: one corpus per value, that many prose pages a report"
    )
    args = ap.parse_args()

    rows_out: list[dict[str, Any]] = []
    for prose_pages in [int(v) for v in args.prose_pages.split(",")]:
        rows_out += measure(args.docs, args.rows, prose_pages)
    common.write_result("pdf_tables", {"docs": args.docs, "rows_per_doc": args.rows, "rows": rows_out})


def measure(n_docs: int, n_rows: int, prose_pages: int) -> list[dict[str, Any]]:
    """The three readers on one generated corpus; one result row per reader."""
    import pdfplumber
    from pypdf import PdfReader

    from ragtune.kb.loaders import LoadOptions
    from ragtune.kb.loaders._pdf import load_pdf

    rng = random.Random(13)
    with tempfile.TemporaryDirectory() as tmp:
        files: list[tuple[Path, list[list[str]]]] = []
        for d in range(n_docs):
            path = Path(tmp) / f"report{d:02d}.pdf"
            files.append((path, make_report(path, f"Company {d:02d}", rng, n_rows, prose_pages)))
        total_rows = sum(len(rows) for _, rows in files)

        def run_pypdf(path: Path) -> tuple[int, str]:
            pages = PdfReader(path).pages
            return len(pages), "\n".join(p.extract_text() or "" for p in pages)

        def run_plumber(path: Path) -> tuple[int, str]:
            with pdfplumber.open(path) as pdf:
                texts = []
                for page in pdf.pages:
                    page.find_tables()
                    texts.append(page.extract_text() or "")
                    page.close()
                return len(pdf.pages), "\n".join(texts)

        def run_ragtune(path: Path) -> tuple[int, str]:
            doc = load_pdf(path, LoadOptions())[0]
            return int(doc.metadata["pages"]), doc.text

        readers = {"pypdf": run_pypdf, "pdfplumber": run_plumber, "ragtune": run_ragtune}
        rows_out: list[dict[str, Any]] = []
        for name, fn in readers.items():
            fn(files[0][0])  # warm-up: imports and first-call costs out of the timing
            t0 = time.perf_counter()
            pages = good = 0
            for path, rows in files:
                n, text = fn(path)
                pages += n
                good += intact(rows, text)
            seconds = time.perf_counter() - t0
            rows_out.append(
                {
                    "reader": name,
                    "prose_pages": prose_pages,
                    "pages": pages,
                    "seconds": round(seconds, 3),
                    "pages_per_s": round(pages / seconds, 1),
                    "rows_intact": round(good / total_rows, 3),
                }
            )
            print(rows_out[-1])
    return rows_out


if __name__ == "__main__":
    main()
