"""OCR of scanned PDF pages: accuracy and speed at 150, 200 and 300 DPI, beside pypdf reading the same pages typed.

Pages are made by benchmarks/scans.py: prose built from a fixed seed (names, dates, amounts) in 7 to 12 pt, two
fonts (DejaVu Sans, Liberation Sans/DejaVu Serif), every other page with a small ruled table, skewed 0.2-0.6 degrees,
blurred and specked; each drawn at 300 DPI and embedded as a PDF page without a text layer. Each page is read by
``ragtune.kb.loaders._ocr.ocr_pdf_pages`` (pypdfium2 render at the DPI + Tesseract) one page at a time, so the time
per page includes rendering. Accuracy: character error rate (edit distance / reference length, whitespace
normalised) against the text drawn, table rows read left to right. The peer is the same text written as a real
text layer (fpdf2, Helvetica) and read by pypdf's ``extract_text``, as ragtune reads typed PDFs.

    .venv/bin/python benchmarks/ocr_speed.py [--pages 12]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import scans

DPIS = (150, 200, 300)
SIZES = (7, 8, 9, 10, 11, 12)  # pt; 7 pt is footnote print
NAMES = ["Mira Kowalczyk", "Jonas Abebe", "Priya Raman", "Tomasz Lind", "Ana Okafor", "Lee Haddad"]
PLACES = ["Harbor Street depot", "north warehouse", "Elm Road office", "river pumping station", "west yard"]
THINGS = ["backup generator", "fire alarm panel", "cooling unit", "loading crane", "water pump", "roof drain"]
MONTHS = ["January", "March", "April", "June", "September", "November"]


def page_content(rng: random.Random, n_lines: int) -> list[str]:
    lines = []
    for _ in range(n_lines):
        lines.append(
            rng.choice(
                [
                    f"The {rng.choice(THINGS)} at the {rng.choice(PLACES)} was checked on "
                    f"{rng.randint(1, 28)} {rng.choice(MONTHS)} by {rng.choice(NAMES)}.",
                    f"Costs for the {rng.choice(THINGS)} came to {rng.randint(100, 9999):,} euros, "
                    f"{rng.randint(2, 40)} percent over the plan.",
                    f"Contact {rng.choice(NAMES)} before any work at the {rng.choice(PLACES)}; "
                    f"keys are kept in cabinet {rng.randint(1, 60)}.",
                ]
            )
        )
    return lines


def table_content(rng: random.Random) -> list[list[str]]:
    rows = [["Unit", "Hours", "Cost", "Status"]]
    for _ in range(4):
        rows.append(
            [
                f"{rng.choice(['GEN', 'PUMP', 'FAN', 'CRN'])}-{rng.randint(1, 20)}",
                f"{rng.randint(10, 5000):,}",
                f"{rng.randint(1, 999)}.{rng.randint(0, 99):02d}",
                rng.choice(["serviced", "replaced", "pending", "retired"]),
            ]
        )
    return rows


def build(n_pages: int, folder: Path) -> tuple[Path, Path, list[str]]:
    """A scanned PDF, the same pages typed, and each page's reference text."""
    rng = random.Random(13)
    images, typed, refs = [], [], []
    fonts = list(scans.FONTS)
    for i in range(n_pages):
        size = SIZES[i % len(SIZES)]
        lines = page_content(rng, 14)
        table = table_content(rng) if i % 2 else None
        scans.FONTS = (fonts[i % 2], *fonts)  # alternate the face (page_image takes the first that exists)
        images.append(scans.page_image(lines, table, font_pt=size, skew_deg=rng.uniform(0.2, 0.6), seed=i, noise=0.02))
        rows = [" ".join(r) for r in table] if table else []
        typed.append(lines + rows)
        refs.append("\n".join(lines + rows))
    scans.FONTS = tuple(fonts)
    return scans.write_pdf(folder / "scan.pdf", images), scans.write_pdf(folder / "typed.pdf", typed), refs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=12)
    args = ap.parse_args()

    from pypdf import PdfReader

    from ragtune.kb.loaders import LoadOptions
    from ragtune.kb.loaders._ocr import ocr_pdf_pages

    with tempfile.TemporaryDirectory() as tmp:
        scan_pdf, typed_pdf, refs = build(args.pages, Path(tmp))
        numbers = list(range(1, args.pages + 1))
        ocr_pdf_pages(scan_pdf, [1], LoadOptions(timeout_s=None, ocr_dpi=150))  # warm-up: imports, page cache
        rows: list[dict[str, Any]] = []
        for dpi in DPIS:
            opts = LoadOptions(timeout_s=None, ocr_dpi=dpi, ocr_timeout_s=120)
            seconds, cers = [], []
            for n in numbers:
                started = time.perf_counter()
                got = ocr_pdf_pages(scan_pdf, [n], opts)
                seconds.append(time.perf_counter() - started)
                cers.append(scans.cer(refs[n - 1], got.text.get(n, "")))
            rows.append(_row(f"OCR {dpi} DPI (Tesseract)", seconds, cers, refs))
        reader = PdfReader(typed_pdf)
        seconds, cers = [], []
        for n in numbers:
            started = time.perf_counter()
            text = reader.pages[n - 1].extract_text() or ""
            seconds.append(time.perf_counter() - started)
            cers.append(scans.cer(refs[n - 1], text))
        rows.append(_row("peer: pypdf extract_text, typed page", seconds, cers, refs))

    import pytesseract

    headers = ["reader", "pages/s", "s/page p50", "s/page max", "CER mean", "CER max"] + [f"CER {p} pt" for p in SIZES]
    print(
        common.table(
            headers,
            [
                [r["reader"], r["pages_per_s"], r["s_p50"], r["s_max"], r["cer_mean"], r["cer_max"]]
                + [r["cer_by_pt"].get(str(p), "") for p in SIZES]
                for r in rows
            ],
        )
    )
    common.write_result(
        "ocr_speed",
        {
            "pages": args.pages,
            "tesseract": str(pytesseract.get_tesseract_version()),
            "default_dpi": LoadOptions().ocr_dpi,
            "rows": rows,
        },
    )


def _row(reader: str, seconds: list[float], cers: list[float], refs: list[str]) -> dict[str, Any]:
    by_pt: dict[str, list[float]] = {}
    for i, c in enumerate(cers):
        by_pt.setdefault(str(SIZES[i % len(SIZES)]), []).append(c)
    return {
        "reader": reader,
        "pages_per_s": len(seconds) / sum(seconds),
        "s_p50": statistics.median(seconds),
        "s_max": max(seconds),
        "cer_mean": statistics.mean(cers),
        "cer_max": max(cers),
        "cer_by_pt": {k: statistics.mean(v) for k, v in by_pt.items()},
        "cer_per_page": cers,
        "chars": sum(len(r) for r in refs),
    }


if __name__ == "__main__":
    main()
