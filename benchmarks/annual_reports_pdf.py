"""One synthetic annual report as a PDF (fpdf2): a cover, prose, and four ruled tables, one per page.

Used by benchmarks/annual_reports.py, which plans the reports and scans some of their pages afterwards."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import TYPE_CHECKING

from fpdf import FPDF

import annual_reports_text as words

if TYPE_CHECKING:
    from annual_reports import Report


class _ReportPDF(FPDF):
    """A4 pages with an optional running header (from page 2, as filings print it) and a page number."""

    def __init__(self, running_header: str) -> None:
        super().__init__(format="A4")
        self.core_fonts_encoding = "windows-1252"  # em dashes and curly quotes, with the core Helvetica
        self.running_header = running_header
        self.set_margins(18, 16, 18)
        self.set_auto_page_break(True, margin=18)

    def header(self) -> None:
        if self.running_header and self.page_no() > 1:
            self.set_font("Helvetica", "I", 8)
            self.cell(0, 5, self.running_header, align="R", new_x="LMARGIN", new_y="NEXT")
            self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
            self.ln(4)

    def footer(self) -> None:
        if self.page_no() > 1:
            self.set_y(-12)
            self.set_font("Helvetica", "", 8)
            self.cell(0, 5, str(self.page_no()), align="C")


def write_report(
    path: Path,
    report: Report,
    book: dict[str, int],
    prior: dict[str, int],
    rng: random.Random,
    created: dt.datetime,
) -> list[tuple[str, int]]:
    """Write ``report`` to ``path`` with this year's figures ``book`` and last year's ``prior``; set its ``pages`` and
    ``table_pages``. Returns (printed figure, page) for every figure in its tables."""
    c, year = report.company, report.year
    pdf = _ReportPDF(report.running_header)
    pdf.set_creation_date(created)
    if report.info_title:
        pdf.set_title(report.info_title)
    fye = words.FISCAL_YEAR_END[c.industry]
    _cover(pdf, report, fye, rng)
    if report.cover == "glossy":
        _prose(pdf, "Letter to Shareholders", "Management's Discussion and Analysis", c.industry, rng, 14)
    _prose(pdf, _heading(report, "Business"), "Business", c.industry, rng, 16, opening=_opening(report, rng))
    for _ in range(rng.choice([1, 2])):
        _prose(pdf, _heading(report, "Risk Factors"), "Risk Factors", c.industry, rng, 18)
    for _ in range(rng.choice([1, 2])):
        _prose(pdf, _heading(report, "Management's Discussion and Analysis"), "Management's Discussion and Analysis",
               c.industry, rng, 18)  # fmt: skip
    shown: list[tuple[str, int]] = []
    segments = words.INDUSTRIES[c.industry]["segments"]
    seg_rows = [
        [s, f"{book['segment:' + s]:,}", f"{prior['segment:' + s]:,}", f"{book['segment-oi:' + s]:,}",
         f"{prior['segment-oi:' + s]:,}"]
        for s in segments
    ]  # fmt: skip
    head = ["Segment", f"Revenue {year}", f"Revenue {year - 1}", f"Operating income {year}",
            f"Operating income {year - 1}"]  # fmt: skip
    intro = "We evaluate segment performance on revenue and segment operating income (in thousands of U.S. dollars)."
    by_columns = report.table_layout == "columns"
    title = words.TITLES["segments"]
    report.table_pages["segments"] = _table_page(pdf, title, intro, head, seg_rows, shown, by_columns)
    for statement in ("income", "balance", "cashflow"):
        when = f"{fye}, " if statement == "balance" else "Fiscal "
        head = ["(in thousands of U.S. dollars)", f"{when}{year}", f"{when}{year - 1}"]
        rows = [[label, _cell(label, book[label]), _cell(label, prior[label])] for label in words.STATEMENTS[statement]]
        note = f"Fiscal year ended {fye}, {year}. The accompanying notes are an integral part of these statements."
        report.table_pages[statement] = _table_page(pdf, words.TITLES[statement], note, head, rows, shown, by_columns)
    if rng.random() < 0.5:
        _prose(pdf, _heading(report, "Properties and Employees"), "Properties and Employees", c.industry, rng, 12)
    _prose(pdf, _heading(report, "Controls and Procedures"), "Controls and Procedures", c.industry, rng, 10)
    pdf.output(str(path))
    report.pages = pdf.page_no()
    return shown


def _cell(label: str, value: int) -> str:
    return f"({value:,})" if label in words.OUTFLOWS else f"{value:,}"


def _heading(report: Report, section: str) -> str:
    items = {"Business": "1", "Risk Factors": "1A", "Management's Discussion and Analysis": "7",
             "Properties and Employees": "2", "Controls and Procedures": "9A"}  # fmt: skip
    return f"Item {items[section]}. {section}" if report.cover == "10-K" else section


def _opening(report: Report, rng: random.Random) -> str:
    """The one sentence of the prose that names the company (none in a glossy report: the cover did)."""
    c = report.company
    if report.cover == "glossy":
        return ""
    product = rng.choice(words.INDUSTRIES[c.industry]["product"])
    return f'{c.legal} ("{c.short}," the "Company," "we" or "us") designs, makes and sells {product}.'


def _cover(pdf: _ReportPDF, report: Report, fye: str, rng: random.Random) -> None:
    c, year = report.company, report.year
    pdf.add_page()
    big, normal = ("Helvetica", "B", 20), ("Helvetica", "", 11)
    if report.cover == "10-K":
        lines = [
            (("Helvetica", "B", 12), "UNITED STATES SECURITIES AND EXCHANGE COMMISSION"),
            (normal, "Washington, D.C. 20549"),
            (big, "FORM 10-K"),
            (normal, "ANNUAL REPORT PURSUANT TO SECTION 13 OR 15(d) OF THE SECURITIES EXCHANGE ACT OF 1934"),
            (normal, f"For the fiscal year ended {fye}, {year}"),
            (normal, f"Commission file number 001-{rng.randint(10000, 39999) // 100 * 100}"),  # see _Figures
            (("Helvetica", "B", 16), c.legal.upper()),
            (("Helvetica", "I", 9), "(Exact name of registrant as specified in its charter)"),
        ]
    elif report.cover == "glossy":
        lines = [(big, f"Annual Report {year}"), (("Helvetica", "B", 16), c.legal),
                 (("Helvetica", "I", 12), "Built for the long run")]  # fmt: skip
    else:
        lines = [(big, c.legal), (("Helvetica", "", 14), f"Annual Report and Accounts {year}"),
                 (normal, f"Fiscal year ended {fye}, {year}")]  # fmt: skip
    pdf.ln(30)
    for font, text in lines:
        pdf.set_font(*font)
        pdf.multi_cell(0, 9, text, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    pdf.set_font(*normal)
    pdf.ln(20)
    street = f"{rng.randint(100, 9999) // 100 * 100} {rng.choice(['Harbor', 'Commerce', 'Ridge', 'Mill'])} Road"
    pdf.multi_cell(0, 6, f"{street}, {rng.choice(['Columbus, Ohio', 'Tulsa, Oklahoma', 'Tacoma, Washington'])}",
                   align="C")  # fmt: skip


def _prose(
    pdf: _ReportPDF, heading: str, section: str, industry: str, rng: random.Random, n: int, opening: str = ""
) -> None:
    """One page of prose under ``heading``."""
    pdf.add_page()
    page = pdf.page_no()
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(0, 8, heading, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Helvetica", "", 10)
    for i, text in enumerate(words.paragraphs(section, industry, rng, n)):
        pdf.multi_cell(0, 5.2, (opening + " " + text if i == 0 and opening else text), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    if pdf.page_no() != page:
        raise AssertionError(f"prose of {heading!r} ran over its page")


def _table_page(
    pdf: _ReportPDF,
    title: str,
    note: str,
    head: list[str],
    rows: list[list[str]],
    shown: list[tuple[str, int]],
    by_columns: bool,
) -> int:
    """A page holding one ruled table; returns its page number and records the figures it prints in ``shown``."""
    pdf.add_page()
    page = pdf.page_no()
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    pdf.multi_cell(0, 5, note, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    if by_columns:
        _columns_table(pdf, head, rows)
    else:  # a narrow label column: long labels wrap, as they do in filings
        widths = (46, 30, 30, 34, 34) if len(head) > 3 else (66, 36, 36)
        with pdf.table(col_widths=widths, width=sum(widths), text_align=("LEFT", *["RIGHT"] * (len(head) - 1)),
                       line_height=5, first_row_as_headings=True) as table:  # fmt: skip
            for values in [head, *rows]:
                row = table.row()
                for value in values:
                    row.cell(value)
    for values in rows:
        shown += [(v.strip("()"), page) for v in values[1:]]
    if pdf.page_no() != page:
        raise AssertionError(f"table {title!r} ran over its page")
    return page


def _columns_table(pdf: _ReportPDF, head: list[str], rows: list[list[str]]) -> None:
    """A ruled table typeset column by column (every label, then every figure of the first year, ...), as many
    report generators write them: it looks like any table, but a text layer read in drawing order gives the labels
    as one list and each column's figures as another, the rows lost."""
    widths = (44, 30, 30, 35, 35) if len(head) > 3 else (90, 42, 42)
    height = 6
    x0, y0 = pdf.l_margin, pdf.get_y()
    for j, width in enumerate(widths):
        for i, values in enumerate([head, *rows]):
            pdf.set_xy(x0 + sum(widths[:j]), y0 + i * height)
            pdf.set_font("Helvetica", "B" if i == 0 else "", 8 if len(head) > 3 else 9)
            pdf.cell(width, height, values[j], border=1, align="L" if j == 0 else "R")
    pdf.set_xy(x0, y0 + (len(rows) + 1) * height)
