"""The knowledge-base routes: documents, versions, diffs, rollback, uploads and their jobs.

===========================================  ======  ====================================================
route                                        role    answer
===========================================  ======  ====================================================
``GET    /v1/documents?collection=&q=&at=``  reader  ``{"version", "data": [{"doc_id", "title", "source",
                                                     "revision", "acl"}]}`` (``limit``, default 1000)
``GET    /v1/documents/{doc_id}``            reader  ``{"doc_id", "title", "source", "version", "passages"}``
``DELETE /v1/documents/{doc_id}``            editor  ``{"version", "removed"}``
``GET    /v1/versions``                      reader  ``{"data": [version]}``
``GET    /v1/diff?a=&b=``                    reader  ``{"a", "b", "added", "removed", "changed", "texts"}``
``POST   /v1/rollback``                      admin   ``{"version", ...}`` (a new version equal to ``version``)
``POST   /v1/uploads`` (multipart)           editor  ``{"job": id}``: ``collection``, ``files`` (repeated), ``acl``
``GET    /v1/jobs/{id}``                     editor  ``{"state", "done", "total", "errors", "version"}``
===========================================  ======  ====================================================

Every read shows only the documents the caller may read (``access=``); a document it may not read answers
404 with the same message as one that does not exist. A ``doc_id`` is a store key, never a path.
"""

from __future__ import annotations

import shutil
from typing import Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from ragtune.errors import NotFoundError
from ragtune.kb.acl import acl_of, normalize_acl
from ragtune.serve.context import ServerContext, access_of, caller, need
from ragtune.serve.errors import ApiError
from ragtune.serve.schemas import RollbackRequest
from ragtune.serve.uploads import discard, inside, safe_filename

MAX_DIFF_TEXTS = 200


def add_routes(app: FastAPI, ctx: ServerContext) -> None:
    collections = ctx.collections

    @app.get("/v1/documents")
    def documents(
        request: Request, collection: str | None = None, q: str | None = None, at: int | None = None, limit: int = 1000
    ) -> dict[str, Any]:
        who = caller(request)
        kb = collections.resolve(collection, who).require_kb()
        version = kb.store.check_version(at)
        live = kb.documents(version, access=access_of(who))
        fields = kb.store.revision_fields(list(live.values()))
        needle = (q or "").strip().lower()
        data = []
        for doc_id, rev in sorted(live.items()):
            f = fields.get(rev, {})
            title, source = str(f.get("title") or ""), str(f.get("source") or "")
            if needle and needle not in doc_id.lower() and needle not in title.lower() and needle not in source.lower():
                continue
            data.append({"doc_id": doc_id, "title": title, "source": source, "revision": rev, "acl": list(acl_of(f))})
            if len(data) >= max(1, limit):
                break
        return {"object": "list", "version": version, "data": data}

    @app.get("/v1/documents/{doc_id:path}")
    def document(request: Request, doc_id: str, collection: str | None = None, at: int | None = None) -> dict[str, Any]:
        who = caller(request)
        kb = collections.resolve(collection, who).require_kb()
        version = kb.store.check_version(at)
        info, passages = kb.document(doc_id, version, access=access_of(who))
        keep = ("ord", "heading_path", "page", "start", "end", "text")
        return {
            "doc_id": info.doc_id,
            "title": info.title,
            "source": info.source,
            "version": version,
            "revision": info.revision_id,
            "acl": list(acl_of(info.metadata)),
            "passages": [{k: p.get(k) for k in keep} for p in passages],
        }

    @app.delete("/v1/documents/{doc_id:path}")
    def remove_document(request: Request, doc_id: str, collection: str | None = None) -> dict[str, Any]:
        who = caller(request)
        coll = collections.resolve(collection, who)
        need(who, "editor", "remove documents")
        kb = coll.require_kb()
        with coll.write_lock:
            kb.document(doc_id, access=access_of(who))  # 404 when absent or not readable by this key
            info = kb.remove([doc_id], message=f"remove {doc_id} (by {who.name or 'local'})")
        return {"version": info.version if info is not None else kb.head, "removed": [doc_id]}

    @app.get("/v1/versions")
    def versions(request: Request, collection: str | None = None) -> dict[str, Any]:
        who = caller(request)
        kb = collections.resolve(collection, who).require_kb()
        return {"object": "list", "data": [v.as_dict() for v in kb.versions(access=access_of(who))]}

    @app.get("/v1/diff")
    def diff(request: Request, a: int, b: int, collection: str | None = None) -> dict[str, Any]:
        who = caller(request)
        kb = collections.resolve(collection, who).require_kb()
        access = access_of(who)
        found = kb.diff(a, b, access=access)
        texts: dict[str, str] = {}
        for doc_id in [*found.changed, *found.added, *found.removed][:MAX_DIFF_TEXTS]:
            try:
                texts[doc_id] = kb.text_diff(doc_id, a, b, access=access)
            except NotFoundError:
                continue
        return {**found.as_dict(), "texts": texts}

    @app.post("/v1/rollback")
    def rollback(request: Request, body: RollbackRequest) -> dict[str, Any]:
        who = caller(request)
        coll = collections.resolve(body.collection, who)
        need(who, "admin", "roll back")
        kb = coll.require_kb()
        with coll.write_lock:
            info = kb.rollback(body.version)
        return {
            "version": info.version if info is not None else kb.head,
            "rolled_back_to": body.version,
            "changed": info is not None,
        }

    @app.post("/v1/uploads")
    async def upload(request: Request) -> dict[str, Any]:
        who = caller(request)
        settings = ctx.settings
        need(who, "editor", "upload documents")  # before the body is read
        form = await request.form(max_files=settings.max_upload_files, max_fields=20)
        try:
            name = form.get("collection")
            coll = collections.resolve(name if isinstance(name, str) else None, who)
            kb = coll.require_kb()
            raw_acl = form.get("acl")
            acl: tuple[str, ...] | None = None
            if isinstance(raw_acl, str) and raw_acl.strip():
                try:
                    acl = normalize_acl(raw_acl, where="acl")
                except ValueError as exc:
                    raise ApiError(400, str(exc), param="acl", code="invalid_value") from None
            files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
            if not files:
                raise ApiError(
                    400,
                    "no files: send them as multipart form fields named 'files'",
                    param="files",
                    code="missing_required_parameter",
                )
            names: list[str] = []
            for f in files:
                try:
                    safe = safe_filename(f.filename or "")
                except ValueError as exc:
                    raise ApiError(
                        400, f"file {f.filename!r}: {exc}", param="files", code="invalid_file_name"
                    ) from None
                if safe in names:
                    raise ApiError(400, f"file {safe!r} is sent twice", param="files", code="invalid_value")
                if f.size is not None and f.size > settings.max_upload_bytes:
                    raise ApiError(
                        413,
                        f"file {safe!r} is larger than the {settings.max_upload_mb:g} MB limit per file",
                        param="files",
                        code="file_too_large",
                    )
                names.append(safe)
            job_id, folder = ctx.jobs.new_folder(coll)
            try:
                saved = await run_in_threadpool(_save, files, names, folder, settings.max_upload_bytes)
            except BaseException:
                discard(folder)
                raise
            ctx.jobs.start(job_id, coll, saved, owner=who.name, acl=acl, access=access_of(who))
            return {"job": job_id, "collection": coll.name, "files": names, "version": kb.head}
        finally:
            await form.close()

    @app.get("/v1/jobs/{job_id}")
    def job(request: Request, job_id: str) -> dict[str, Any]:
        who = caller(request)
        found = ctx.jobs.get(job_id)
        if found is None or not who.may_use(found.collection):
            raise ApiError(404, f"no upload job {job_id!r}", code="not_found")
        need(who, "editor", "read upload jobs")
        return found.as_dict()


def _save(files: list[UploadFile], names: list[str], folder: Any, limit: int) -> list[tuple[str, Any]]:
    """Copy each upload into ``folder/<safe name>``; 413 naming the file when it is over ``limit``."""
    out = []
    for f, name in zip(files, names, strict=True):
        target = folder / name
        if not inside(folder, target):
            raise ApiError(400, f"file {name!r}: not a plain file name", param="files", code="invalid_file_name")
        f.file.seek(0)
        with open(target, "xb") as dst:
            shutil.copyfileobj(f.file, dst, 1024 * 1024)
            if dst.tell() > limit:
                raise ApiError(
                    413,
                    f"file {name!r} is larger than the {limit / 1048576:g} MB limit per file",
                    param="files",
                    code="file_too_large",
                )
        out.append((name, target))
    return out
