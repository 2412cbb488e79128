"""The office, e-book and mail loaders (PPTX, XLSX, CSV/TSV, EPUB, .eml): structure, slide numbers, long
tables carrying their header, attachments, and each way a file can be broken.

Every fixture file is generated here with the real library (python-pptx, openpyxl, csv, zipfile,
email.message.EmailMessage, fpdf2, python-docx); nothing is mocked.
"""

from __future__ import annotations

import csv
import zipfile
from email.message import EmailMessage
from pathlib import Path

import docx
import openpyxl
import pptx
import pytest
from fpdf import FPDF
from pptx.util import Inches

from ragtune.config import Settings
from ragtune.embed import Embedder
from ragtune.errors import LoaderError
from ragtune.kb.chunking import ChunkingOptions, chunk_document
from ragtune.kb.loaders import LoadOptions, load_all, load_file
from ragtune.knowledge_base import KnowledgeBase

OPTS = LoadOptions(timeout_s=None)

# ---------------------------------------------------------------------------------------------- builders


def make_pptx(path: Path) -> Path:
    deck = pptx.Presentation()
    deck.core_properties.title = "Quarterly Review"
    layout = deck.slide_layouts[1]  # title and content
    slide = deck.slides.add_slide(layout)
    slide.shapes.title.text = "Revenue"
    slide.placeholders[1].text_frame.text = "Revenue grew 12 percent.\nChurn fell to 2 percent."
    slide.notes_slide.notes_text_frame.text = "Mention the Zanzibar office opening."
    slide = deck.slides.add_slide(deck.slide_layouts[5])  # title only
    slide.shapes.title.text = "Headcount"
    rows = [("Team", "People"), ("Sales", "41"), ("Support", "17")]
    table = slide.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(6), Inches(2)).table
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    slide = deck.slides.add_slide(deck.slide_layouts[6])  # blank, no title
    box = slide.shapes.add_textbox(Inches(1), Inches(1), Inches(5), Inches(1))
    box.text_frame.text = "Questions?"
    deck.save(str(path))
    return path


def make_xlsx(path: Path, n_rows: int = 3) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Prices"
    sheet.append(["Product", "Price", "Launched"])
    sheet.append(["Widget", 9.5, None])
    sheet.append(["Gadget", 12.0, "2021"])
    sheet["D2"] = "=B2*2"  # a formula: openpyxl writes no cached value, so it reads back empty
    sheet.append(["Gizmo", 7, "2023"])
    other = workbook.create_sheet("Offices")
    other.append(["City", "Staff"])
    for n in range(n_rows):
        other.append([f"City{n:04d}", n])
    workbook.create_sheet("Empty")
    workbook.properties.title = "Price list"
    workbook.save(path)
    return path


def make_epub(path: Path, *, encrypted: bool = False, spine: tuple[str, ...] = ("c2", "c1")) -> Path:
    container = """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>
</container>"""
    itemrefs = "".join(f'<itemref idref="{i}"/>' for i in spine)
    opf = f"""<?xml version="1.0"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
    <dc:title>The Lighthouse Keeper</dc:title><dc:creator>A. Writer</dc:creator><dc:language>en</dc:language>
  </metadata>
  <manifest>
    <item id="c1" href="text/ch1.xhtml" media-type="application/xhtml+xml"/>
    <item id="c2" href="text/ch2.xhtml" media-type="application/xhtml+xml"/>
    <item id="css" href="style.css" media-type="text/css"/>
  </manifest>
  <spine>{itemrefs}<itemref idref="css"/></spine>
</package>"""

    def chapter(title: str, body: str) -> str:
        return (f'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>{title}</title>'
                f"</head><body><h1>{title}</h1><p>{body}</p></body></html>")  # fmt: skip

    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/container.xml", container)
        z.writestr("OEBPS/content.opf", opf)
        z.writestr("OEBPS/text/ch1.xhtml", chapter("Storm", "The lamp burned whale oil."))
        z.writestr("OEBPS/text/ch2.xhtml", chapter("Arrival", "She came to the island in May."))
        z.writestr("OEBPS/style.css", "p { margin: 0 }")
        if encrypted:
            z.writestr(
                "META-INF/encryption.xml",
                """<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container"
  xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData><enc:CipherData>
  <enc:CipherReference URI="OEBPS/text/ch1.xhtml"/></enc:CipherData></enc:EncryptedData></encryption>""",
            )
    return path


def pdf_bytes(lines: list[str]) -> bytes:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    pdf.add_page()
    for line in lines:
        pdf.cell(0, 10, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def docx_bytes(text: str, tmp: Path) -> bytes:
    document = docx.Document()
    document.add_heading("Travel policy", 1)
    document.add_paragraph(text)
    file = tmp / "policy.docx"
    document.save(str(file))
    return file.read_bytes()


def make_eml(path: Path, tmp: Path, *, html: bool = False) -> Path:
    message = EmailMessage()
    message["Subject"] = "Board pack for March"
    message["From"] = "Ada <ada@example.com>"
    message["To"] = "board@example.com"
    message["Date"] = "Tue, 03 Mar 2026 10:00:00 +0000"
    if html:
        message.set_content("<p>Hello <b>board</b>, the pack is attached.</p>", subtype="html")
    else:
        message.set_content("Hello board,\n\nthe pack is attached.\n")
    message.add_attachment(pdf_bytes(["Budget summary", "The marketing budget is 4.2 million euros."]),
                           maintype="application", subtype="pdf", filename="budget.pdf")  # fmt: skip
    message.add_attachment(docx_bytes("Economy class for flights under six hours.", tmp),
                           maintype="application",
                           subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
                           filename="policy.docx")  # fmt: skip
    message.add_attachment("# Agenda\n\n1. Budget\n2. Travel\n", filename="agenda.md")
    message.add_attachment(b"GIF89a not really", maintype="image", subtype="gif", filename="logo.gif")
    message.add_attachment(b"%PDF-1.4 broken", maintype="application", subtype="pdf", filename="broken.pdf")
    path.write_bytes(bytes(message))
    return path


# ---------------------------------------------------------------------------------------------- PPTX


def test_pptx_slides_are_sections_with_tables_notes_and_slide_numbers(tmp_path: Path) -> None:
    [doc] = load_file(make_pptx(tmp_path / "deck.pptx"), OPTS)
    assert doc.title == "Quarterly Review"
    assert doc.metadata["slides"] == 3 and doc.metadata["format"] == "pptx"
    assert doc.text.startswith("## Slide 1: Revenue\n\nRevenue grew 12 percent.\n\nChurn fell to 2 percent.")
    assert "Notes: Mention the Zanzibar office opening." in doc.text
    assert "## Slide 2: Headcount\n\n| Team | People |\n| --- | --- |\n| Sales | 41 |\n| Support | 17 |" in doc.text
    assert "## Slide 3\n\nQuestions?" in doc.text
    assert doc.page_at(doc.text.index("Zanzibar")) == 1
    assert doc.page_at(doc.text.index("Support")) == 2
    assert doc.page_at(doc.text.index("Questions?")) == 3
    chunks = chunk_document(
        doc, count_tokens=lambda t: len(t.split()), options=ChunkingOptions(max_tokens=12, min_tokens=0)
    )
    by_page = {c.page for c in chunks if "Support" in c.text}
    assert by_page == {2}
    assert any(c.heading_path == ("Slide 1: Revenue",) and "Zanzibar" in c.text for c in chunks)


def test_pptx_without_text_and_broken_files_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pptx"
    deck = pptx.Presentation()
    deck.slides.add_slide(deck.slide_layouts[6])
    deck.save(str(empty))
    with pytest.raises(LoaderError, match="no text in the presentation") as info:
        load_file(empty, OPTS)
    assert info.value.path == str(empty)
    broken = tmp_path / "broken.pptx"
    broken.write_bytes(make_pptx(tmp_path / "ok.pptx").read_bytes()[:2000])
    with pytest.raises(LoaderError, match="not a valid PPTX file"):
        load_file(broken, OPTS)
    encrypted = tmp_path / "locked.pptx"  # what Office writes for a password-protected deck: an OLE file
    encrypted.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    with pytest.raises(LoaderError, match="encrypted"):
        load_file(encrypted, OPTS)


# ---------------------------------------------------------------------------------------------- XLSX / CSV


def test_xlsx_sheets_are_sections_with_header_tables(tmp_path: Path) -> None:
    [doc] = load_file(make_xlsx(tmp_path / "prices.xlsx"), OPTS)
    assert doc.title == "Price list"
    assert doc.metadata["sheets"] == ["Prices", "Offices"]  # the empty sheet is left out
    assert doc.text.startswith(
        "## Sheet: Prices\n\n| Product | Price | Launched |\n| --- | --- | --- |\n"
        "| Widget | 9.5 |  |\n| Gadget | 12 | 2021 |\n| Gizmo | 7 | 2023 |\n\n"
    )  # the formula's column is gone: with data_only, a formula Excel never computed has no value
    assert "## Sheet: Offices\n\n| City | Staff |\n| --- | --- |\n| City0000 | 0 |" in doc.text


def test_long_sheet_repeats_the_header_row_in_every_chunk(tmp_path: Path) -> None:
    [doc] = load_file(make_xlsx(tmp_path / "big.xlsx", n_rows=400), OPTS)
    offices = doc.text[doc.text.index("## Sheet: Offices") :]
    assert offices.count("| City | Staff |") > 10
    for part in offices.split("\n\n")[1:]:
        assert part.startswith("| City | Staff |\n| --- | --- |\n") and len(part) <= 600
    assert all(f"| City{n:04d} | {n} |" in offices for n in range(400))  # nothing lost
    chunks = chunk_document(doc, count_tokens=lambda t: len(t.split()), options=ChunkingOptions(max_tokens=200))
    office_chunks = [c for c in chunks if "City0" in c.text]
    assert len(office_chunks) > 3
    assert all("| City | Staff |" in c.text for c in office_chunks)


def test_csv_dialects_encodings_and_errors(tmp_path: Path) -> None:
    plain = tmp_path / "staff.csv"
    with plain.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(
            [["Name", "Role", "Note"], ["Zoë", "Lead", "likes, commas"], ["Bo", "Dev", "two\nlines"]]
        )
    [doc] = load_file(plain, OPTS)
    assert doc.title == "staff" and doc.metadata["rows"] == 3
    assert (
        doc.text
        == "| Name | Role | Note |\n| --- | --- | --- |\n| Zoë | Lead | likes, commas |\n| Bo | Dev | two lines |"
    )

    semi = tmp_path / "semi.csv"
    semi.write_bytes("Stadt;Einwohner\nMünchen;1500000\nKöln;1080000\n".encode("cp1252"))
    with pytest.raises(LoaderError, match="not valid UTF-8"):
        load_file(semi, OPTS)
    [doc] = load_file(semi, LoadOptions(timeout_s=None, encoding="cp1252"))
    assert "| München | 1500000 |" in doc.text

    tsv = tmp_path / "t.tsv"
    tsv.write_text("a\tb\n1\t2\n", encoding="utf-8")
    assert load_file(tsv, OPTS)[0].text == "| a | b |\n| --- | --- |\n| 1 | 2 |"

    blank = tmp_path / "blank.csv"
    blank.write_text(" \n\n", encoding="utf-8")
    with pytest.raises(LoaderError, match="empty file"):
        load_file(blank, OPTS)
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(LoaderError, match="binary data"):
        load_file(binary, OPTS)


def test_broken_xlsx_is_refused_and_the_rest_of_the_ingest_goes_on(tmp_path: Path) -> None:
    root = tmp_path / "kb"
    root.mkdir()
    make_xlsx(root / "good.xlsx")
    (root / "bad.xlsx").write_bytes(b"PK\x03\x04 this is not a workbook")
    (root / "empty.xlsx").write_bytes(b"")
    blank = openpyxl.Workbook()
    blank.save(root / "blank.xlsx")
    results = {r.source.rel_id: r for r in load_all([root], LoadOptions(timeout_s=120))}
    assert results["good.xlsx"].ok
    assert "not a valid XLSX file" in results["bad.xlsx"].error.reason  # type: ignore[union-attr]
    assert results["empty.xlsx"].error.reason == "empty file"  # type: ignore[union-attr]
    assert results["blank.xlsx"].error.reason == "no data in any sheet"  # type: ignore[union-attr]
    assert results["bad.xlsx"].error.path == str(root / "bad.xlsx")  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------- EPUB


def test_epub_follows_the_spine_and_takes_the_opf_title(tmp_path: Path) -> None:
    [doc] = load_file(make_epub(tmp_path / "book.epub"), OPTS)
    assert doc.title == "The Lighthouse Keeper"
    assert doc.metadata["creator"] == "A. Writer" and doc.metadata["language"] == "en"
    assert doc.text == "# Arrival\n\nShe came to the island in May.\n\n# Storm\n\nThe lamp burned whale oil."


def test_broken_and_encrypted_epubs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match="DRM"):
        load_file(make_epub(tmp_path / "drm.epub", encrypted=True), OPTS)
    not_zip = tmp_path / "nz.epub"
    not_zip.write_text("hello", encoding="utf-8")
    with pytest.raises(LoaderError, match="not a zip archive"):
        load_file(not_zip, OPTS)
    no_container = tmp_path / "nc.epub"
    with zipfile.ZipFile(no_container, "w") as z:
        z.writestr("mimetype", "application/epub+zip")
    with pytest.raises(LoaderError, match=r"no META-INF/container\.xml"):
        load_file(no_container, OPTS)
    with pytest.raises(LoaderError, match="no text in the book's spine"):
        load_file(make_epub(tmp_path / "nospine.epub", spine=()), OPTS)


# ---------------------------------------------------------------------------------------------- e-mail


def test_eml_body_headers_and_attachments(tmp_path: Path) -> None:
    [doc] = load_file(make_eml(tmp_path / "mail.eml", tmp_path), OPTS)
    assert doc.id == "mail.eml" and doc.title == "Board pack for March"
    assert doc.metadata["from"] == "Ada <ada@example.com>" and doc.metadata["to"] == "board@example.com"
    assert doc.metadata["date"] == "Tue, 03 Mar 2026 10:00:00 +0000"
    assert doc.text.startswith("Hello board,\n\nthe pack is attached.")
    assert "## Attachment: budget.pdf\n\nBudget summary\nThe marketing budget is 4.2 million euros." in doc.text
    assert "## Attachment: policy.docx\n\n# Travel policy\n\nEconomy class for flights under six hours." in doc.text
    assert "## Attachment: agenda.md\n\n# Agenda\n\n1. Budget" in doc.text
    assert doc.metadata["attachments"] == ["budget.pdf", "policy.docx", "agenda.md"]
    skipped = doc.metadata["attachments_skipped"]
    assert skipped[0] == "logo.gif (unsupported type '.gif')"
    assert skipped[1].startswith("broken.pdf (truncated or damaged PDF")
    assert doc.text.endswith("Attachments not loaded:\n- " + "\n- ".join(skipped))


def test_eml_html_body_and_refusals(tmp_path: Path) -> None:
    [doc] = load_file(make_eml(tmp_path / "html.eml", tmp_path, html=True), OPTS)
    assert doc.text.startswith("Hello board, the pack is attached.\n\n## Attachment: budget.pdf")
    junk = tmp_path / "junk.eml"
    junk.write_text("just some words\nwithout any headers\n", encoding="utf-8")
    with pytest.raises(LoaderError, match="not an e-mail message") as info:
        load_file(junk, OPTS)
    assert info.value.path == str(junk)
    bare = EmailMessage()
    bare["Subject"] = "Nothing here"
    bare.add_attachment(b"\x00\x01", maintype="application", subtype="octet-stream", filename="blob.bin")
    (tmp_path / "bare.eml").write_bytes(bytes(bare))
    with pytest.raises(LoaderError, match="no text in the message or its attachments"):
        load_file(tmp_path / "bare.eml", OPTS)


def test_eml_forwarded_mail_is_loaded_as_an_attachment(tmp_path: Path) -> None:
    inner = EmailMessage()
    inner["Subject"] = "Original"
    inner["From"] = "bob@example.com"
    inner.set_content("The server room code is 4711.")
    outer = EmailMessage()
    outer["Subject"] = "Fwd: Original"
    outer["From"] = "ada@example.com"
    outer.set_content("See below.")
    outer.add_attachment(inner)  # message/rfc822, no file name
    (tmp_path / "fwd.eml").write_bytes(bytes(outer))
    [doc] = load_file(tmp_path / "fwd.eml", OPTS)
    assert doc.text == "See below.\n\n## Attachment: attachment-1.eml\n\nThe server room code is 4711."
    assert doc.metadata["attachments"] == ["attachment-1.eml"]


def test_eml_runs_in_the_loader_worker_with_a_timeout(tmp_path: Path) -> None:
    """The default path: the parse (attachments included) runs in the forked worker."""
    [doc] = load_file(make_eml(tmp_path / "w.eml", tmp_path), LoadOptions(timeout_s=120))
    assert "4.2 million euros" in doc.text


# ---------------------------------------------------------------------------------------------- end to end


def test_ingest_and_search_find_facts_in_notes_cells_and_attachments(tmp_path: Path, embedder: Embedder) -> None:
    """A real KB (SQLite, all-MiniLM-L6-v2): a fact only in a slide's speaker notes, one only in a spreadsheet
    cell, one only in a PDF attached to an e-mail; a broken deck beside them is reported, not fatal."""
    root = tmp_path / "docs"
    root.mkdir()
    make_pptx(root / "review.pptx")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Warehouses"
    sheet.append(["Warehouse", "City", "Forklifts"])
    for n in range(60):
        sheet.append([f"W{n:02d}", f"Town {n}", n % 7])
    sheet.append(["W99", "Reykjavik", 314])
    book.save(root / "inventory.xlsx")
    make_eml(root / "board.eml", tmp_path)
    make_epub(root / "novel.epub")
    (root / "broken.pptx").write_bytes(b"PK\x03\x04 not a deck")
    (root / "notes.md").write_text("# Misc\n\nThe cafeteria opens at eight.\n", encoding="utf-8")

    kb = KnowledgeBase.open(tmp_path / ".ragtune", create=True, settings=Settings(), embedder=embedder)
    try:
        report = kb.ingest([root])
        assert [Path(e.path).name for e in report.errors] == ["broken.pptx"]
        assert sorted(report.added) == ["board.eml", "inventory.xlsx", "notes.md", "novel.epub", "review.pptx"]

        hit = kb.search("Which office is opening in Zanzibar?", k=3)[0]
        assert hit.doc_id == "review.pptx" and "Notes: Mention the Zanzibar office" in hit.text
        assert hit.page == 1 and list(hit.heading_path) == ["Slide 1: Revenue"]

        hits = kb.search("How many forklifts does the Reykjavik warehouse have?", k=3)
        top = next(h for h in hits if "Reykjavik" in h.text)
        assert top.doc_id == "inventory.xlsx" and hits.index(top) == 0
        assert "| Warehouse | City | Forklifts |" in top.text and "| W99 | Reykjavik | 314 |" in top.text

        hit = kb.search("What is the marketing budget?", k=3)[0]
        assert hit.doc_id == "board.eml" and "4.2 million euros" in hit.text
        assert "## Attachment: budget.pdf" in hit.text  # small sections are packed together with the mail's body
    finally:
        kb.close()
