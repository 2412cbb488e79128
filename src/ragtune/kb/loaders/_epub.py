"""EPUB e-books: the chapters in reading (spine) order, each XHTML file through the HTML loader's writer."""

from __future__ import annotations

import posixpath
import zipfile
from pathlib import Path
from urllib.parse import unquote
from xml.etree import ElementTree

from bs4 import BeautifulSoup

from ragtune.errors import LoaderError

from ..document import Document
from ._blocks import collapse_ws
from ._html import html_to_text
from ._options import LoadOptions

_CONTAINER = "META-INF/container.xml"
_NS = {
    "c": "urn:oasis:names:tc:opendocument:xmlns:container",
    "opf": "http://www.idpf.org/2007/opf",
    "dc": "http://purl.org/dc/elements/1.1/",
}
_XHTML_TYPES = ("application/xhtml+xml", "text/html")


def load_epub(path: Path, opts: LoadOptions) -> list[Document]:
    """An EPUB 2 or 3 book. The package (OPF) file named by ``META-INF/container.xml`` gives the spine; each
    XHTML item in it is converted as an HTML page is, chapters joined by a blank line. The title is the
    OPF's ``dc:title``, else the file stem; ``dc:creator`` and ``dc:language`` go to metadata when present.
    Refused: a file that is not a zip or lacks the container/OPF, a DRM-encrypted book, a book with no text."""
    try:
        book = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise LoaderError(path, f"not a valid EPUB file (not a zip archive: {exc})") from None
    with book:
        names = set(book.namelist())
        if "META-INF/encryption.xml" in names and _has_encrypted_content(book):
            raise LoaderError(path, "encrypted (DRM-protected) EPUB")
        if _CONTAINER not in names:
            raise LoaderError(path, f"not a valid EPUB file (no {_CONTAINER})")
        container = _xml(book, _CONTAINER, path)
        rootfile = container.find(".//c:rootfile", _NS)
        opf_path = rootfile.get("full-path", "") if rootfile is not None else ""
        if opf_path not in names:
            raise LoaderError(path, f"not a valid EPUB file (package file '{opf_path}' missing)")
        opf = _xml(book, opf_path, path)
        base = posixpath.dirname(opf_path)
        manifest = {item.get("id", ""): item for item in opf.iterfind("opf:manifest/opf:item", _NS)}
        chapters: list[str] = []
        for ref in opf.iterfind("opf:spine/opf:itemref", _NS):
            item = manifest.get(ref.get("idref", ""))
            if item is None or item.get("media-type") not in _XHTML_TYPES:
                continue
            name = posixpath.normpath(posixpath.join(base, unquote(item.get("href", ""))))
            if name not in names:
                raise LoaderError(path, f"spine item '{name}' is missing from the archive")
            try:
                soup = BeautifulSoup(book.read(name), "html.parser")
            except (zipfile.BadZipFile, OSError, EOFError) as exc:  # a damaged member (bad CRC, truncated)
                raise LoaderError(path, f"cannot read '{name}': {exc}") from None
            text = html_to_text(soup)
            if text:
                chapters.append(text)
        metadata: dict[str, str] = {}
        for key in ("creator", "language"):
            element = opf.find(f"opf:metadata/dc:{key}", _NS)
            if element is not None and collapse_ws(element.text or ""):
                metadata[key] = collapse_ws(element.text or "")
        title_el = opf.find("opf:metadata/dc:title", _NS)
        title = collapse_ws(title_el.text or "") if title_el is not None else ""
    if not chapters:
        raise LoaderError(path, "no text in the book's spine")
    return [Document(id="", title=title or path.stem, text="\n\n".join(chapters), metadata=metadata)]


def _xml(book: zipfile.ZipFile, name: str, path: Path) -> ElementTree.Element:
    try:
        return ElementTree.fromstring(book.read(name))
    except ElementTree.ParseError as exc:
        raise LoaderError(path, f"malformed XML in '{name}': {exc}") from None
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise LoaderError(path, f"cannot read '{name}': {exc}") from None


def _has_encrypted_content(book: zipfile.ZipFile) -> bool:
    """encryption.xml also carries font obfuscation, which leaves the text readable; only
    EncryptedData for something other than a font means the chapters are encrypted."""
    try:
        root = ElementTree.fromstring(book.read("META-INF/encryption.xml"))
    except (ElementTree.ParseError, zipfile.BadZipFile, OSError):
        return True
    for ref in root.iter("{http://www.w3.org/2001/04/xmlenc#}CipherReference"):
        uri = ref.get("URI", "").lower()
        if not uri.endswith((".otf", ".ttf", ".woff", ".woff2")):
            return True
    return False
