"""Loading: one file (:func:`load_file`) or everything under some paths (:func:`load_all`)."""

from __future__ import annotations

import stat
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragtune.errors import LoaderError
from ragtune.kb.acl import ACL_KEY, normalize_acl

from ..document import Document
from ._decode import human_size
from ._discovery import SourceFile, iter_files
from ._isolation import parse_with_timeout
from ._options import LoadOptions
from ._parse import parse, unsupported
from ._registry import loader_for


@dataclass
class LoadResult:
    """What became of one file: its documents, or the error that stopped it (then ``documents`` is
    empty); ``seconds`` is the wall time spent on it."""

    source: SourceFile
    documents: list[Document] = field(default_factory=list)
    error: LoaderError | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the file loaded."""
        return self.error is None


def load_file(path: str | Path, opts: LoadOptions | None = None, rel_id: str | None = None) -> list[Document]:
    """The documents in one file, or LoaderError naming the file and the reason.

    ``rel_id`` is the id for the file's document (default: the file name); collection formats (JSONL)
    give each record its own id. Size and emptiness are checked before the file is read; the parser runs
    under ``opts.timeout_s``. Every document gets ``metadata`` ``format``, ``size`` and ``mtime``, and
    ``source`` (the path; ``path#id`` for records).
    """
    path = Path(path)
    opts = opts or LoadOptions()
    if loader_for(path) is None:
        raise unsupported(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise LoaderError(path, "no such file") from None
    except OSError as exc:
        raise LoaderError(path, f"cannot read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise LoaderError(path, "not a regular file")
    if st.st_size > opts.max_bytes:
        size, cap = human_size(st.st_size), human_size(opts.max_bytes)
        raise LoaderError(path, f"file is {size}, over the {cap} cap")
    if st.st_size == 0:
        raise LoaderError(path, "empty file")
    documents = parse(path, opts) if opts.timeout_s is None else parse_with_timeout(path, opts, opts.timeout_s)

    file_id = rel_id or path.name
    fmt = path.suffix.lower().lstrip(".")
    unnamed = [d for d in documents if not d.id]
    for n, doc in enumerate(unnamed, start=1):
        doc.id = file_id if len(unnamed) == 1 else f"{file_id}#{n}"
    for doc in documents:
        doc.source = doc.source or str(path)
        doc.metadata = {"format": fmt, "size": st.st_size, "mtime": st.st_mtime, **doc.metadata}
        set_acl(doc, opts.acl if opts.acl is not None else doc.metadata.get(ACL_KEY), path)
    return documents


def set_acl(doc: Document, value: Any, path: str | Path) -> None:
    """Store ``value`` as ``doc``'s normalized acl (no key when everyone may read it); LoaderError naming the
    file and the field when it is malformed."""
    try:
        groups = normalize_acl(value, where="field 'acl'")
    except ValueError as exc:
        raise LoaderError(path, str(exc)) from None
    if groups:
        doc.metadata[ACL_KEY] = list(groups)
    else:
        doc.metadata.pop(ACL_KEY, None)


def load_all(paths: Sequence[str | Path], opts: LoadOptions | None = None) -> Iterator[LoadResult]:
    """Load every file under ``paths`` (see :func:`iter_files`), yielding one LoadResult per file.

    A bad file yields a result carrying its LoaderError and loading goes on; so does a document whose
    id an earlier file already produced. Only a path that does not exist raises (LoaderError), before
    anything is loaded.
    """
    opts = opts or LoadOptions()
    first_source: dict[str, str] = {}
    for source in iter_files(paths, opts.ignore):
        started = time.perf_counter()
        try:
            documents = load_file(source.path, opts, source.rel_id)
            clash = next((d for d in documents if d.id in first_source), None)
            if clash is not None:
                raise LoaderError(source.path, f"document id '{clash.id}' already loaded from "
                                  f"{first_source[clash.id]}")  # fmt: skip
        except LoaderError as exc:
            yield LoadResult(source, [], exc, time.perf_counter() - started)
            continue
        except Exception as exc:  # one file's surprise must not end the ingest
            error = LoaderError(source.path, f"{type(exc).__name__}: {exc}")
            yield LoadResult(source, [], error, time.perf_counter() - started)
            continue
        for doc in documents:
            first_source[doc.id] = str(source.path)
        yield LoadResult(source, documents, None, time.perf_counter() - started)
