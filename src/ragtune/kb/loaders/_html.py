"""HTML files: visible text only, with structure translated into the Document dialect."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction

from ragtune.errors import LoaderError

from ..document import Document
from ._blocks import Block, collapse_ws, flatten_table, join_blocks, table_blocks
from ._decode import decode_text, normalize_newlines
from ._options import LoadOptions

# Elements whose text a reader never sees as content.
_DROP = ("script", "style", "noscript", "template", "nav", "footer", "head", "svg", "iframe", "object",
         "embed", "canvas", "select", "button")  # fmt: skip
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_BLOCK = frozenset(("address", "article", "aside", "blockquote", "body", "dd", "details", "dialog",
    "div", "dl", "dt", "fieldset", "figcaption", "figure", "form", "header", "hgroup", "hr", "html",
    "main", "p", "section", "summary", "caption"))  # fmt: skip
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_SKIPPED_STRINGS = (Comment, Declaration, Doctype, ProcessingInstruction)


def load_html(path: Path, opts: LoadOptions) -> list[Document]:
    """An HTML page. Without a forced ``encoding``, a ``<meta charset>`` declaration is honoured when the
    bytes are not UTF-8 (a declared encoding is not a guess). The title is ``<title>``, else the first
    ``<h1>``, else the file name's stem."""
    data = path.read_bytes()
    try:
        markup = decode_text(data, path, opts)
    except LoaderError as exc:
        declared = _declared_charset(data)
        if opts.encoding or declared in (None, "utf-8") or not exc.reason.startswith("not valid"):
            raise
        markup = normalize_newlines(data.decode(declared, errors="replace"))
    soup = BeautifulSoup(markup, "html.parser")
    title = _title(soup, path)
    text = html_to_text(soup)
    if not text:
        raise LoaderError(path, "no visible text")
    return [Document(id="", title=title, text=text)]


def html_to_text(soup: BeautifulSoup | Tag) -> str:
    """The visible text of parsed HTML in the Document dialect. Mutates ``soup`` (drops hidden parts)."""
    for tag in soup.find_all(_is_invisible):
        tag.decompose()
    writer = _Writer()
    writer.walk(soup)
    writer.flush()
    return join_blocks(writer.blocks)


def _declared_charset(data: bytes) -> str | None:
    match = _META_CHARSET.search(data[:4096])
    if not match:
        return None
    try:
        return codecs.lookup(match.group(1).decode("ascii")).name
    except LookupError:
        return None


def _title(soup: BeautifulSoup, path: Path) -> str:
    for tag in (soup.title, soup.find("h1")):
        if isinstance(tag, Tag):
            text = collapse_ws(tag.get_text(" "))
            if text:
                return text
    return path.stem


def _is_invisible(tag: Tag) -> bool:
    if tag.name in _DROP:
        return True
    attrs = tag.attrs or {}
    return (
        "hidden" in attrs
        or str(attrs.get("aria-hidden", "")).lower() == "true"
        or bool(_HIDDEN_STYLE.search(str(attrs.get("style", ""))))
    )


class _Writer:
    """Walks the tree, buffering inline text and emitting a Block at each block boundary."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.inline: list[str] = []
        self.prefix = ""  # given to the next non-empty block (a heading's #'s, a list item's marker)
        self.group = ""
        self.n_tables = 0
        self.n_lists = 0

    def flush(self) -> None:
        lines = [collapse_ws(line) for line in "".join(self.inline).split("\n")]
        text = "\n".join(line for line in lines if line)
        self.inline.clear()
        if text:
            self.blocks.append(Block(self.prefix + text, self.group if self.prefix else ""))
            self.prefix = ""

    def walk(self, node: Tag) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                self.string(child)
            elif isinstance(child, Tag):
                self.element(child)

    def string(self, node: NavigableString) -> None:
        if not isinstance(node, _SKIPPED_STRINGS):
            # A newline in the source is just whitespace; "\n" in the buffer marks a <br>.
            self.inline.append(str(node).replace("\n", " "))

    def element(self, tag: Tag) -> None:
        name = tag.name
        if name == "br":
            self.inline.append("\n")
        elif name in _HEADINGS:
            self.flush()
            self.walk(tag)
            self.prefix, self.group = "#" * _HEADINGS[name] + " ", ""
            self.flush()
            self.prefix = ""
        elif name in ("ul", "ol"):
            self.list(tag, depth=0)
        elif name == "table":
            self.table(tag)
        elif name == "pre":
            self.flush()
            code = tag.get_text().strip("\n")
            if code.strip():
                # Fenced, so lines such as "# comment" are not taken for headings.
                self.blocks.append(Block(f"```\n{code}\n```"))
        elif name in _BLOCK or name == "li":
            self.flush()
            self.walk(tag)
            self.flush()
        else:
            self.walk(tag)

    def list(self, tag: Tag, depth: int) -> None:
        self.flush()
        self.n_lists += 1 if depth == 0 else 0
        group = f"list{self.n_lists}"
        ordered = tag.name == "ol"
        number = _int_attr(tag, "start", 1)
        for item in tag.find_all("li", recursive=False):
            marker = f"{number}. " if ordered else "- "
            number += 1
            self.prefix, self.group = "  " * depth + marker, group
            for child in item.children:
                if isinstance(child, Tag) and child.name in ("ul", "ol"):
                    self.list(child, depth + 1)
                    self.group = group
                elif isinstance(child, Tag):
                    self.element(child)
                elif isinstance(child, NavigableString):
                    self.string(child)
            self.flush()
        self.prefix, self.group = "", ""

    def table(self, tag: Tag) -> None:
        self.flush()
        caption = tag.find("caption")
        if isinstance(caption, Tag) and caption.find_parent("table") is tag:
            text = collapse_ws(caption.get_text(" "))
            if text:
                self.blocks.append(Block(text))
        self.n_tables += 1
        self.blocks.extend(table_blocks(_table_rows(tag), f"table{self.n_tables}"))


def _table_rows(table: Tag) -> list[list[str]]:
    """The table's cell texts on its grid: a ``colspan`` cell's text in the first column it spans (the
    others empty), a ``rowspan`` cell's text repeated in every row it spans, so each row reads on its own.
    A table nested in a cell becomes part of the cell's text (``a / b; c / d``)."""
    rows: list[list[str]] = []
    pending: dict[int, tuple[str, int]] = {}  # column → (text, rows still spanned) of rowspan cells above
    for tr in table.find_all("tr"):
        if tr.find_parent("table") is not table:
            continue  # a nested table's row: written inside its cell
        row: list[str] = []
        col = 0
        for cell in tr.find_all(("td", "th"), recursive=False):
            col = _take_spans(pending, row, col)
            text = _cell_text(cell)
            span = max(1, min(_int_attr(cell, "colspan", 1), 1000))
            down = max(1, min(_int_attr(cell, "rowspan", 1), 10000))
            for k in range(span):
                row.append(text if k == 0 else "")
                if down > 1:
                    pending[col] = (text if k == 0 else "", down - 1)
                col += 1
        _take_spans(pending, row, col)
        rows.append(row)
    return rows


def _take_spans(pending: dict[int, tuple[str, int]], row: list[str], col: int) -> int:
    """Fill the row from ``col`` on with cells spanned down from rows above; the next free column."""
    while col in pending:
        text, left = pending.pop(col)
        row.append(text)
        if left > 1:
            pending[col] = (text, left - 1)
        col += 1
    return col


def _cell_text(cell: Tag) -> str:
    nested = [t for t in cell.find_all("table") if t.find_parent(("td", "th")) is cell]
    if not nested:
        return cell.get_text(" ")
    parts: list[str] = []
    for child in cell.children:
        if isinstance(child, Tag) and child in nested:
            parts.append(flatten_table(_table_rows(child)))
        elif isinstance(child, Tag):
            parts.append(_cell_text(child) if child.find("table") else child.get_text(" "))
        elif isinstance(child, NavigableString) and not isinstance(child, _SKIPPED_STRINGS):
            parts.append(str(child))
    return " ".join(parts)


def _int_attr(tag: Tag, name: str, default: int) -> int:
    try:
        return int(str(tag.get(name) or default))
    except ValueError:
        return default
