"""Finding the files to load under the paths a user names."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from ragtune.errors import LoaderError

from ._registry import loader_for


@dataclass(frozen=True)
class SourceFile:
    """A file to load: its ``path``, the ``root`` it was found under, and ``rel_id``, its POSIX path
    relative to that root, which becomes the id of the file's document (``billing/plans.md``)."""

    path: Path
    root: Path
    rel_id: str


def iter_files(paths: Sequence[str | Path], ignore: Sequence[str] = ()) -> Iterator[SourceFile]:
    """The loadable files under ``paths``, each directory walked recursively in sorted order.

    Inside a directory, hidden files and directories (any name starting with ``.``: ``.git``,
    ``.ragtune``) are skipped, as is anything whose relative POSIX path or base name matches an
    ``ignore`` glob (``drafts/*``, ``*.tmp``; a pattern matching a directory prunes it), and any file
    whose extension has no loader. A path naming a file is yielded as it is, whatever its name, with
    its parent as root (so its id is its file name): the user asked for it, and an unsupported one
    should be reported, not dropped. A file reached twice is yielded once.

    Raises LoaderError, before yielding anything, when a path does not exist.
    """
    given = [Path(p) for p in paths]
    for path in given:
        if not path.exists():
            raise LoaderError(path, "no such file or directory")
    seen: set[Path] = set()
    for path in given:
        found = [SourceFile(path, path.parent, path.name)] if path.is_file() else _walk(path, ignore)
        for source in found:
            key = source.path.resolve()
            if key not in seen:
                seen.add(key)
                yield source


def _walk(root: Path, ignore: Sequence[str]) -> list[SourceFile]:
    ignore = [p.rstrip("/") for p in ignore if p.rstrip("/")]  # "drafts/" names the directory too
    found: list[SourceFile] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(d for d in dirnames if not _skipped(rel_dir + d, d, ignore))
        for name in sorted(filenames):
            rel = rel_dir + name
            path = Path(dirpath, name)
            if not _skipped(rel, name, ignore) and loader_for(path) is not None and path.is_file():
                found.append(SourceFile(path, root, rel))
    return sorted(found, key=lambda s: s.rel_id)


def _skipped(rel: str, name: str, ignore: Sequence[str]) -> bool:
    return name.startswith(".") or any(fnmatchcase(rel, p) or fnmatchcase(name, p) for p in ignore)
