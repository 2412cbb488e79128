"""Turning the bytes of a text file into str, or saying exactly why not."""

from __future__ import annotations

import codecs
from pathlib import Path

from ragtune.errors import LoaderError

from ._options import LoadOptions

_SNIFF_BYTES = 8192
# Control bytes that real text files do not contain; \b \t \n \v \f \r and ESC (ANSI colour codes in
# logs) are left out of the set on purpose.
_BINARY_CONTROLS = bytes(b for b in [*range(0x20), 0x7F] if b not in b"\x08\t\n\x0b\x0c\r\x1b")
_MAX_CONTROL_SHARE = 0.10


def human_size(n: int) -> str:
    """``1234567`` → ``'1.2 MB'`` (decimal units, as the size cap is stated)."""
    if n < 1000:
        return f"{n} B"
    for unit in ("KB", "MB", "GB"):
        n_units = n / 1000
        if n_units < 1000 or unit == "GB":
            return f"{n_units:.1f}".rstrip("0").rstrip(".") + f" {unit}"
        n = int(n_units)
    raise AssertionError("unreachable")


def normalize_newlines(text: str) -> str:
    """``\\r\\n`` and lone ``\\r`` become ``\\n``."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def decode_text(data: bytes, path: Path, opts: LoadOptions) -> str:
    """Decode a text file's bytes: the forced encoding, else a BOM's, else strict UTF-8.

    Raises LoaderError for binary data ("binary data in a text file"), bytes that are not valid in the
    encoding, and files with nothing but whitespace ("empty file"). Newlines are normalized.
    """
    if opts.encoding is not None:
        encoding = opts.encoding
    elif data.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"  # the codec reads the BOM to pick the byte order
    else:
        encoding = "utf-8"
    if not encoding.replace("-", "").lower().startswith(("utf16", "utf32")) and _looks_binary(data):
        raise LoaderError(path, "binary data in a text file")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        bad = data[exc.start]
        name = "UTF-8" if encoding in ("utf-8", "utf-8-sig") else encoding
        hint = "" if opts.encoding else "; save it as UTF-8 or set the 'encoding' option"
        raise LoaderError(path, f"not valid {name} (byte 0x{bad:02x} at offset {exc.start}){hint}") from None
    text = normalize_newlines(text)
    if not text.strip():
        raise LoaderError(path, "empty file")
    return text


def read_text(path: Path, opts: LoadOptions) -> str:
    """Read and decode a text file (see :func:`decode_text`)."""
    return decode_text(path.read_bytes(), path, opts)


def _looks_binary(data: bytes) -> bool:
    head = data[:_SNIFF_BYTES]
    if not head:
        return False
    if b"\x00" in head:
        return True
    controls = len(head) - len(head.translate(None, _BINARY_CONTROLS))
    return controls / len(head) > _MAX_CONTROL_SHARE
