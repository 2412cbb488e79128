"""Chunks that know their document: the label (doc_context), the cover metadata (docmeta), the PDF running
header, the `[chunking] context` modes and an LLM contextualizer, on generated PDFs and the real embedder."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from fpdf import FPDF

from ragtune import KnowledgeBase
from ragtune.config import Settings
from ragtune.errors import ConfigError
from ragtune.kb.doc_context import chunk_context, document_label, file_name_words
from ragtune.kb.docmeta import add_document_metadata, extract_metadata
from ragtune.kb.document import Document
from ragtune.kb.ingest import Ingestor
from ragtune.kb.loaders import LoadOptions, load_file
from ragtune.kb.loaders._pdf import running_header
from ragtune.search.query import Query

CASH_FLOW = [
    ["Line item", "2023", "2022"],
    ["Net income", "#", "#"],
    ["Capital expenditures", "#", "#"],
    ["Free cash flow", "#", "#"],
]
PROSE = (
    "Management reviewed liquidity and the use of cash during the year. Spending on plants and equipment was "
    "funded from operations, and no new debt was raised. "
)


def make_filing(path: Path, company: str, numbers: list[str], *, header: bool = True) -> Path:
    """A four-page report: a cover naming ``company``, two prose pages and a cash-flow table on page 4 that does
    not name it; a running header on every page when ``header``. ``numbers`` fill the table row by row."""
    short = company.split(",")[0].removesuffix(" Ltd")
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    pages = [
        [company, "Annual Report 2023", "For the fiscal year ended December 31, 2023"],
        ["Management discussion. " + PROSE * 4],
        ["Risk factors. " + PROSE * 4],
        ["Consolidated statement of cash flows (in thousands)"],
    ]
    for lines in pages:
        pdf.add_page()
        if header:
            pdf.cell(0, 8, f"{short} - Annual Report 2023", new_x="LMARGIN", new_y="NEXT")
        for line in lines:
            pdf.multi_cell(0, 7, line, new_x="LMARGIN", new_y="NEXT")
    cells = iter(numbers)
    with pdf.table() as table:
        for values in CASH_FLOW:
            row = table.row()
            for value in values:
                row.cell(next(cells) if value == "#" else value)
    pdf.output(str(path))
    return path


def test_running_header_is_the_repeated_edge_line_with_page_numbers_blanked() -> None:
    pages = [f"Acme Robotics — Annual Report 2023\nBody {i} text\nPage {i} of 5" for i in range(1, 6)]
    assert running_header(pages) == "Acme Robotics — Annual Report 2023"
    assert running_header(["Only one page\nwith text"]) == ""
    # Page numbers alone are not a header, and a line on two pages of ten is not running.
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]
    pages = [f"The {w} section starts\nPage {i}" for i, w in enumerate(words)]
    pages[0] = "Rare line here\n" + pages[0]
    pages[1] = "Rare line here\n" + pages[1]
    assert running_header(pages) == ""


def test_label_adds_only_what_the_title_lacks() -> None:
    doc = Document(id="d", title="Pricing", text="x", source="/kb/pricing.md")
    assert document_label(doc) == "Pricing"
    doc = Document(id="d", title="Annual Report 2023", text="x", source="/dl/report_8841.pdf")
    doc.metadata.update(company="Northwind Turbines, Inc.", running_header="Northwind Turbines - Annual Report 2023")
    label = document_label(doc)
    assert label.startswith("Annual Report 2023 · Northwind Turbines, Inc.")
    assert "8841" not in label and label.count("Northwind") == 1
    # A record of a collection: the file name names no single document.
    assert file_name_words("/data/corpus.jsonl#17") == ""
    assert file_name_words("/dl/northwind_2023_annual-report.pdf") == "northwind 2023 annual report"
    assert chunk_context(doc, ["Cash flows"], mode="headings") == "Annual Report 2023 › Cash flows"
    assert chunk_context(doc, ["Cash flows"], "| a |\n| --- |", mode="none") == "| a |\n| --- |"
    with pytest.raises(ValueError, match="context mode"):
        chunk_context(doc, [], mode="everything")


@pytest.mark.parametrize(
    ("text", "source", "expected"),
    [
        (
            "UNITED STATES SECURITIES AND EXCHANGE COMMISSION\nFORM 10-K\nFor the fiscal year ended June 30, 2022\n"
            "Contoso Devices Corporation\n(Exact name of registrant as specified in its charter)",
            "/x/doc.pdf",
            {"company": "Contoso Devices Corporation", "year": "2022", "doc_type": "10-K"},
        ),
        ("3M COMPANY\nFY2018 results", "", {"company": "3M COMPANY", "year": "2018"}),
        ("# About Our Company\n\nWe were founded by people.", "/kb/about.md", {}),
        (
            "# Refunds\n\nRefunds are handled by Driftnest Inc. within 30 days, as agreed with Acme Corp. in 2021.",
            "/kb/refund-policy.md",
            {"doc_type": "policy"},
        ),
        (
            "Quarterly figures",
            "/dl/globex_2021_q3_quarterly_report.pdf",
            {"year": "2021", "doc_type": "quarterly report"},
        ),
    ],
)
def test_cover_metadata(text: str, source: str, expected: dict[str, str]) -> None:
    doc = Document(id="d", title=text.split("\n")[0].lstrip("# "), text=text, source=source)
    assert extract_metadata(doc) == expected


def test_metadata_the_document_declares_is_kept() -> None:
    doc = Document(id="d", title="Globex Corp.", text="Globex Corp.\nAnnual Report 2020", metadata={"year": 1999})
    add_document_metadata(doc)
    assert doc.metadata == {"year": 1999, "company": "Globex Corp.", "doc_type": "annual report"}


@pytest.fixture
def filings(tmp_path: Path) -> Path:
    root = tmp_path / "filings"
    root.mkdir()
    make_filing(
        root / "northwind.pdf", "Northwind Turbines, Inc.", ["812", "640", "4,410", "3,977", "-3,598", "-3,337"]
    )
    make_filing(
        root / "AR-2023-final.pdf", "Contoso Foods Ltd", ["1,207", "1,100", "2,950", "2,700", "-1,743", "-1,600"]
    )
    return root


def test_pdf_carries_running_header_and_cover_metadata(filings: Path) -> None:
    (doc,) = load_file(filings / "AR-2023-final.pdf", LoadOptions())
    assert doc.metadata["running_header"] == "Contoso Foods - Annual Report 2023"
    doc.source = str(filings / "AR-2023-final.pdf")
    add_document_metadata(doc)
    assert (doc.metadata["company"], doc.metadata["year"], doc.metadata["doc_type"]) == (
        "Contoso Foods Ltd",
        "2023",
        "annual report",
    )


def _kb(path: Path, embedder: object, **changes: dict[str, object]) -> KnowledgeBase:
    settings = Settings()
    for section, values in changes.items():
        settings = dataclasses.replace(settings, **{section: dataclasses.replace(getattr(settings, section), **values)})
    return KnowledgeBase.open(path, create=True, settings=settings, embedder=embedder)  # type: ignore[arg-type]


def test_table_page_is_found_by_the_company_and_filters_follow_the_question(
    filings: Path, tmp_path: Path, embedder: Callable[..., object]
) -> None:
    with _kb(tmp_path / "kb", embedder) as kb:
        assert kb.ingest([filings]).ok
        docs = ("northwind.pdf", "AR-2023-final.pdf")
        for name, doc_id, other in (("Northwind", *docs), ("Contoso Foods", *reversed(docs))):
            found = kb.retrieve(Query(f"{name} capital expenditures", k=10))
            ranked = [(p.doc_id, p.page) for p in found.passages]
            # The table pages are alike but for their numbers: the company's own comes first.
            assert ranked.index((doc_id, 4)) < ranked.index((other, 4)) <= 3, ranked
            table = next(p for p in found.passages if p.page == 4)
            assert name.split()[0] in table.context
        # The cover's fields are filters ...
        only = kb.retrieve(Query("capital expenditures", k=10, filters={"company": "Contoso*", "year": "2023"}))
        assert only.passages and {p.doc_id for p in only.passages} == {"AR-2023-final.pdf"}
        # ... and the question names them: the filter is applied and reported, off unless asked for.
        asked = kb.retrieve(Query("What were Northwind's capital expenditures in 2023?", k=10, auto_filter=True))
        assert asked.auto_filters == {"company": "Northwind Turbines, Inc.", "year": "2023"}
        assert {p.doc_id for p in asked.passages} == {"northwind.pdf"}
        assert kb.retrieve(Query("What were Northwind's capital expenditures?", k=10)).auto_filters == {}
        both = kb.retrieve(Query("Northwind or Contoso Foods: capital expenditures", k=10, auto_filter=True))
        assert both.auto_filters == {} and {p.doc_id for p in both.passages} == {"northwind.pdf", "AR-2023-final.pdf"}


def test_context_mode_is_part_of_the_signature(filings: Path, tmp_path: Path, embedder: Callable[..., object]) -> None:
    with _kb(tmp_path / "kb", embedder, chunking={"context": "headings"}) as kb:
        kb.ingest([filings])
        p = kb.retrieve(Query("capital expenditures", k=1)).passages[0]
        assert "Annual Report 2023" not in p.context.split("\n")[0] or p.context.startswith(p.title)
        assert kb.ingest([filings]).unchanged == ["AR-2023-final.pdf", "northwind.pdf"]
    with _kb(tmp_path / "kb", embedder) as kb:  # the default, "document": every document re-indexed
        report = kb.ingest([filings])
        assert sorted(report.updated) == ["AR-2023-final.pdf", "northwind.pdf"]
    with pytest.raises(ConfigError, match=r"\[chunking\] context"):
        Ingestor(kb.store, embedder, context="all")  # type: ignore[arg-type]


def test_tables_off_reads_pypdf_text_alone(filings: Path) -> None:
    with_tables = load_file(filings / "northwind.pdf", LoadOptions())[0].text
    without = load_file(filings / "northwind.pdf", LoadOptions(tables=False))[0].text
    assert "| Capital expenditures | 4,410 | 3,977 |" in with_tables
    assert "| Capital expenditures" not in without and "4,410" in without


class Tagger:
    """A contextualizer that writes a word no chunk holds, numbered per chunk."""

    name = "tagger"

    def __init__(self) -> None:
        self.calls = 0

    def contexts(self, doc: Document, chunk_texts: list[str]) -> list[str]:
        self.calls += 1
        return [f"zebracontext{doc.id.split('.')[0]}{i}" for i in range(len(chunk_texts))]


def test_contextualizer_text_is_indexed_in_both_legs(
    filings: Path, tmp_path: Path, embedder: Callable[..., object]
) -> None:
    with _kb(tmp_path / "kb", embedder) as kb:
        tagger = Tagger()
        ingestor = Ingestor(kb.store, kb.embedder, contextualizer=tagger)
        ingestor.run(load for load in _loaded(filings))
        assert tagger.calls == 2
        hit = kb.retrieve(Query("zebracontextnorthwind0", k=1, mode="lexical")).passages[0]
        assert hit.doc_id == "northwind.pdf" and hit.context.endswith("zebracontextnorthwind0")
        # Unchanged documents are not sent to the model again.
        Ingestor(kb.store, kb.embedder, contextualizer=tagger).run(_loaded(filings))
        assert tagger.calls == 2


def _loaded(root: Path) -> list[Document]:
    docs = []
    for path in sorted(root.iterdir()):
        (doc,) = load_file(path, LoadOptions())
        doc.id, doc.source = path.name, str(path)
        docs.append(doc)
    return docs


def test_llm_contextualizer_writes_one_line_per_chunk(tiny_model: Path) -> None:
    from ragtune.rag.contextualize import LLMContextualizer

    doc = Document(id="d", title="Northwind Turbines annual report", text="Revenue grew. Costs fell. " * 20)
    lines = LLMContextualizer(f"hf:{tiny_model}", max_new_tokens=8).contexts(doc, ["Revenue grew.", "Costs fell."])
    assert len(lines) == 2 and all("\n" not in line for line in lines)


def test_generated_context_is_one_clean_line() -> None:
    from ragtune.rag.contextualize import clean_context

    assert (
        clean_context('<passage> Context: "Northwind Turbines\n2023 cash flows." ')
        == "Northwind Turbines 2023 cash flows."
    )
