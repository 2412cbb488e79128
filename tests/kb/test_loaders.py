"""Loaders: each format's structure, each way a file can be broken, discovery, and the per-file timeout.

Fixture files are built in tmp_path: a real PDF (fpdf2), a real DOCX (python-docx); nothing is mocked.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import docx
import pytest
from fpdf import FPDF
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter

from ragtune.errors import ConfigError, LoaderError
from ragtune.kb.document import Document
from ragtune.kb.loaders import (
    LoadOptions,
    _isolation,
    iter_files,
    load_all,
    load_file,
    register_loader,
    supported_extensions,
    unregister_loader,
)

# ---------------------------------------------------------------------------------------------- builders

PDF_PAGES = [
    ["Refund policy", "Refunds are issued within 14 days."],
    ["Second page", "Annual plans are prorated."],
    ["Third page", "Contact billing for invoices."],
]


def make_pdf(path: Path, pages: list[list[str]] = PDF_PAGES, title: str | None = "Billing Handbook") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf = FPDF()
    if title:
        pdf.set_title(title)
    pdf.set_font("Helvetica", size=12)
    for lines in pages:
        pdf.add_page()
        for line in lines:
            pdf.cell(0, 10, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def make_docx(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = docx.Document()
    document.core_properties.title = "Team Handbook"
    document.add_heading("Onboarding", level=1)
    document.add_paragraph("Welcome to the team.")
    document.add_heading("Accounts", level=2)
    document.add_paragraph("Laptop", style="List Bullet")
    document.add_paragraph("Badge", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    for (r, c), value in {(0, 0): "System", (0, 1): "Owner", (1, 0): "Email", (1, 1): "IT"}.items():
        table.cell(r, c).text = value
    document.add_paragraph("After the table.")
    document.add_paragraph("Sign the contract", style="List Number")
    document.save(str(path))
    return path


HTML = """<!doctype html>
<html><head><title>Plans &amp; Pricing</title><style>.x { color: red }</style>
<script>var secret = "SCRIPT-TEXT";</script></head>
<body>
<nav><a href="/">NAV-TEXT</a></nav>
<h1>Pricing</h1>
<p>Our plans   are
   simple.<br>Cancel any time.</p>
<div hidden>HIDDEN-TEXT</div><p style="display: none">ALSO-HIDDEN</p>
<h2>Tiers</h2>
<ul><li>Free</li><li>Pro <ul><li>Monthly</li></ul></li></ul>
<ol><li>Sign up</li><li>Pay</li></ol>
<table><thead><tr><th>Plan</th><th>Price</th></tr></thead>
<tbody><tr><td>Free</td><td>$0</td></tr><tr><td>Pro</td><td>$10 | month</td></tr></tbody></table>
<pre># not a heading
  indented</pre>
<noscript>NOSCRIPT-TEXT</noscript><template>TEMPLATE-TEXT</template>
<footer>FOOTER-TEXT</footer>
</body></html>
"""


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def reason_of(path: Path, opts: LoadOptions | None = None) -> str:
    with pytest.raises(LoaderError) as info:
        load_file(path, opts)
    assert info.value.path == str(path)
    assert str(path) in str(info.value)
    return info.value.reason


def hang_forever(path: Path, opts: LoadOptions) -> list[Document]:
    while True:
        time.sleep(60)


@pytest.fixture
def slow_loader() -> Iterator[None]:
    register_loader(".slow", hang_forever)
    yield
    unregister_loader(".slow")


# ---------------------------------------------------------------------------------------------- formats


def test_markdown_front_matter_goes_to_metadata_and_title(tmp_path: Path) -> None:
    path = write(
        tmp_path / "plans.md",
        "---\ntitle: Plans\ntags: [billing, faq]\nupdated: 2024-05-01\n---\r\n# Heading\r\n\r\nBody.\r\n",
    )
    [doc] = load_file(path, rel_id="billing/plans.md")
    assert doc.id == "billing/plans.md"
    assert doc.title == "Plans"
    assert doc.text == "# Heading\n\nBody.\n"
    assert doc.metadata["tags"] == ["billing", "faq"]
    assert doc.metadata["updated"] == "2024-05-01"
    assert doc.metadata["format"] == "md"
    assert doc.metadata["size"] == path.stat().st_size
    assert doc.source == str(path)
    json.dumps(doc.metadata)


def test_markdown_title_is_first_h1_else_stem(tmp_path: Path) -> None:
    [doc] = load_file(write(tmp_path / "a.md", "intro\n\n## Sub\n\n# Real Title #\n"))
    assert doc.title == "Real Title"
    [doc] = load_file(write(tmp_path / "notes.markdown", "no headings here\n"))
    assert doc.title == "notes"


def test_text_title_is_short_first_line_else_stem(tmp_path: Path) -> None:
    [doc] = load_file(write(tmp_path / "faq.txt", "Shipping FAQ\n\nWe ship worldwide.\n"))
    assert (doc.title, doc.text) == ("Shipping FAQ", "Shipping FAQ\n\nWe ship worldwide.\n")
    [doc] = load_file(write(tmp_path / "log.txt", "line one\nline two\n"))
    assert doc.title == "log"


def test_html_keeps_visible_text_and_structure(tmp_path: Path) -> None:
    [doc] = load_file(write(tmp_path / "pricing.html", HTML))
    assert doc.title == "Plans & Pricing"
    for invisible in ("SCRIPT", "NAV", "HIDDEN", "NOSCRIPT", "TEMPLATE", "FOOTER", "color: red"):
        assert invisible not in doc.text
    assert doc.text == (
        "# Pricing\n\n"
        "Our plans are simple.\nCancel any time.\n\n"
        "## Tiers\n\n"
        "- Free\n- Pro\n  - Monthly\n\n"
        "1. Sign up\n2. Pay\n\n"
        "| Plan | Price |\n| --- | --- |\n| Free | $0 |\n| Pro | $10 \\| month |\n\n"
        "```\n# not a heading\n  indented\n```"
    )


def test_html_honours_declared_charset(tmp_path: Path) -> None:
    markup = '<html><head><meta charset="windows-1252"><title>Caf\xe9</title></head><body><p>cr\xe8me</p>'
    [doc] = load_file(write(tmp_path / "cafe.htm", markup.encode("cp1252")))
    assert (doc.title, doc.text) == ("Café", "crème")


def test_pdf_pages_and_page_starts(tmp_path: Path) -> None:
    [doc] = load_file(make_pdf(tmp_path / "handbook.pdf"))
    assert doc.title == "Billing Handbook"
    assert doc.metadata["pages"] == 3
    assert doc.page_starts is not None and len(doc.page_starts) == 3
    assert doc.page_starts[0] == 0
    for number, (start, lines) in enumerate(zip(doc.page_starts, PDF_PAGES, strict=True), start=1):
        assert doc.text[start:].startswith(lines[0])
        assert doc.page_at(doc.text.index(lines[1])) == number
        if number > 1:
            assert doc.text[start - 2 : start] == "\n\n"


def test_pdf_without_title_uses_first_line(tmp_path: Path) -> None:
    [doc] = load_file(make_pdf(tmp_path / "x.pdf", title=None))
    assert doc.title == "Refund policy"


def test_docx_structure_in_document_order(tmp_path: Path) -> None:
    [doc] = load_file(make_docx(tmp_path / "handbook.docx"))
    assert doc.title == "Team Handbook"
    assert doc.text == (
        "# Onboarding\n\n"
        "Welcome to the team.\n\n"
        "## Accounts\n\n"
        "- Laptop\n- Badge\n\n"
        "| System | Owner |\n| --- | --- |\n| Email | IT |\n\n"
        "After the table.\n\n"
        "1. Sign the contract"
    )


def test_jsonl_records_become_documents(tmp_path: Path) -> None:
    lines = [
        {"_id": "4983", "title": "Cells", "text": "Abstract one.", "year": 2001, "extra": {"nested": 1}},
        {"_id": 7, "text": "Abstract two."},
    ]
    path = write(tmp_path / "corpus.jsonl", "\n".join(json.dumps(r) for r in lines) + "\n\n")
    first, second = load_file(path)
    assert (first.id, first.title, first.text) == ("4983", "Cells", "Abstract one.")
    assert first.source == f"{path}#4983"
    assert first.metadata["year"] == 2001 and "extra" not in first.metadata
    assert first.metadata["line"] == 1 and first.metadata["format"] == "jsonl"
    assert (second.id, second.title) == ("7", "7")


def test_json_collection_with_custom_fields(tmp_path: Path) -> None:
    records = [{"key": "a", "body": "Alpha."}, {"key": "b", "body": "Beta.", "name": "B"}]
    opts = LoadOptions(id_field="key", text_field="body", title_field="name")
    listed = write(tmp_path / "list.json", json.dumps(records))
    wrapped = write(tmp_path / "wrapped.json", json.dumps({"documents": records}))
    for path in (listed, wrapped):
        docs = load_file(path, opts)
        assert [(d.id, d.title, d.text) for d in docs] == [("a", "a", "Alpha."), ("b", "B", "Beta.")]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"id": 1, "text": "ok"}\n{"id": 2, "text": "oops"\n', "line 2: invalid JSON"),
        ('{"id": 1, "text": "ok"}\n\n{"text": "no id"}\n', "line 3: missing id field 'id'"),
        ('{"id": 1, "body": "x"}\n', "line 1: missing text field 'text'"),
        ('{"id": 1, "text": "a"}\n{"id": "1", "text": "b"}\n', "line 2: duplicate id '1' in field 'id'"),
        ('{"id": 1, "text": 5}\n', "line 1: field 'text' must be a string"),
        ("[1, 2]\n", "line 1: expected a JSON object"),
    ],
)
def test_bad_jsonl_record_fails_the_file_naming_line_and_field(tmp_path: Path, content: str, expected: str) -> None:
    assert reason_of(write(tmp_path / "bad.jsonl", content)).startswith(expected)


@settings(max_examples=25, deadline=None)
@given(texts=st.lists(st.text(min_size=1).filter(lambda t: t.strip() and "\r" not in t), max_size=5))
def test_jsonl_texts_survive_loading(texts: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "c.jsonl")
        path.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts)) or " ")
        if not texts:
            assert reason_of(path) == "empty file"
        else:
            assert [d.text for d in load_file(path)] == texts


# ---------------------------------------------------------------------------------------------- bad files


def test_truncated_pdf(tmp_path: Path) -> None:
    data = make_pdf(tmp_path / "full.pdf").read_bytes()
    path = write(tmp_path / "cut.pdf", data[: len(data) // 2])
    assert "truncated" in reason_of(path)


def test_damaged_pdf_keeps_the_parsers_reason(tmp_path: Path) -> None:
    path = write(tmp_path / "junk.pdf", b"%PDF-1.4\nthis is not a pdf body\n%%EOF\n")
    assert reason_of(path).startswith("cannot parse PDF: ")


def test_pdf_without_text_is_reported_as_scanned(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 50, style="F")
    pdf.output(str(tmp_path / "scan.pdf"))
    assert reason_of(tmp_path / "scan.pdf") == "no extractable text (scanned PDF?)"


def test_encrypted_pdf(tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=PdfReader(make_pdf(tmp_path / "plain.pdf")))
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    assert "encrypted PDF" in reason_of(write(tmp_path / "locked.pdf", buffer.getvalue()))


def test_docx_that_is_not_a_zip(tmp_path: Path) -> None:
    assert reason_of(write(tmp_path / "fake.docx", b"plain words, not a zip")).startswith("not a valid DOCX")


PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("binary.md", PNG_HEADER + bytes(range(256)) * 8, "binary data in a text file"),
        ("controls.txt", bytes(range(1, 8)) * 100, "binary data in a text file"),
        ("latin1.txt", "caf\xe9 au lait".encode("latin-1"), "not valid UTF-8 (byte 0xe9 at offset 3)"),
        ("empty.md", b"", "empty file"),
        ("blank.html", b"  \n\t\n", "empty file"),
        ("blank.json", b"\n\n", "empty file"),
        ("nothing.html", b"<html><script>x()</script></html>", "no visible text"),
    ],
)
def test_broken_text_files(tmp_path: Path, name: str, content: bytes, expected: str) -> None:
    assert reason_of(write(tmp_path / name, content)).startswith(expected)


def test_encodings_honoured_and_forced(tmp_path: Path) -> None:
    [doc] = load_file(write(tmp_path / "bom.md", "\ufeff# Título\n".encode()))
    assert doc.text == "# Título\n"
    [doc] = load_file(write(tmp_path / "wide.txt", "Wide text\n\nüber\n".encode("utf-16")))
    assert doc.text == "Wide text\n\nüber\n"
    path = write(tmp_path / "legacy.txt", "caf\xe9\n".encode("cp1252"))
    [doc] = load_file(path, LoadOptions(encoding="cp1252"))
    assert doc.text == "café\n"
    with pytest.raises(ConfigError):
        LoadOptions(encoding="no-such-codec")


def test_oversize_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "big.txt", "x" * 5000)
    assert reason_of(path, LoadOptions(max_bytes=1000)) == "file is 5 KB, over the 1 KB cap"
    sparse = tmp_path / "huge.md"
    with sparse.open("wb") as f:
        f.truncate(60_000_000)  # sparse: costs no disk, and would take long to read
    assert reason_of(sparse) == "file is 60 MB, over the 50 MB cap"


def test_unsupported_extension_named_directly(tmp_path: Path) -> None:
    reason = reason_of(write(tmp_path / "data.xyz", "stuff"))
    assert reason.startswith("unsupported file type '.xyz'")
    assert ".md" in supported_extensions()


def test_custom_loader_errors_and_crashes_cost_one_file(tmp_path: Path) -> None:
    def broken(path: Path, opts: LoadOptions) -> list[Document]:
        raise KeyError("boom")

    def crashing(path: Path, opts: LoadOptions) -> list[Document]:
        os._exit(3)

    register_loader("broken", broken)
    register_loader(".CRASH", crashing)
    try:
        assert reason_of(write(tmp_path / "a.broken", "x")) == "KeyError: 'boom'"
        assert reason_of(write(tmp_path / "a.crash", "x")) == "parser crashed (exit code 3)"
        assert load_file(write(tmp_path / "ok.md", "fine\n"))[0].text == "fine\n"
    finally:
        unregister_loader("broken")
        unregister_loader(".crash")


def test_hanging_parser_times_out_and_is_killed(tmp_path: Path, slow_loader: None) -> None:
    path = write(tmp_path / "stuck.slow", "x")
    started = time.monotonic()
    assert reason_of(path, LoadOptions(timeout_s=0.5)) == "parser timed out after 0.5 s"
    assert time.monotonic() - started < 5
    # The hung worker is gone, not left running; the next file gets a fresh one.
    assert not [p for p in multiprocessing.active_children() if p.name == "ragtune-loader"]
    assert load_file(write(tmp_path / "next.md", "# Next\n"))[0].title == "Next"


def test_loader_may_load_other_files_inside_the_worker(tmp_path: Path) -> None:
    def include(path: Path, opts: LoadOptions) -> list[Document]:
        return [d for name in path.read_text().split() for d in load_file(path.parent / name, opts)]

    write(tmp_path / "a.md", "# A\n")
    write(tmp_path / "b.md", "# B\n")
    register_loader(".include", include)
    try:
        docs = load_file(write(tmp_path / "all.include", "a.md b.md"))
    finally:
        unregister_loader(".include")
    assert [d.title for d in docs] == ["A", "B"]


def test_thread_fallback_where_fork_is_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(path: Path, opts: LoadOptions) -> list[Document]:
        time.sleep(2)
        return []

    monkeypatch.setattr(_isolation, "CAN_FORK", False)
    register_loader(".sleepy", slow)
    try:
        assert reason_of(write(tmp_path / "x.sleepy", "x"), LoadOptions(timeout_s=0.2)).startswith("parser timed out")
        assert load_file(write(tmp_path / "ok.md", "# Ok\n"))[0].title == "Ok"
    finally:
        unregister_loader(".sleepy")


# ---------------------------------------------------------------------------------------------- load_all


def test_mixed_directory_loads_every_good_file(tmp_path: Path, slow_loader: None) -> None:
    root = tmp_path / "kb"
    write(root / "guide.md", "# Guide\n\nRead me.\n")
    write(root / "notes.txt", "Notes\n\nPlain.\n")
    write(root / "web" / "page.html", HTML)
    make_pdf(root / "manuals" / "handbook.pdf")
    make_docx(root / "manuals" / "team.docx")
    write(root / "corpus.jsonl", '{"id": "r1", "text": "Record one."}\n{"id": "r2", "text": "Record two."}\n')
    full = make_pdf(tmp_path / "full.pdf").read_bytes()
    broken = {
        "cut.pdf": write(root / "cut.pdf", full[: len(full) // 2]),
        "image.md": write(root / "image.md", b"\x00\x01\x02binary" * 50),
        "latin.txt": write(root / "latin.txt", b"caf\xe9"),
        "empty.md": write(root / "empty.md", b""),
        "huge.txt": write(root / "huge.txt", "y" * 200_000),
        "bad.jsonl": write(root / "bad.jsonl", '{"id": 1, "text": "ok"}\nnot json\n'),
        "stuck.slow": write(root / "stuck.slow", "zzz"),
    }
    started = time.monotonic()
    results = list(load_all([root], LoadOptions(max_bytes=100_000, timeout_s=1)))
    assert time.monotonic() - started < 10

    errors = {r.source.rel_id: r.error for r in results if r.error is not None}
    assert set(errors) == set(broken)
    for rel_id, error in errors.items():
        assert error.path == str(broken[rel_id]) and error.reason
    assert "line 2" in errors["bad.jsonl"].reason
    assert "timed out" in errors["stuck.slow"].reason
    loaded = {d.id: d for r in results for d in r.documents}
    assert set(loaded) == {"guide.md", "notes.txt", "web/page.html", "manuals/handbook.pdf",
                           "manuals/team.docx", "r1", "r2"}  # fmt: skip
    assert loaded["manuals/handbook.pdf"].page_starts is not None
    assert all(r.ok == (r.error is None) and r.seconds >= 0 for r in results)


def test_duplicate_document_ids_across_roots(tmp_path: Path) -> None:
    write(tmp_path / "a" / "index.md", "# A\n")
    write(tmp_path / "b" / "index.md", "# B\n")
    first, second = load_all([tmp_path / "a", tmp_path / "b"])
    assert first.ok and first.documents[0].title == "A"
    assert second.error is not None and "already loaded from" in second.error.reason


# ---------------------------------------------------------------------------------------------- discovery


def test_discovery_recursion_ids_hidden_and_ignore(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    for rel in [
        "b.md", "a/z.txt", "a/b/deep.html", "drafts/wip.md", "notes.tmp.md", "x.tmp", ".hidden.md",
        ".git/config.md", "sub/.ragtune/kb.md", "image.gif", "node_modules/pkg/readme.md", "~$lock.docx",
    ]:  # fmt: skip
        write(root / rel, "text\n")
    found = list(iter_files([root], ignore=["drafts/*", "*.tmp.md", "node_modules", "~$*"]))
    assert [f.rel_id for f in found] == ["a/b/deep.html", "a/z.txt", "b.md"]
    assert all(f.root == root and f.path == root / f.rel_id for f in found)


def test_discovery_of_named_files_and_missing_paths(tmp_path: Path) -> None:
    guide = write(tmp_path / "dir" / "guide.md", "# G\n")
    other = write(tmp_path / "data.xyz", "?")
    found = list(iter_files([guide, tmp_path / "dir", other]))
    assert [(f.rel_id, f.root) for f in found] == [("guide.md", guide.parent), ("data.xyz", tmp_path)]
    with pytest.raises(LoaderError) as info:
        list(iter_files([tmp_path / "dir", tmp_path / "missing"]))
    assert info.value.path == str(tmp_path / "missing")


def test_default_ignore_patterns_apply_in_load_all(tmp_path: Path) -> None:
    write(tmp_path / "keep.md", "# Keep\n")
    write(tmp_path / "~$lock.md", "x")
    write(tmp_path / "__pycache__" / "x.txt", "x")
    assert [r.source.rel_id for r in load_all([tmp_path])] == ["keep.md"]
