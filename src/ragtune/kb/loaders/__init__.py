"""Loaders: files in many formats → :class:`~ragtune.kb.document.Document` in one text dialect.

Public API::

    LoadOptions                         settings (fields documented on the class)
    iter_files(paths, ignore)           → SourceFile(path, root, rel_id) for each loadable file
    load_file(path, opts, rel_id)       → list[Document]; raises LoaderError
    load_all(paths, opts)               → LoadResult per file; a bad file is a result, not an exception
    register_loader(ext, loader)        add a format (runs under the same timeout as the built-ins)

Built-in formats: Markdown, plain text, HTML, PDF (scanned pages through OCR), DOCX, PPTX, XLSX, CSV/TSV, EPUB,
e-mail (.eml), JSON and JSON Lines collections, and PNG/JPEG/TIFF images (OCR).
"""

from __future__ import annotations

from ._discovery import SourceFile, iter_files
from ._isolation import stop_worker
from ._load import LoadResult, load_all, load_file
from ._options import DEFAULT_IGNORE, LoadOptions
from ._registry import Loader, loader_for, register_loader, supported_extensions, unregister_loader

__all__ = [
    "DEFAULT_IGNORE",
    "LoadOptions",
    "LoadResult",
    "Loader",
    "SourceFile",
    "iter_files",
    "load_all",
    "load_file",
    "loader_for",
    "register_loader",
    "stop_worker",
    "supported_extensions",
    "unregister_loader",
]
