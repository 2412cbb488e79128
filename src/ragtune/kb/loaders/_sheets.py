"""Spreadsheets: Excel workbooks (.xlsx) and CSV files, their rows as Markdown tables.

The first row of a sheet is taken as its header row. A long sheet is written as consecutive tables that
each start with the header row (:func:`~._blocks.long_table_blocks`), so every chunk of it names the
columns its cells belong to.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

from ragtune.errors import LoaderError

from ..document import Document
from ._blocks import Block, cell_text, join_blocks, long_table_blocks, trim_rows
from ._decode import read_text
from ._office import bad_office_file
from ._options import LoadOptions

_SNIFF_CHARS = 64 * 1024
_DELIMITERS = ",;\t|"


def load_xlsx(path: Path, opts: LoadOptions) -> list[Document]:
    """An Excel workbook, read with formulas' cached values (what Excel last showed). Each non-empty sheet
    (hidden ones included) is a ``## Sheet: <name>`` section; ``metadata["sheets"]`` lists the names of
    the sheets with data. The title is the workbook's Title property, else the file stem."""
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise bad_office_file(path, "XLSX", exc) from None
    try:
        blocks: list[Block] = []
        names: list[str] = []
        for n, sheet in enumerate(workbook.worksheets, start=1):
            rows = trim_rows([[cell_text(v).strip() for v in row] for row in sheet.iter_rows(values_only=True)])
            table = long_table_blocks(rows, f"sheet{n}")
            if not table:
                continue
            names.append(sheet.title)
            blocks.append(Block(f"## Sheet: {sheet.title}"))
            blocks.extend(table)
        title = (workbook.properties.title or "").strip()
    finally:
        workbook.close()  # read-only mode keeps the file open until closed
    if not blocks:
        raise LoaderError(path, "no data in any sheet")
    return [Document(id="", title=title or path.stem, text=join_blocks(blocks), metadata={"sheets": names})]


def load_csv(path: Path, opts: LoadOptions) -> list[Document]:
    """A CSV (or TSV, semicolon- or pipe-separated) file as one table. Decoding follows the text-file rules
    (UTF-8, a BOM, or the ``encoding`` option); the delimiter and quoting are sniffed from the first
    64 KB, falling back to commas. The title is the file stem."""
    text = read_text(path, opts)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:_SNIFF_CHARS], delimiters=_DELIMITERS)
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        rows = trim_rows([[cell.strip() for cell in row] for row in reader])
    except csv.Error as exc:
        raise LoaderError(path, f"line {reader.line_num}: {exc}") from None
    blocks = long_table_blocks(rows, "table1")
    if not blocks:
        raise LoaderError(path, "no data rows")
    return [Document(id="", title=path.stem, text=join_blocks(blocks), metadata={"rows": len(rows)})]
