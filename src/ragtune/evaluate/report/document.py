"""A tiny document model (headings, paragraphs, lists, tables, images) rendered to Markdown and to HTML.

The report is assembled once as a list of blocks and rendered twice, so report.md and report.html carry the
same content. The HTML is self-contained: inline CSS, images embedded as ``data:`` URIs, no scripts.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Heading:
    """A heading, level 1–4."""

    level: int
    text: str


@dataclass(frozen=True)
class Para:
    """A paragraph of plain text; ``muted`` renders it as a side note."""

    text: str
    muted: bool = False


@dataclass(frozen=True)
class Bullets:
    """A bulleted list; an item given as ``(key, value)`` is rendered as ``key: value`` with the key in bold."""

    items: Sequence[str | tuple[str, str]]


@dataclass(frozen=True)
class GroupRow:
    """A row of a table that heads a group of rows (a section of the comparison table)."""

    title: str


@dataclass(frozen=True)
class Table:
    """A table; rows are lists of cell texts, or :class:`GroupRow` headings."""

    header: Sequence[str]
    rows: Sequence[Sequence[str] | GroupRow]


@dataclass(frozen=True)
class Image:
    """A chart: linked by ``rel`` (relative to the report) in Markdown, embedded from ``path`` in HTML."""

    path: Path
    rel: str
    alt: str


Block = Heading | Para | Bullets | Table | Image

_MD_SPECIAL = re.compile(r"([\\`*]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")  # intraword _ is literal in GFM
_MD_TAG = re.compile(r"<(?=[A-Za-z/!?])")


def _md_text(text: str) -> str:
    """Escape what Markdown would otherwise read as emphasis, code or HTML; keep text on one line."""
    text = " ".join(str(text).split())
    return _MD_TAG.sub(r"\\<", _MD_SPECIAL.sub(r"\\\1", text))


def _md_cell(text: str) -> str:
    return _md_text(text).replace("|", r"\|")


def to_markdown(blocks: Sequence[Block]) -> str:
    """Render blocks as GitHub-flavoured Markdown."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {_md_text(block.text)}")
        elif isinstance(block, Para):
            text = _md_text(block.text)
            out.append(f"*{text}*" if block.muted else text)
        elif isinstance(block, Bullets):
            out.append("\n".join(f"- {_md_item(item)}" for item in block.items))
        elif isinstance(block, Table):
            lines = ["| " + " | ".join(_md_cell(h) for h in block.header) + " |"]
            lines.append("|" + "|".join("---" for _ in block.header) + "|")
            for row in block.rows:
                if isinstance(row, GroupRow):
                    cells = [f"**{_md_cell(row.title)}**", *([""] * (len(block.header) - 1))]
                else:
                    cells = [_md_cell(c) for c in row]
                lines.append("| " + " | ".join(cells) + " |")
            out.append("\n".join(lines))
        elif isinstance(block, Image):
            out.append(f"![{_md_text(block.alt)}]({block.rel})")
    return "\n\n".join(out) + "\n"


def _md_item(item: str | tuple[str, str]) -> str:
    if isinstance(item, tuple):
        return f"**{_md_text(item[0])}:** {_md_text(item[1])}"
    return _md_text(item)


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; max-width: 72rem; margin: 2rem auto;
       padding: 0 1rem; color: #1d2330; line-height: 1.45; }
h1 { font-size: 1.7rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #d6dbe4; padding-bottom: .2rem; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .9rem; }
th, td { border: 1px solid #d6dbe4; padding: .3rem .55rem; text-align: left; vertical-align: top; }
thead th { background: #eef1f6; }
tr.group th { background: #f7f8fb; color: #2a5db0; font-size: .95rem; }
td:first-child { font-weight: 600; } td:last-child { color: #5b6475; }
p.muted { color: #5b6475; font-size: .9rem; }
img { max-width: 100%; height: auto; border: 1px solid #e3e6ec; margin: .5rem 0 1rem; }
figure { margin: 0; } figcaption { color: #5b6475; font-size: .85rem; }
"""


def _html_item(item: str | tuple[str, str]) -> str:
    if isinstance(item, tuple):
        return f"<strong>{html.escape(item[0])}:</strong> {html.escape(item[1])}"
    return html.escape(item)


def to_html(blocks: Sequence[Block], title: str) -> str:
    """Render blocks as one self-contained HTML page (inline CSS, embedded images, no scripts)."""
    body: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Para):
            cls = ' class="muted"' if block.muted else ""
            body.append(f"<p{cls}>{html.escape(block.text)}</p>")
        elif isinstance(block, Bullets):
            body.append("<ul>" + "".join(f"<li>{_html_item(i)}</li>" for i in block.items) + "</ul>")
        elif isinstance(block, Table):
            head = "".join(f"<th>{html.escape(h)}</th>" for h in block.header)
            rows = []
            for row in block.rows:
                if isinstance(row, GroupRow):
                    rows.append(
                        f'<tr class="group"><th colspan="{len(block.header)}">{html.escape(row.title)}</th></tr>'
                    )
                else:
                    rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")
        elif isinstance(block, Image):
            data = base64.b64encode(block.path.read_bytes()).decode("ascii")
            alt = html.escape(block.alt)
            body.append(
                f'<figure><img src="data:image/png;base64,{data}" alt="{alt}"><figcaption>{alt}</figcaption></figure>'
            )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
