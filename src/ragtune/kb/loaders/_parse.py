"""One parse, in whatever process runs it: find the loader, call it, check what it returned."""

from __future__ import annotations

from pathlib import Path

from ragtune.errors import LoaderError

from ..document import Document
from ._options import LoadOptions
from ._registry import loader_for, supported_extensions


def unsupported(path: Path) -> LoaderError:
    """The error for a file whose extension has no loader."""
    kind = f"'{path.suffix}'" if path.suffix else "(no extension)"
    return LoaderError(path, f"unsupported file type {kind}; supported: {', '.join(supported_extensions())}")


def parse(path: Path, opts: LoadOptions) -> list[Document]:
    """Run ``path``'s loader here and now. Any exception becomes a LoaderError naming the file."""
    loader = loader_for(path)
    if loader is None:
        raise unsupported(path)
    try:
        documents = loader(path, opts)
    except LoaderError:
        raise
    except Exception as exc:
        # A parser's own exception (or a bug in a custom loader) costs this file only.
        raise LoaderError(path, f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(documents, list) or not all(isinstance(d, Document) for d in documents):
        raise LoaderError(path, f"loader returned {type(documents).__name__}, expected list[Document]")
    return documents
