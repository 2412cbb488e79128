"""What Office (OOXML) loaders share: telling an encrypted or legacy file from a damaged one."""

from __future__ import annotations

from pathlib import Path

from ragtune.errors import LoaderError

# Password-protected OOXML files (and the pre-2007 .doc/.ppt/.xls formats) are OLE compound files, not zips.
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def bad_office_file(path: Path, kind: str, exc: BaseException) -> LoaderError:
    """The LoaderError for an OOXML file its library cannot open, saying why as well as we can tell."""
    with path.open("rb") as f:
        head = f.read(len(_OLE_MAGIC))
    if head == _OLE_MAGIC:
        return LoaderError(path, f"encrypted (password-protected) or legacy binary Office file, not a {kind} package")
    return LoaderError(path, f"not a valid {kind} file: {str(exc) or type(exc).__name__}")
