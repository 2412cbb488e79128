"""OCR of scanned pages with the real Tesseract: PDFs whose pages are images with no text layer, and image files.

The scans are made here (benchmarks/scans.py): text and a small table drawn with a real TrueType font, skewed,
blurred and specked, embedded as a PDF page without text. The engine-absent path points the loader at a program
that does not exist, which is what a machine without Tesseract has.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ragtune.config import Settings
from ragtune.errors import LoaderError
from ragtune.kb.loaders import LoadOptions, load_file, supported_extensions
from ragtune.knowledge_base import KnowledgeBase

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import scans

# Measured on these pages at the default 200 DPI: CER 0.000 on the prose lines (benchmarks/ocr_speed.py gives
# 0.2-0.6 % over more varied pages); the bound leaves room for another Tesseract build, not for a broken pipeline.
MAX_CER = 0.03
MISSING = "/nonexistent/bin/tesseract"

LINES = [
    "Quarterly maintenance report for the Harbor Street depot.",
    "The backup generator was serviced on 14 March by Orlen Technical.",
    "Fuel consumption fell by 12 percent after the new injectors were fitted.",
    "Next inspection is due in September; contact Mira Kowalczyk for access.",
]
TABLE = [["Unit", "Hours", "Status"], ["GEN-4", "1,204", "serviced"], ["PUMP-2", "377", "replaced"]]
TYPED = ["Depot budget overview, typed with a text layer.", "Spending stayed within the approved plan this year."]


@pytest.fixture(scope="module", autouse=True)
def tesseract() -> None:
    assert shutil.which("tesseract"), "these tests need Tesseract: make ocr (sudo apt-get install tesseract-ocr-eng)"


@pytest.fixture(scope="module")
def scan_image() -> Any:
    return scans.page_image(LINES, TABLE, seed=1)


@pytest.fixture
def mixed_pdf(tmp_path: Path, scan_image: Any) -> Path:
    """Page 1 typed, page 2 scanned, page 3 typed."""
    return scans.write_pdf(tmp_path / "depot.pdf", [TYPED, scan_image, ["Appendix: contact list, typed."]])


@pytest.fixture
def scanned_pdf(tmp_path: Path, scan_image: Any) -> Path:
    return scans.write_pdf(tmp_path / "scan.pdf", [scan_image])


def ocr_part(doc: Any, page: int) -> str:
    starts = doc.page_starts
    end = starts[page] if page < len(starts) else len(doc.text)
    return str(doc.text[starts[page - 1] : end])


def test_a_scanned_page_is_read_and_keeps_its_page_number(mixed_pdf: Path) -> None:
    [doc] = load_file(mixed_pdf)
    assert doc.metadata["pages"] == 3
    assert doc.metadata["ocr_pages"] == [2]
    assert "warnings" not in doc.metadata
    scanned = ocr_part(doc, 2)
    prose = scanned[: scanned.index("Kowalczyk for access") + 20]  # the lines above the table
    assert scans.cer("\n".join(LINES), prose) < MAX_CER, scanned
    for cell in ("Unit", "Hours", "Status", "GEN-4", "1,204", "serviced", "PUMP-2", "377", "replaced"):
        assert cell in scanned, (cell, scanned)
    assert doc.page_at(doc.text.index("Kowalczyk")) == 2
    assert doc.page_at(doc.text.index("Depot budget")) == 1
    assert doc.page_at(doc.text.index("Appendix")) == 3


def test_a_pdf_that_is_all_scan_is_read(scanned_pdf: Path) -> None:
    [doc] = load_file(scanned_pdf)
    assert doc.metadata["ocr_pages"] == [1]
    assert doc.title == LINES[0]
    assert "Orlen Technical" in doc.text


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tiff"])
def test_image_files_are_documents_read_by_ocr(tmp_path: Path, scan_image: Any, suffix: str) -> None:
    path = tmp_path / f"memo{suffix}"
    scan_image.save(path)
    [doc] = load_file(path)
    assert suffix in supported_extensions()
    assert doc.metadata["format"] == suffix.lstrip(".")
    assert doc.metadata["ocr_pages"] == [1]
    assert doc.page_starts is None
    prose = doc.text[: doc.text.index("Kowalczyk for access") + 20]
    assert scans.cer("\n".join(LINES), prose) < MAX_CER, doc.text


def test_a_multi_page_tiff_keeps_its_pages(tmp_path: Path, scan_image: Any) -> None:
    second = scans.page_image(["Page two of the fax: the invoice total is 4,180 euros."], seed=2)
    path = tmp_path / "fax.tif"
    scan_image.save(path, save_all=True, append_images=[second])
    [doc] = load_file(path)
    assert doc.metadata["pages"] == 2
    assert doc.metadata["ocr_pages"] == [1, 2]
    assert doc.page_at(doc.text.index("4,180")) == 2
    assert doc.page_at(doc.text.index("Kowalczyk")) == 1


def test_a_page_over_the_ocr_time_limit_is_skipped_with_a_warning(mixed_pdf: Path) -> None:
    [doc] = load_file(mixed_pdf, LoadOptions(ocr_timeout_s=0.01))
    assert "ocr_pages" not in doc.metadata
    [warning] = doc.metadata["warnings"]
    assert warning.startswith("page 2 not read: OCR took over 0.01 s"), warning
    assert "Depot budget" in doc.text and "Appendix" in doc.text
    assert doc.page_at(doc.text.index("Appendix")) == 3


def test_a_scan_whose_only_page_times_out_is_an_error(scanned_pdf: Path) -> None:
    with pytest.raises(LoaderError, match=r"scan\.pdf.*OCR read no text: page 1 not read: OCR took over"):
        load_file(scanned_pdf, LoadOptions(ocr_timeout_s=0.01))


def test_without_the_engine_scanned_pages_are_skipped_with_a_warning(mixed_pdf: Path) -> None:
    [doc] = load_file(mixed_pdf, LoadOptions(ocr_command=MISSING))
    [warning] = doc.metadata["warnings"]
    assert "page 2 not read: the OCR engine is not installed" in warning
    assert "apt-get install tesseract-ocr tesseract-ocr-eng" in warning
    assert "Depot budget" in doc.text and "Kowalczyk" not in doc.text


def test_without_the_engine_an_all_scan_pdf_or_an_image_is_an_error(scanned_pdf: Path, tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match=r"scan\.pdf.*no text layer.*apt-get install tesseract-ocr") as exc:
        load_file(scanned_pdf, LoadOptions(ocr_command=MISSING))
    assert exc.value.path == str(scanned_pdf)
    image = tmp_path / "memo.png"
    scans.page_image(LINES[:1]).save(image)
    with pytest.raises(LoaderError, match=r"memo\.png.*image needs OCR.*apt-get install tesseract-ocr"):
        load_file(image, LoadOptions(ocr_command=MISSING))


def test_ocr_can_be_turned_off(mixed_pdf: Path, scanned_pdf: Path) -> None:
    [doc] = load_file(mixed_pdf, LoadOptions(ocr=False))
    assert doc.metadata["warnings"] == ["page 2 not read: OCR is off (ocr = false)"]
    with pytest.raises(LoaderError, match="OCR is off"):
        load_file(scanned_pdf, LoadOptions(ocr=False))


def test_a_damaged_image_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    with pytest.raises(LoaderError, match=r"broken\.png.*cannot read image"):
        load_file(bad)


def test_bad_ocr_options_are_refused() -> None:
    from ragtune.errors import ConfigError

    with pytest.raises(ConfigError, match="ocr_timeout_s"):
        LoadOptions(ocr_timeout_s=0)
    with pytest.raises(ConfigError, match="ocr_dpi"):
        LoadOptions(ocr_dpi=10)


@pytest.mark.usefixtures("hermetic")
def test_ingest_and_search_find_a_fact_only_in_a_scanned_page(
    open_kb: Callable[[Path], KnowledgeBase], tmp_path: Path, scan_image: Any
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "policy.md").write_text("# Leave policy\n\nEmployees get 25 days of paid leave a year.\n")
    # The scanned page is longer than a chunk, the fact at its end: its passage starts on page 2.
    items = ["doors", "lights", "windows", "alarms", "floors", "vents"] * 4
    rooms = [f"Room {n} of the depot was inspected and its {item} were found in order." for n, item in enumerate(items)]
    scans.write_pdf(docs / "depot.pdf", [TYPED, scans.page_image([*rooms, "", *LINES], seed=3)])
    kb = open_kb(tmp_path / "kb")
    report = kb.ingest([docs])
    assert report.ok and not report.warnings, (report.errors, report.warnings)
    [hit] = kb.search("Who services the backup generator?", k=1)
    assert hit.doc_id == "depot.pdf" and "Orlen Technical" in hit.text
    info, _ = kb.document("depot.pdf")
    assert info.metadata["ocr_pages"] == [2]
    assert hit.page == 2

    # Without the engine: the same file loads with its typed page, and the ingest reports what it missed.
    (docs / "depot.pdf").unlink()
    scans.write_pdf(docs / "depot2.pdf", [TYPED, scan_image])
    report = kb.ingest([docs], ocr_command=MISSING)
    assert report.ok
    assert [(w.path, w.reason[:27]) for w in report.warnings] == [
        (str(docs / "depot2.pdf"), "page 2 not read: the OCR en")
    ]
    assert report.as_dict()["warnings"][0]["path"] == str(docs / "depot2.pdf")


def test_ocr_settings_come_from_the_config(open_kb: Callable[[Path], KnowledgeBase], tmp_path: Path) -> None:
    settings = Settings()
    settings.loaders.ocr = False
    settings.loaders.ocr_dpi = 300
    kb = KnowledgeBase.open(tmp_path / "kb", create=True, settings=settings, embedder=open_kb(tmp_path / "x").embedder)
    try:
        opts = kb.load_options()
        assert (opts.ocr, opts.ocr_dpi, opts.ocr_timeout_s) == (False, 300, 20.0)
    finally:
        kb.close()


@pytest.mark.parametrize("dpi", [100, 150, 300])
def test_a_scan_is_rendered_at_its_own_resolution_when_lower(tmp_path: Path, dpi: int) -> None:
    import pypdfium2 as pdfium
    from fpdf import FPDF
    from PIL import Image

    from ragtune.kb.loaders._ocr import scan_dpi

    image = tmp_path / "scan.png"
    Image.new("L", (int(8.27 * dpi), int(11.69 * dpi)), 255).save(image)  # A4 at `dpi`
    pdf = FPDF()
    pdf.add_page()
    pdf.image(str(image), x=0, y=0, w=pdf.w, h=pdf.h)
    pdf.output(str(tmp_path / "scan.pdf"))
    doc = pdfium.PdfDocument(tmp_path / "scan.pdf")
    try:
        assert scan_dpi(doc[0]) == pytest.approx(dpi, rel=0.01)
    finally:
        doc.close()
