"""JSON Lines I/O shared by training data, eval sets and comparison results: one JSON object per line.

Writes are atomic (a temporary file in the same folder, renamed into place), so a killed writer never leaves a
half file. Reading skips blank lines and names the file and line of any that is not JSON. A leaf module.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ragtune.errors import DatasetError


def write_jsonl(path: str | Path, records: Iterable[dict[str, Any]]) -> int:
    """Write JSON objects one per line, atomically (a temporary file renamed into place); return the count."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent)
    n = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            for record in records:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                n += 1
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n


def iter_jsonl(path: str | Path, *, column: bool = True) -> Iterator[tuple[int, Any]]:
    """``(line number, parsed value)`` for every non-blank line of ``path``.

    A line that is not JSON raises :class:`DatasetError` with the file, the line and the parser's reason (and its
    column when ``column``); an unreadable file raises it without a line."""
    for number, raw in raw_lines(path):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            where = f" (column {exc.colno})" if column else ""
            raise DatasetError(Path(path), number, f"invalid JSON: {exc.msg}{where}") from exc
        yield number, value


def raw_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` for every non-blank line of ``path``; an unreadable file raises DatasetError."""
    p = Path(path)
    try:
        handle = p.open(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(p, None, f"cannot read: {exc.strerror or exc}") from exc
    with handle:
        for number, raw in enumerate(handle, start=1):
            if raw.strip():
                yield number, raw
