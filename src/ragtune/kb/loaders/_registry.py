"""The loader registry: which function turns a file of each extension into Documents."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

from ..document import Document
from ._docx import load_docx
from ._html import load_html
from ._options import LoadOptions
from ._pdf import load_pdf
from ._plain import load_markdown, load_plain_text
from ._records import load_json, load_jsonl


class Loader(Protocol):
    """Turns one file into Documents, or raises :class:`~ragtune.errors.LoaderError`.

    Leave ``Document.id`` empty for "the file's own id" (its path relative to the ingested root) and
    ``Document.source`` empty for the file's path; a collection format (JSONL) sets both per record.
    ``metadata`` must be JSON-serialisable; ``format``, ``size`` and ``mtime`` are added for you.
    Loaders run in a worker process under ``LoadOptions.timeout_s``, so what they return must pickle.
    """

    def __call__(self, path: Path, opts: LoadOptions, /) -> list[Document]: ...


_BUILTIN: dict[str, Loader] = {
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".txt": load_plain_text,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
    ".docx": load_docx,
    ".jsonl": load_jsonl,
    ".json": load_json,
}
_loaders: dict[str, Loader] = dict(_BUILTIN)
_lock = threading.Lock()
_generation = 0  # bumped on every change, so worker processes forked earlier can be retired


def _normalize_ext(ext: str) -> str:
    ext = ext.strip().lower()
    if not ext or ext == ".":
        raise ValueError("an extension is needed, e.g. '.rst'")
    return ext if ext.startswith(".") else "." + ext


def register_loader(ext: str, loader: Loader) -> None:
    """Use ``loader`` for files ending in ``ext`` (``".rst"`` or ``"rst"``; case-insensitive), replacing
    any loader registered for it, built-ins included."""
    global _generation
    with _lock:
        _loaders[_normalize_ext(ext)] = loader
        _generation += 1


def unregister_loader(ext: str) -> None:
    """Forget the loader for ``ext``; a built-in one comes back, otherwise such files are skipped again."""
    global _generation
    ext = _normalize_ext(ext)
    with _lock:
        if ext in _BUILTIN:
            _loaders[ext] = _BUILTIN[ext]
        else:
            _loaders.pop(ext, None)
        _generation += 1


def loader_for(path: Path) -> Loader | None:
    """The loader for ``path``'s extension, or None when the format is not supported."""
    return _loaders.get(path.suffix.lower())


def supported_extensions() -> list[str]:
    """The extensions that have a loader, sorted."""
    return sorted(_loaders)


def registry_generation() -> int:
    """A number that changes whenever the registry does."""
    return _generation
