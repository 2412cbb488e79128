"""Uploads: files sent to ``POST /v1/uploads`` become documents through a background ingest job.

A file's name is reduced to a safe base name before anything is written (:func:`safe_filename` refuses NUL,
absolute paths, ``..``, hidden names and separators in odd places), and the file is written to
``<kb>/uploads/<job id>/<name>``, a path checked to lie inside the collection's upload folder. The document's
id is the base name (uploading ``faq.md`` again updates the document ``faq.md``); doc ids are store keys
and never become filesystem paths.

A job loads each file in turn (a file that cannot be parsed is reported in ``errors`` with the reason and
the others go on), then commits one version with every document loaded. Jobs of one collection run one at a
time.
"""

from __future__ import annotations

import logging
import re
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ragtune.errors import LoaderError, RagtuneError
from ragtune.kb.acl import ALL, Access

if TYPE_CHECKING:
    from ragtune.kb.document import Document
    from ragtune.serve.collections import Collection

log = logging.getLogger("ragtune.serve")
_DRIVE = re.compile(r"^[A-Za-z]:")
MAX_NAME = 200


def safe_filename(name: str) -> str:
    """The base name to store an uploaded file under; ValueError with the reason when it is not acceptable.

    Browsers send a base name; some clients send a path (``docs/faq.md``, ``C:\\docs\\faq.md``), whose last
    part is kept. Refused: empty names, NUL or control characters, absolute paths, any ``..`` part, and
    hidden names (starting with ``.``).
    """
    if not name or not name.strip():
        raise ValueError("empty file name")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise ValueError("the file name contains NUL or control characters")
    unified = name.replace("\\", "/")
    if unified.startswith("/") or _DRIVE.match(unified):
        raise ValueError("absolute paths are not accepted as file names")
    parts = PurePosixPath(unified).parts
    if any(p == ".." for p in parts):
        raise ValueError("'..' is not accepted in a file name")
    base = parts[-1] if parts else ""
    if not base or base in (".", ".."):
        raise ValueError("empty file name")
    if base.startswith("."):
        raise ValueError("hidden file names (starting with '.') are not accepted")
    if len(base) > MAX_NAME:
        raise ValueError(f"the file name is longer than {MAX_NAME} characters")
    return base


def inside(folder: Path, path: Path) -> bool:
    """Whether ``path`` resolves to a place inside ``folder`` (symlinks followed)."""
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


@dataclass
class Job:
    id: str
    collection: str
    owner: str | None
    total: int
    state: str = "running"  # running | done | failed
    done: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    version: int | None = None
    documents: list[str] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "collection": self.collection,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "errors": list(self.errors),
            "version": self.version,
            "documents": list(self.documents),
        }


class Jobs:
    """Upload jobs of one server, by id (kept for the process's lifetime)."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def new_folder(self, collection: Collection) -> tuple[str, Path]:
        job_id = secrets.token_hex(8)
        folder = collection.uploads_dir / job_id
        folder.mkdir(parents=True, exist_ok=False)
        return job_id, folder

    def start(
        self,
        job_id: str,
        collection: Collection,
        files: list[tuple[str, Path]],
        *,
        owner: str | None,
        acl: tuple[str, ...] | None,
        access: Access = ALL,
    ) -> Job:
        job = Job(job_id, collection.name, owner, total=len(files))
        with self._lock:
            self._jobs[job_id] = job
        thread = threading.Thread(
            target=self._run, args=(job, collection, files, acl, access), daemon=True, name=f"ragtune-upload-{job_id}"
        )
        thread.start()
        return job

    def _run(
        self,
        job: Job,
        collection: Collection,
        files: list[tuple[str, Path]],
        acl: tuple[str, ...] | None,
        access: Access,
    ) -> None:
        from ragtune.kb.loaders import load_file

        try:
            kb = collection.require_kb()
            with collection.write_lock:
                opts = kb.load_options()
                # A key may replace only documents it may read (else an upload could overwrite hidden ones).
                hidden = set(kb.documents()) - set(kb.documents(access=access)) if not access.unrestricted else set()
                docs: list[Document] = []
                for name, path in files:
                    try:
                        loaded = load_file(path, opts, rel_id=name)
                    except LoaderError as exc:
                        job.errors.append({"file": name, "reason": exc.reason})
                    except Exception as exc:  # one file's surprise must not end the job
                        job.errors.append({"file": name, "reason": f"{type(exc).__name__}: {exc}"})
                    else:
                        for doc in loaded:
                            doc.source = (doc.source or str(path)).replace(str(path), f"uploads/{name}", 1)
                            if acl is not None:
                                doc.metadata["acl"] = list(acl)
                        refused = [d.id for d in loaded if d.id in hidden]
                        if refused:
                            reason = f"this key may not replace the document {refused[0]!r}"
                            job.errors.append({"file": name, "reason": reason})
                        docs.extend(d for d in loaded if d.id not in hidden)
                    job.done += 1
                if docs:
                    report = kb.ingest_documents(docs, message=f"upload {', '.join(n for n, _ in files)}")
                    job.errors.extend({"file": e.path, "reason": e.reason} for e in report.errors)
                    job.version = report.version.version if report.version is not None else kb.head
                    job.documents = [d.id for d in docs]
            job.state = "done" if docs or not job.errors else "failed"
        except RagtuneError as exc:
            job.errors.append({"file": "", "reason": str(exc)})
            job.state = "failed"
        except Exception as exc:
            log.error("upload job %s failed", job.id, exc_info=exc)
            job.errors.append({"file": "", "reason": "internal error (details are in the server log)"})
            job.state = "failed"
        finally:
            job.finished_at = time.time()


def discard(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
