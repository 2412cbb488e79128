"""Run directories: ``<kb>/runs/<run_id>/`` holds ``run.json`` (status, lineage), ``config.json``, ``checkpoints/``,
the trained ``adapter/`` (or ``model/`` for full fine-tuning) and ``metrics.json``.

``run.json`` is written atomically at start (status ``running``) and at the end (``finished``), so an interrupted
run is recognisable and ``--resume`` can find it and its last complete checkpoint.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any

from ragtune.config import KB_DIRNAME, find_kb
from ragtune.errors import ConfigError, NotFoundError

RUNS = "runs"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def kb_root(kb_dir: str | Path | None) -> Path:
    """``kb_dir``, else the nearest ``.ragtune/`` upward, else ``./.ragtune`` (created)."""
    root = Path(kb_dir) if kb_dir is not None else (find_kb() or Path.cwd() / KB_DIRNAME)
    root.mkdir(parents=True, exist_ok=True)
    return root.resolve()


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_run(run_dir: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        return data
    except (OSError, json.JSONDecodeError) as exc:
        raise NotFoundError(f"{run_dir}: not a readable run ({exc})") from exc


def last_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint (its ``trainer_state.json``, written last, exists)."""
    found = []
    d = run_dir / "checkpoints"
    if d.is_dir():
        for c in d.iterdir():
            m = _CHECKPOINT.match(c.name)
            if m and (c / "trainer_state.json").exists():
                found.append((int(m.group(1)), c))
    return max(found)[1] if found else None


def find_resumable(root: Path, ref: str | bool, data_sha256: str, base: str) -> Path:
    """The run to resume: ``ref`` names it, or (``ref`` True) the newest unfinished run on the same data and base."""
    runs_dir = root / RUNS
    if isinstance(ref, str):
        run_dir = runs_dir / ref
        if not (run_dir / "run.json").exists():
            raise NotFoundError(f"no run {ref!r} under {runs_dir}")
        info = read_run(run_dir)
        if info.get("status") == "finished":
            raise ConfigError(f"run {ref} already finished; nothing to resume")
        if info.get("data_sha256") != data_sha256:
            raise ConfigError(f"run {ref} was trained on other data (sha256 {info.get('data_sha256', '?')[:12]}…)")
        return run_dir
    candidates = []
    if runs_dir.is_dir():
        for d in runs_dir.iterdir():
            if not (d / "run.json").exists():
                continue
            info = read_run(d)
            if info.get("status") != "finished" and info.get("data_sha256") == data_sha256 and info.get("base") == base:
                candidates.append((info.get("created_at", 0), d))
    if not candidates:
        raise NotFoundError(f"no interrupted run on this data and base under {runs_dir} to resume")
    return max(candidates)[1]
