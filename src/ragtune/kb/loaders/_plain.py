"""Markdown and plain-text files: already in the Document dialect, so read nearly as they are."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import yaml

from ragtune.errors import LoaderError

from ..document import Document
from ._decode import read_text
from ._options import LoadOptions

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_H1 = re.compile(r"^#[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_MAX_TITLE_LINE = 120


def load_markdown(path: Path, opts: LoadOptions) -> list[Document]:
    """A Markdown file. A leading YAML front-matter block (``---`` ... ``---``) is removed from the text
    and its top-level keys go to ``metadata`` (values made JSON-safe); its ``title`` wins, then the first
    ``# `` heading, then the file name's stem."""
    text = read_text(path, opts)
    front: dict[str, Any] = {}
    match = _FRONT_MATTER.match(text)
    if match:
        front = _parse_front_matter(match.group(1) or "", path)
        text = text[match.end() :]
        if not text.strip():
            raise LoaderError(path, "no text after the front matter")
    title = str(front.pop("title", "") or "").strip()
    if not title:
        h1 = _H1.search(text)
        title = h1.group(1).strip() if h1 else path.stem
    return [Document(id="", title=title, text=text, metadata=front)]


def load_plain_text(path: Path, opts: LoadOptions) -> list[Document]:
    """A plain-text file, as it is. The title is the first line when that line is short and followed by a
    blank line (a heading by typewriter convention), else the file name's stem. A leading front-matter block
    that is a YAML mapping (``---`` / ``acl: [team-a]`` / ``---``) is read as Markdown's is; anything else that
    starts with ``---`` stays text."""
    text = read_text(path, opts)
    front: dict[str, Any] = {}
    match = _FRONT_MATTER.match(text)
    if match:
        try:
            data = yaml.safe_load(match.group(1) or "")
        except yaml.YAMLError:
            data = None
        if isinstance(data, dict) and data and text[match.end() :].strip():
            front = {str(k): _json_safe(v) for k, v in data.items()}
            text = text[match.end() :]
    lines = text.lstrip("\n").split("\n", 2)
    first = lines[0].strip()
    is_heading = len(lines) == 1 or (len(lines) > 1 and not lines[1].strip())
    title = str(front.pop("title", "") or "").strip()
    if not title:
        title = first if first and is_heading and len(first) <= _MAX_TITLE_LINE else path.stem
    return [Document(id="", title=title, text=text, metadata=front)]


def _parse_front_matter(block: str, path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(block) if block.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise LoaderError(path, f"invalid YAML front matter{where}: {problem}") from None
    if not isinstance(data, dict):
        raise LoaderError(path, "YAML front matter is not a mapping of keys to values")
    return {str(k): _json_safe(v) for k, v in data.items()}


def _json_safe(value: Any) -> Any:
    """YAML values as JSON can hold them: dates become ISO strings, other odd types their str()."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    return str(value)
