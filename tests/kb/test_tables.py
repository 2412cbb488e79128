"""Tables keep their structure: DOCX, HTML and PDF tables (generated here with python-docx and fpdf2) become
``| a | b |`` rows with each cell in its row and column, in document order; a long table's header row goes with
every chunk of it; a PDF table's rows keep their page; and an ingested table is found and quoted by a cell value
(real SQLite, the real bundled embedding model, the extractive answerer)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import docx
from fpdf import FPDF

from ragtune import KnowledgeBase
from ragtune.kb.chunking import chunk_document
from ragtune.kb.document import Document
from ragtune.kb.loaders import LoadOptions, load_file
from ragtune.kb.loaders._pdf_tables import page_may_hold_table
from ragtune.text import with_table_header

HEADER = ["SKU", "Product", "Price", "Warehouse"]
CITIES = ["Oslo", "Lima", "Perth", "Accra", "Quito"]
NOTE = "reordered twice this quarter after a supplier delay"


def product_rows(n: int) -> list[list[str]]:
    return [[f"SKU-{1000 + i}", f"Widget model {i}", f"{100 + i * 3}.{i % 100:02d}", CITIES[i % 5]] for i in range(n)]


def cells_of(line: str) -> list[str]:
    """The cells of one ``| a | b |`` row."""
    return [c.strip() for c in line.strip().strip("|").split("|")]


def table_lines(text: str) -> list[list[str]]:
    return [cells_of(line) for line in text.split("\n") if line.startswith("|") and "---" not in line]


def load_one(path: Path) -> Document:
    docs = load_file(path, LoadOptions())
    assert len(docs) == 1
    return docs[0]


def make_report_pdf(path: Path, rows: list[list[str]], *, notes: bool = True) -> Path:
    """Page 1 prose; page 2 a sentence then a ruled table (header, numbers, a multi-line cell) that runs onto
    page 3 and beyond; a closing sentence after it."""
    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    pdf.add_page()
    pdf.multi_cell(0, 6, "Inventory report of Northwind. The stock table follows on the next page.")
    pdf.add_page()
    pdf.multi_cell(0, 6, "Stock by product, counted on 30 June.")
    body = [[*values, NOTE if i % 7 == 0 else "-"] if notes else values for i, values in enumerate(rows)]
    with pdf.table() as table:
        for values in [[*HEADER, "Notes"] if notes else HEADER, *body]:
            row = table.row()
            for value in values:
                row.cell(value)
    pdf.multi_cell(0, 6, "End of the stock table.")
    pdf.output(str(path))
    return path


# -- DOCX -----------------------------------------------------------------------------------------------


def test_docx_table_rows_in_document_order_with_merged_and_nested_cells(tmp_path: Path) -> None:
    d = docx.Document()
    d.add_paragraph("Prices before the table.")
    table = d.add_table(rows=4, cols=3)
    for r, values in enumerate(
        [["Plan", "Monthly", "Annual"], ["Team", "$12", "$10"], ["Pro", "$20", "$16"], ["x", "y", "z"]]
    ):
        for c, value in enumerate(values):
            table.cell(r, c).text = value
    merged = table.cell(3, 1).merge(table.cell(3, 2))  # across two columns
    merged.text = "Contact sales"
    table.cell(3, 0).text = "Enterprise"
    down = table.cell(1, 2).merge(table.cell(2, 2))  # down two rows
    down.text = "on request"
    inner = table.cell(2, 0).add_table(rows=2, cols=2)
    for r in range(2):
        for c in range(2):
            inner.cell(r, c).text = f"n{r}{c}"
    d.add_paragraph("Text after the table.")
    path = tmp_path / "prices.docx"
    d.save(str(path))

    text = load_one(path).text
    assert text.index("Prices before the table.") < text.index("| Plan |") < text.index("Text after the table.")
    assert table_lines(text) == [
        ["Plan", "Monthly", "Annual"],
        ["Team", "$12", "on request"],
        ["Pro n00 / n01; n10 / n11", "$20", "on request"],
        ["Enterprise", "Contact sales", ""],
    ]
    assert "| --- | --- | --- |" in text


# -- HTML -----------------------------------------------------------------------------------------------


def test_html_table_spans_nested_tables_and_caption(tmp_path: Path) -> None:
    path = tmp_path / "plans.html"
    path.write_text(
        "<html><body><p>Our plans.</p><table><caption>Plans and prices</caption>"
        "<thead><tr><th>Plan</th><th colspan='2'>Price</th><th>Seats</th></tr></thead><tbody>"
        "<tr><td rowspan='2'>Team</td><td>monthly</td><td>$12</td><td rowspan='2'>3 to 50</td></tr>"
        "<tr><td>annual</td><td>$10</td></tr>"
        "<tr><td>Pro<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table></td>"
        "<td></td><td>$20</td><td>any</td></tr>"
        "</tbody></table><p>Prices exclude tax.</p></body></html>",
        encoding="utf-8",
    )
    text = load_one(path).text
    assert text.index("Our plans.") < text.index("Plans and prices") < text.index("| Plan |")
    assert text.index("| Plan |") < text.index("Prices exclude tax.")
    assert table_lines(text) == [
        ["Plan", "Price", "", "Seats"],
        ["Team", "monthly", "$12", "3 to 50"],
        ["Team", "annual", "$10", "3 to 50"],
        ["Pro a / b; c", "", "$20", "any"],
    ]


# -- PDF ------------------------------------------------------------------------------------------------


def test_pdf_table_cells_pages_and_no_loose_duplicates(tmp_path: Path) -> None:
    rows = product_rows(70)
    doc = load_one(make_report_pdf(tmp_path / "stock.pdf", rows))
    text = doc.text
    assert doc.metadata["pages"] >= 3 and doc.page_starts is not None
    found = table_lines(text)
    header_rows = [r for r in found if r[0] == "SKU"]
    assert header_rows and all(r == [*HEADER, "Notes"] for r in header_rows)  # fpdf2 repeats it on each page
    data = {r[0]: r for r in found if r[0] != "SKU"}
    assert len(data) == len(rows)
    for i, values in enumerate(rows):
        row = data[values[0]]
        assert row[:4] == values  # every cell in its row and column
        # a multi-line cell is one cell, its lines joined
        assert row[4] == (NOTE if i % 7 == 0 else "-")
    # the table's words are not repeated as loose text
    assert text.count("SKU-1042") == 1
    assert text.count("reordered twice") == sum(1 for i in range(70) if i % 7 == 0)
    # the sentences around the table stay in place, each on its page
    assert doc.page_at(text.index("Inventory report")) == 1
    assert doc.page_at(text.index("Stock by product")) == 2
    assert text.index("Stock by product") < text.index("| SKU |")
    assert doc.page_at(text.index("| SKU-1000 |")) == 2
    last = text.index("| SKU-1069 |")
    assert doc.page_at(last) == doc.metadata["pages"] > 2
    assert last < text.index("End of the stock table.")


def test_pages_without_ruling_lines_skip_the_table_reader() -> None:
    assert not page_may_hold_table(b"BT /F1 10 Tf 10 20 Td (l re l) Tj ET")
    assert page_may_hold_table(b"q 0.2 w 28.35 700 m 566.9 700 l S Q")
    assert page_may_hold_table(b"10 10 200 30 re f")


# -- chunking -------------------------------------------------------------------------------------------


def test_every_chunk_of_a_long_table_carries_its_header_row(embedder: Callable[..., object]) -> None:
    rows = product_rows(200)
    lines = ["| " + " | ".join(HEADER) + " |", "| --- | --- | --- | --- |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    text = "# Stock\n\nThe stock table.\n\n" + "\n".join(lines) + "\n\nEnd of the table."
    doc = Document(id="stock", title="Stock", text=text)
    counter = embedder.count_tokens  # type: ignore[attr-defined]
    chunks = chunk_document(doc, count_tokens=lambda t: counter([t])[0], count_tokens_batch=counter, max_tokens=120)
    in_table = [c for c in chunks if "| SKU-" in c.text]
    assert len(in_table) >= 10
    seen: set[str] = set()
    for c in in_table:
        assert c.text == text[c.start : c.end]  # the chunk is still a span of the document
        readable = with_table_header(f"Stock\n{c.table_header}" if c.table_header else "Stock", c.text)
        assert readable.split("\n")[0] == lines[0] or c.text.startswith("The stock table")
        if c.table_header:
            assert c.table_header == lines[0] + "\n" + lines[1]
            assert lines[0] not in c.text
        else:
            assert lines[0] in c.text  # the first piece holds the header itself
        seen.update(re.findall(r"SKU-\d+", c.text))
    assert len(seen) == 200
    assert not [c for c in chunks if "End of the table." in c.text and "| SKU-" not in c.text and c.table_header]


# -- end to end -----------------------------------------------------------------------------------------


def test_a_pdf_table_row_is_found_by_a_cell_value_and_quoted(
    tmp_path: Path, open_kb: Callable[[Path], KnowledgeBase]
) -> None:
    rows = product_rows(200)
    docs = tmp_path / "docs"
    docs.mkdir()
    path = make_report_pdf(docs / "stock.pdf", rows, notes=False)
    loaded = load_one(path)
    kb = open_kb(tmp_path / "kb")
    kb.ingest([docs])

    target = rows[137]  # far into the table: its chunk starts below the header row
    page = loaded.page_at(loaded.text.index(f"| {target[0]} |"))
    assert page is not None and page >= 3
    row = f"| {target[0]} | {target[1]} | {target[2]} | {target[3]} |"
    best = kb.search(f"{target[0]} price", mode="lexical")[0]
    assert row in best.text
    assert best.page == page
    assert best.readable_text.startswith("| SKU | Product | Price | Warehouse |")
    assert any(row in p.text for p in kb.search(f"What is the price of {target[0]}?", k=5))  # hybrid, top 5

    answer = kb.strategies()["rag-extractive"].ask(f"What is the price of {target[0]}?")
    assert answer.answered
    assert target[2] in answer.text
    assert answer.citations and answer.citations[0].page == page
