"""PDF files: the text of each page, with the offset where each page starts."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError, PdfReadError

from ragtune.errors import LoaderError

from ..document import Document
from ._options import LoadOptions
from ._pdf_tables import page_may_hold_table, pages_with_tables

_EOF_WINDOW = 8192
_BLANK_RUNS = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_TRAILING_WS = re.compile(r"[ \t]+\n")
_MAX_TITLE_LINE = 120
_DIGITS = re.compile(r"\d+")
_WORDS = re.compile(r"[^\W\d_]+")
RUNNING_MIN_PAGES = 3
RUNNING_MIN_SHARE = 0.4


def load_pdf(path: Path, opts: LoadOptions) -> list[Document]:
    """A PDF's text, page by page, pages separated by a blank line; ``page_starts`` records where each
    page begins and ``metadata["pages"]`` how many there are.

    Refused with a LoaderError: a truncated file (no ``%%EOF`` near its end; pypdf would otherwise
    "repair" it and silently drop the missing pages), any file pypdf cannot parse (its reason is kept),
    an encrypted file that does not open with the empty password, and a file with no extractable text.
    Pages without a text layer (scans) are read by OCR when it is available (see ``_ocr.py``).
    The title is the PDF's own Title, else its first short line, else the file name's stem.
    """
    with path.open("rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - _EOF_WINDOW))
        if b"%%EOF" not in f.read():
            raise LoaderError(path, "truncated or damaged PDF (no %%EOF marker at the end)")
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not _decrypt(reader):
            raise LoaderError(path, "encrypted PDF (a password is needed to read it)")
        pages = []
        ruled: list[int] = []  # pages that draw lines: pdfplumber looks for tables there
        for number, page in enumerate(reader.pages, start=1):
            try:
                pages.append(clean_page_text(page.extract_text() or ""))
                contents = page.get_contents()
                if opts.tables and contents is not None and page_may_hold_table(contents.get_data()):
                    ruled.append(number - 1)
            except (PdfReadError, ValueError, KeyError, TypeError) as exc:
                raise LoaderError(path, f"page {number}: {_reason(exc)}") from None
        info_title = _info_title(reader)
    except FileNotDecryptedError:
        raise LoaderError(path, "encrypted PDF (a password is needed to read it)") from None
    except (PdfReadError, OSError, ValueError, KeyError, TypeError) as exc:
        raise LoaderError(path, f"cannot parse PDF: {_reason(exc)}") from None
    try:
        for index, page_text in pages_with_tables(path, ruled).items():
            pages[index] = clean_page_text(page_text)
    except Exception as exc:  # pdfminer's own errors: the file is readable by pypdf, so say which step failed
        raise LoaderError(path, f"table extraction failed: {_reason(exc)}") from None

    from ._ocr import fill_scanned_pages  # pages without a text layer: OCR (see _ocr.py)

    extra = fill_scanned_pages(path, pages, opts)
    if not any(pages):
        raise LoaderError(path, "no extractable text (scanned PDF?)")

    page_starts: list[int] = []
    offset = 0
    for page_text in pages:
        page_starts.append(offset)
        offset += len(page_text) + 2  # the blank line that joins pages
    text = "\n\n".join(pages)
    title = info_title or first_line(text) or path.stem
    metadata = {"pages": len(pages), **extra}
    header = running_header(pages)
    if header:
        metadata["running_header"] = header
    return [Document(id="", title=title, text=text, metadata=metadata, page_starts=page_starts)]


def running_header(pages: list[str]) -> str:
    """The line a document repeats at the top or bottom of its pages ("Northwind Turbines — Annual Report 2023"),
    the longest when there are several: on at least ``RUNNING_MIN_PAGES`` pages and ``RUNNING_MIN_SHARE`` of them,
    compared with digits blanked (page numbers vary), holding two words or more besides "page" / "of"."""
    edge_lines: Counter[str] = Counter()
    written: dict[str, str] = {}
    for page in pages:
        lines = [line.strip() for line in page.split("\n") if line.strip()]
        for line in {*lines[:2], *lines[-2:]}:
            if len(line) > _MAX_TITLE_LINE or line.startswith("|"):
                continue
            key = _DIGITS.sub("#", " ".join(line.casefold().split()))
            edge_lines[key] += 1
            written.setdefault(key, line)
    need = max(RUNNING_MIN_PAGES, RUNNING_MIN_SHARE * len(pages))
    found = [key for key, n in edge_lines.items() if n >= need and len(set(_WORDS.findall(key)) - {"page", "of"}) >= 2]
    return written[max(found, key=len)] if found else ""


def _decrypt(reader: PdfReader) -> bool:
    """Many PDFs are encrypted only against editing and open with the empty password."""
    try:
        return bool(reader.decrypt(""))
    except Exception:  # e.g. AES without the optional crypto dependency
        return False


def clean_page_text(page_text: str) -> str:
    """A page's text with line ends unified, NULs dropped, trailing blanks and runs of blank lines collapsed."""
    text = page_text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = _TRAILING_WS.sub("\n", text)
    return _BLANK_RUNS.sub("\n\n", text).strip()


def _info_title(reader: PdfReader) -> str:
    try:
        meta = reader.metadata
        title = meta.title if meta is not None else None
    except Exception:  # a damaged Info dictionary costs the title, not the file
        return ""
    return " ".join(str(title).split()) if title else ""


def first_line(text: str) -> str:
    for line in text.split("\n"):
        line = line.strip()
        if line:
            return line if len(line) <= _MAX_TITLE_LINE else ""
    return ""


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
