"""The loader registry: which function turns a file of each extension into Documents."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

from ..document import Document
from ._options import LoadOptions


class Loader(Protocol):
    """Turns one file into Documents, or raises :class:`~ragtune.errors.LoaderError`.

    Leave ``Document.id`` empty for "the file's own id" (its path relative to the ingested root) and
    ``Document.source`` empty for the file's path; a collection format (JSONL) sets both per record.
    ``metadata`` must be JSON-serialisable; ``format``, ``size`` and ``mtime`` are added for you.
    Loaders run in a worker process under ``LoadOptions.timeout_s``, so what they return must pickle.
    """

    def __call__(self, path: Path, opts: LoadOptions, /) -> list[Document]: ...


# The built-in parsers import their libraries (bs4, pypdf, python-docx, python-pptx, openpyxl) when a file of
# their kind is first loaded, not when ragtune is imported: a CLI command that reads no file never pays.
# Module-level functions, so they pickle by name into the loader worker.


def load_markdown(path: Path, opts: LoadOptions, /) -> list[Document]:
    from ._plain import load_markdown as load

    return load(path, opts)


def load_plain_text(path: Path, opts: LoadOptions, /) -> list[Document]:
    from ._plain import load_plain_text as load

    return load(path, opts)


def load_html(path: Path, opts: LoadOptions, /) -> list[Document]:
    from ._html import load_html as load

    return load(path, opts)


def load_pdf(path: Path, opts: LoadOptions, /) -> list[Document]:
    from ._pdf import load_pdf as load

    return load(path, opts)


def load_docx(path: Path, opts: LoadOptions, /) -> list[Document]:
    from ._docx import load_docx as load

    return load(path, opts)


def load_json(path: Path, opts: LoadOptions, /) -> list[Document]:
    from ._records import load_json as load

    return load(path, opts)


def load_jsonl(path: Path, opts: LoadOptions, /) -> list[Document]:
    from ._records import load_jsonl as load

    return load(path, opts)


def load_pptx(path: Path, opts: LoadOptions, /) -> list[Document]:
    from ._pptx import load_pptx as load

    return load(path, opts)


def load_xlsx(path: Path, opts: LoadOptions, /) -> list[Document]:
    from ._sheets import load_xlsx as load

    return load(path, opts)


def load_csv(path: Path, opts: LoadOptions, /) -> list[Document]:
    from ._sheets import load_csv as load

    return load(path, opts)


def load_epub(path: Path, opts: LoadOptions, /) -> list[Document]:
    from ._epub import load_epub as load

    return load(path, opts)


def load_eml(path: Path, opts: LoadOptions, /) -> list[Document]:
    from ._email import load_eml as load

    return load(path, opts)


def load_image(path: Path, opts: LoadOptions, /) -> list[Document]:
    from ._ocr import load_image as load

    return load(path, opts)


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
    ".pptx": load_pptx,
    ".xlsx": load_xlsx,
    ".xlsm": load_xlsx,
    ".csv": load_csv,
    ".tsv": load_csv,
    ".epub": load_epub,
    ".eml": load_eml,
    ".png": load_image,
    ".jpg": load_image,
    ".jpeg": load_image,
    ".tif": load_image,
    ".tiff": load_image,
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
