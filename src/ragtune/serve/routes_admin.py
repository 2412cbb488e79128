"""Training runs, registered models, comparison reports and API keys.

=========================================  ======  ===================================================
route                                      role    answer
=========================================  ======  ===================================================
``GET    /v1/runs?collection=``            reader  ``{"data": [{"name", "run_id", "status", "params", "metrics",
                                                   "loss": [[step, loss]], "eval_loss": [[step, loss]]}]}``
``GET    /v1/registry?collection=``        reader  ``{"data": [model + "lineage" + "staleness"]}``
``GET    /v1/comparisons``                 admin   ``{"data": [{"name", "strategies", "examples", ...}]}``
``GET    /v1/comparisons/{name}/report.html``  admin   the report (it quotes passages, so admins only)
``POST   /v1/keys``                        admin   ``{"key", "id", "name", ...}`` (the key is shown once)
``GET    /v1/keys``                        admin   ``{"data": [key without secret]}``
``DELETE /v1/keys/{id_or_name}``           admin   ``{"revoked": id}``
=========================================  ======  ===================================================

Runs are ``<kb>/runs/*/run.json`` with their ``config.json`` and ``metrics.json`` (the loss curve; for a run
still going, the log history of its newest checkpoint); models come from the KB's registry with
:func:`ragtune.tune.staleness.check_model`. Comparisons are the results folders under ``[serve] results``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse

from ragtune.errors import ConfigError, NotFoundError, RagtuneError
from ragtune.serve.context import ServerContext, access_of, caller, need
from ragtune.serve.errors import ApiError
from ragtune.serve.schemas import KeyRequest


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _pairs(values: Any) -> list[list[float]]:
    out = []
    for item in values or []:
        if isinstance(item, (list, tuple)) and len(item) == 2:
            out.append([int(item[0]), float(item[1])])
    return out


def read_runs(kb_dir: Path) -> list[dict[str, Any]]:
    """Every training run under ``kb_dir/runs``, newest first."""
    from ragtune.tune.training.rundir import RUNS, last_checkpoint

    root = kb_dir / RUNS
    if not root.is_dir():
        return []
    runs = []
    for run_dir in sorted(root.iterdir(), reverse=True):
        info = _json(run_dir / "run.json")
        if not info:
            continue
        result = _json(run_dir / "metrics.json")
        loss, evals = _pairs(result.get("loss_history")), _pairs(result.get("eval_history"))
        if not result:
            checkpoint = last_checkpoint(run_dir)
            history = _json(checkpoint / "trainer_state.json").get("log_history", []) if checkpoint else []
            loss = [[int(h["step"]), float(h["loss"])] for h in history if "loss" in h and "step" in h]
            evals = [[int(h["step"]), float(h["eval_loss"])] for h in history if "eval_loss" in h and "step" in h]
        runs.append(
            {
                "name": info.get("name") or info.get("run_id") or run_dir.name,
                "run_id": info.get("run_id") or run_dir.name,
                "status": info.get("status", "unknown"),
                "base": info.get("base"),
                "kb_version": info.get("kb_version"),
                "created_at": info.get("created_at"),
                "finished_at": info.get("finished_at"),
                "params": _json(run_dir / "config.json").get("train", {}),
                "metrics": result.get("metrics", {}),
                "loss": loss,
                "eval_loss": evals,
            }
        )
    return runs


def find_comparisons(folders: tuple[Path, ...]) -> dict[str, Path]:
    """Results folders (each with summary.json) by name: the folders given and their direct subfolders."""
    found: dict[str, Path] = {}
    for folder in folders:
        candidates = [folder] + (sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else [])
        for c in candidates:
            if (c / "summary.json").is_file() and c.name not in found:
                found[c.name] = c
    return found


def add_routes(app: FastAPI, ctx: ServerContext) -> None:
    collections = ctx.collections

    @app.get("/v1/runs")
    def runs(request: Request, collection: str | None = None) -> dict[str, Any]:
        who = caller(request)
        kb = collections.resolve(collection, who).require_kb()
        return {"object": "list", "data": read_runs(Path(kb.path))}

    @app.get("/v1/registry")
    def registry(request: Request, collection: str | None = None) -> dict[str, Any]:
        from ragtune.tune.registry import FILENAME, ModelRegistry
        from ragtune.tune.staleness import check_model

        who = caller(request)
        kb = collections.resolve(collection, who).require_kb()
        if not (Path(kb.path) / FILENAME).exists():
            return {"object": "list", "data": []}
        full = access_of(who).unrestricted
        data = []
        with ModelRegistry.open(kb.path) as reg:
            for model in reg.list():
                entry = model.as_dict()
                entry["lineage"] = {
                    "base": model.base,
                    "run_id": model.run_id,
                    "data_path": model.data_path,
                    "data_sha256": model.data_sha256,
                    "kb_version": model.kb_version,
                }
                try:
                    report = check_model(kb, model)
                    staleness: dict[str, Any] = {
                        "verdict": report.verdict,
                        "retrain": report.retrain,
                        "trained_version": report.trained_version,
                        "head": report.head,
                        "added": len(report.added),
                        "updated": len(report.updated),
                        "removed": len(report.removed),
                        "affected_examples": len(report.affected),
                    }
                    if full:  # doc ids and questions only for callers who read every document
                        staleness["documents"] = {
                            "added": report.added,
                            "updated": report.updated,
                            "removed": report.removed,
                        }
                except RagtuneError as exc:
                    staleness = {"verdict": "unknown", "error": str(exc)}
                entry["staleness"] = staleness
                data.append(entry)
        return {"object": "list", "data": data}

    @app.get("/v1/comparisons")
    def comparisons(request: Request) -> dict[str, Any]:
        need(caller(request), "admin", "read comparison reports")
        data = []
        for name, folder in find_comparisons(ctx.settings.results).items():
            summary = _json(folder / "summary.json")
            strategies = summary.get("strategies") if isinstance(summary.get("strategies"), dict) else {}
            data.append(
                {
                    "name": name,
                    "strategies": list(strategies or {}),
                    "examples": summary.get("n_examples") or summary.get("examples"),
                    "created": summary.get("created") or summary.get("created_at"),
                    "report": (folder / "report.html").is_file(),
                    "modified": (folder / "summary.json").stat().st_mtime,
                }
            )
        return {"object": "list", "data": data}

    @app.get("/v1/comparisons/{name}/report.html", response_model=None)
    def comparison_report(request: Request, name: str) -> FileResponse:
        need(caller(request), "admin", "read comparison reports")
        folder = find_comparisons(ctx.settings.results).get(name)  # a name from the list, never a path
        if folder is None or not (folder / "report.html").is_file():
            raise ApiError(404, f"no comparison report {name!r}", code="not_found")
        return FileResponse(folder / "report.html", media_type="text/html")

    def key_store() -> Any:
        if ctx.keys is None:
            raise ApiError(404, "this server has no key file (start it with --keys)", code="no_key_file")
        return ctx.keys

    @app.post("/v1/keys")
    def create_key(request: Request, body: KeyRequest) -> dict[str, Any]:
        need(caller(request), "admin", "manage keys")
        unknown = [c for c in body.collections if c not in collections.names]
        if unknown:
            raise ApiError(
                400,
                f"no collection {unknown[0]!r}; served: {', '.join(collections.names)}",
                param="collections",
                code="invalid_value",
            )
        try:
            record, token = key_store().create(body.name, body.role, collections=body.collections, groups=body.groups)
        except ConfigError as exc:
            raise ApiError(400, str(exc), param="name", code="invalid_value") from None
        return {**record.public(), "key": token}

    @app.get("/v1/keys")
    def list_keys(request: Request) -> dict[str, Any]:
        need(caller(request), "admin", "manage keys")
        return {"object": "list", "data": [k.public() for k in key_store().list()]}

    @app.delete("/v1/keys/{key}")
    def revoke_key(request: Request, key: str) -> dict[str, Any]:
        need(caller(request), "admin", "manage keys")
        try:
            record = key_store().revoke(key)
        except NotFoundError as exc:
            raise ApiError(404, str(exc), code="not_found") from None
        return {"revoked": record.id, "name": record.name}
