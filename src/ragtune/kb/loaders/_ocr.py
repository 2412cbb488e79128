"""OCR: text from scanned PDF pages and from image files, with Tesseract (via pytesseract).

A PDF page whose text layer holds fewer than :data:`MIN_TEXT_CHARS` visible characters is rendered with
pypdfium2 at ``LoadOptions.ocr_dpi`` (or at its scan's own resolution when that is lower: :func:`scan_dpi`) and
read by Tesseract under ``LoadOptions.ocr_timeout_s``. A page that
cannot be read (engine absent, time limit, OCR off) is left empty and named in the document's
``metadata["warnings"]``, which the ingest report shows per file; the rest of the document is kept. A file
with no readable page at all is a LoaderError that says why (and how to install Tesseract when it is
missing). Pages read by OCR are listed in ``metadata["ocr_pages"]``.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ragtune.errors import LoaderError

from ..document import Document
from ._options import LoadOptions
from ._pdf import clean_page_text, first_line

if TYPE_CHECKING:
    from PIL.Image import Image

MIN_SCAN_DPI = 72.0  # never render below this, however coarse the scan
MIN_TEXT_CHARS = 16
"""A PDF page with fewer visible characters in its text layer than this is treated as scanned."""

INSTALL_HINT = "install Tesseract: sudo apt-get install tesseract-ocr tesseract-ocr-eng (or `make ocr`)"
_DEADLINE_SHARE = 0.8  # OCR stops starting pages past this share of the per-file limit, to keep the pages done


class OcrUnavailable(Exception):
    """The OCR engine cannot run (not installed, or its language data missing)."""


@dataclass
class OcrPages:
    """What OCR made of some pages: page number → text, and a warning per page it could not read."""

    text: dict[int, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    unavailable: str = ""  # why the engine could not run at all, if it could not


def needs_ocr(page_text: str) -> bool:
    """True when a PDF page's text layer is (almost) empty: a scan."""
    return sum(not c.isspace() for c in page_text) < MIN_TEXT_CHARS


def engine_missing(opts: LoadOptions) -> str:
    """Why OCR cannot run with ``opts`` ("" when it can): switched off, or no Tesseract binary."""
    if not opts.ocr:
        return "OCR is off (ocr = false)"
    if shutil.which(opts.ocr_command) is None:
        return f"the OCR engine is not installed ({opts.ocr_command!r} not found); {INSTALL_HINT}"
    return ""


def ocr_image(image: Image, opts: LoadOptions, timeout_s: float) -> str:
    """The text Tesseract reads in ``image``, cleaned. Raises TimeoutError past ``timeout_s`` and
    OcrUnavailable when the engine cannot run."""
    import pytesseract

    # One OpenMP thread: on the 2-core benchmark machine Tesseract's default threads spin-waited in the kernel and
    # benchmarks/ocr_speed.py read 0.14 pages/s at 200 DPI, against 1.17 with one thread. Set it to override.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    pytesseract.pytesseract.tesseract_cmd = opts.ocr_command
    try:
        raw = pytesseract.image_to_string(image, lang=opts.ocr_lang, timeout=timeout_s)
    except pytesseract.TesseractNotFoundError:
        missing = f"the OCR engine is not installed ({opts.ocr_command!r} not found); {INSTALL_HINT}"
        raise OcrUnavailable(missing) from None
    except pytesseract.TesseractError as exc:  # e.g. the language's data file is missing
        raise OcrUnavailable(f"Tesseract failed: {' '.join(str(exc.message).split())[:200]}") from None
    except RuntimeError as exc:
        if "timeout" in str(exc).lower():
            raise TimeoutError from None
        raise
    return clean_page_text(raw.replace("\x0c", "\n"))  # Tesseract ends a page with a form feed


def ocr_pdf_pages(path: Path, numbers: list[int], opts: LoadOptions) -> OcrPages:
    """OCR the 1-based pages ``numbers`` of the PDF at ``path``."""
    result = OcrPages()
    if not numbers:
        return result
    missing = engine_missing(opts)
    if missing:
        result.unavailable = missing
        result.warnings.append(f"{_pages(numbers)} not read: {missing}")
        return result
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(path)
    try:
        _run(numbers, lambda n: _render(pdf, n, opts.ocr_dpi), opts, result)
    finally:
        pdf.close()
    return result


def fill_scanned_pages(path: Path, pages: list[str], opts: LoadOptions) -> dict[str, object]:
    """Replace the text of each scanned page in ``pages`` (a PDF's, 1-based order) by its OCR; the metadata
    to add to the document (``ocr_pages``, ``warnings``). LoaderError when every page was a scan and none
    could be read."""
    numbers = [n for n, text in enumerate(pages, start=1) if needs_ocr(text)]
    if not numbers:
        return {}
    result = ocr_pdf_pages(path, numbers, opts)
    for number, text in result.text.items():
        pages[number - 1] = text
    if len(numbers) == len(pages) and not any(result.text.values()):
        if result.unavailable:
            raise LoaderError(path, f"no text layer (a scanned PDF) and {result.unavailable}")
        if result.warnings:
            missed = "; ".join(result.warnings)
            raise LoaderError(path, f"no text layer (a scanned PDF), and OCR read no text: {missed}")
        # OCR ran on every page and found nothing: the loader reports a file with no text.
    metadata: dict[str, object] = {}
    if result.text:
        metadata["ocr_pages"] = sorted(result.text)
    if result.warnings:
        metadata["warnings"] = result.warnings
    return metadata


def load_image(path: Path, opts: LoadOptions) -> list[Document]:
    """An image file (PNG, JPEG, TIFF; each TIFF frame a page) read by OCR."""
    missing = engine_missing(opts)
    if missing:
        raise LoaderError(path, f"an image needs OCR, and {missing}")
    from PIL import Image as PILImage
    from PIL import ImageSequence, UnidentifiedImageError

    try:
        with PILImage.open(path) as img:
            frames = [frame.convert("L") for frame in ImageSequence.Iterator(img)]
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise LoaderError(path, f"cannot read image: {str(exc) or type(exc).__name__}") from None
    result = OcrPages()
    _run(list(range(1, len(frames) + 1)), lambda n: frames[n - 1], opts, result)
    if result.unavailable:
        raise LoaderError(path, result.unavailable)
    pages = [result.text.get(n, "") for n in range(1, len(frames) + 1)]
    if not any(pages):
        reason = "; ".join(result.warnings) or "OCR found no text in the image"
        raise LoaderError(path, reason)
    metadata: dict[str, object] = {"ocr_pages": sorted(result.text)}
    if len(frames) > 1:
        metadata["pages"] = len(frames)
    if result.warnings:
        metadata["warnings"] = result.warnings
    text, starts = join_pages(pages)
    return [
        Document(
            id="",
            title=first_line(text) or path.stem,
            text=text,
            metadata=metadata,
            page_starts=starts if len(frames) > 1 else None,
        )
    ]


def join_pages(pages: list[str]) -> tuple[str, list[int]]:
    """Pages joined by a blank line, and the offset where each starts."""
    starts, offset = [], 0
    for page in pages:
        starts.append(offset)
        offset += len(page) + 2
    return "\n\n".join(pages), starts


def _run(numbers: list[int], image_of, opts: LoadOptions, result: OcrPages) -> None:  # type: ignore[no-untyped-def]
    """OCR each page under the per-page limit, and stop starting pages near the per-file one."""
    started = time.monotonic()
    budget = None if opts.timeout_s is None else opts.timeout_s * _DEADLINE_SHARE
    for i, number in enumerate(numbers):
        left = None if budget is None else budget - (time.monotonic() - started)
        if left is not None and left <= 0.5:
            rest = numbers[i:]
            result.warnings.append(
                f"{_pages(rest)} not read: OCR stopped near the per-file time limit ({opts.timeout_s:g} s; "
                "raise [loaders] timeout_s for long scans)"
            )
            return
        limit = opts.ocr_timeout_s if left is None else min(opts.ocr_timeout_s, left)
        try:
            result.text[number] = ocr_image(image_of(number), opts, limit)
        except TimeoutError:
            result.warnings.append(f"page {number} not read: OCR took over {limit:g} s (ocr_timeout_s)")
        except OcrUnavailable as exc:
            result.unavailable = str(exc)
            result.warnings.append(f"{_pages(numbers[i:])} not read: {exc}")
            return


def _render(pdf, number: int, dpi: int) -> Image:  # type: ignore[no-untyped-def]
    """The page as an image for Tesseract: at ``dpi``, or at the resolution of the scan that fills it when that is
    lower — re-rendering a 150-DPI scan at 200 DPI interpolates its glyphs, and Tesseract then lost most figures
    that it read from the scan's own pixels (``benchmarks/annual_reports_bench.py``: 22 vs 123 on 7 pages)."""
    page = pdf[number - 1]
    try:
        native = scan_dpi(page)
        scale = (min(dpi, native) if native else dpi) / 72
        return page.render(scale=scale, grayscale=True).to_pil()
    finally:
        page.close()


def scan_dpi(page) -> float | None:  # type: ignore[no-untyped-def]
    """The resolution of the image covering at least half of ``page`` (a pypdfium2 page), in pixels per inch of
    its drawn width; None when no image does (e.g. vector text drawn as curves)."""
    import pypdfium2.raw as pdfium_c

    width, height = page.get_size()
    best = None
    for image in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]):
        left, bottom, right, top = image.get_bounds()
        if right <= left or (right - left) * (top - bottom) < 0.5 * width * height:
            continue
        px_width, _ = image.get_px_size()
        dpi = px_width / ((right - left) / 72)
        best = dpi if best is None else max(best, dpi)
    return max(best, MIN_SCAN_DPI) if best else None


def _pages(numbers: list[int]) -> str:
    if len(numbers) == 1:
        return f"page {numbers[0]}"
    return "pages " + ", ".join(str(n) for n in numbers)
