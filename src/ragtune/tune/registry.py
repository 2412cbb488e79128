"""The model registry: every finished training run registers a named model with its lineage.

One SQLite file, ``.ragtune/registry.sqlite`` (WAL; one transaction per change), beside the knowledge base.
A :class:`RegisteredModel` records the base model spec, the adapter (LoRA) or full checkpoint path, the data's
sha256 and path, the KB version the data came from (``metadata.kb_version`` of the examples, when present),
the final metrics, the run id and the time. ``ft:NAME`` model specs resolve through :func:`resolve_ft`.
``kind`` tells a language model (``generator``) from a fine-tuned embedder (``embedder``, from
``ragtune tune-retriever``; selected by its bare name as ``[embed] model`` or ``kb reembed --embedder NAME``).

This module imports only the standard library, so resolving ``ft:NAME`` loads no training stack.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ragtune.errors import ConfigError, NotFoundError, StoreError

FILENAME = "registry.sqlite"
PREFIX = "ft:"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    name TEXT PRIMARY KEY,
    base TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    data_sha256 TEXT,
    data_path TEXT,
    kb_version INTEGER,
    metrics TEXT NOT NULL DEFAULT '{}',
    run_id TEXT,
    created_at REAL NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    kind TEXT NOT NULL DEFAULT 'generator'
);
"""
KINDS = ("generator", "embedder", "reranker")


@dataclass
class RegisteredModel:
    """A trained model and where it came from. ``path`` is the adapter (lora) or full checkpoint (full)."""

    name: str
    base: str
    method: str
    path: str
    data_sha256: str | None = None
    data_path: str | None = None
    kb_version: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    run_id: str | None = None
    created_at: float = 0.0
    tags: list[str] = field(default_factory=list)
    kind: str = "generator"

    @property
    def spec(self) -> str:
        """How the model is named where a model is expected: ``ft:NAME`` for a generator, ``NAME`` for an
        embedder (``[embed] model``, ``--embedder``)."""
        return PREFIX + self.name if self.kind == "generator" else self.name

    @property
    def adapter(self) -> str | None:
        """The LoRA adapter directory (None for a full fine-tune)."""
        return self.path if self.method == "lora" else None

    def generator_spec(self) -> tuple[str, str | None]:
        """(``hf:`` spec, adapter path or None): what ``ft:NAME`` stands for."""
        if self.kind != "generator":
            raise ConfigError(
                f"ft:{self.name} is a fine-tuned {self.kind}, not a language model: use it as `--embedder {self.name}`"
            )
        if self.method == "lora":
            return self.base, self.path
        return "hf:" + self.path, None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["created"] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.created_at))
        return out


def _row(row: sqlite3.Row) -> RegisteredModel:
    return RegisteredModel(
        name=row["name"],
        base=row["base"],
        method=row["method"],
        path=row["path"],
        data_sha256=row["data_sha256"],
        data_path=row["data_path"],
        kb_version=row["kb_version"],
        metrics=json.loads(row["metrics"]),
        run_id=row["run_id"],
        created_at=row["created_at"],
        tags=json.loads(row["tags"]),
        kind=row["kind"],
    )


def check_name(name: str) -> str:
    """``name`` if it is a valid model name (letters, digits, ``._-``; starts with a letter or digit)."""
    if not _NAME.match(name):
        raise ConfigError(f"model name {name!r}: use letters, digits, '.', '_' or '-' (starting with a letter/digit)")
    return name


class ModelRegistry:
    """Registered models of one knowledge-base directory. Open with :meth:`open`; safe across processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._db = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA busy_timeout=30000")
            self._db.executescript(_SCHEMA)
            columns = {r["name"] for r in self._db.execute("PRAGMA table_info(models)")}
            if "kind" not in columns:  # a registry from before fine-tuned embedders: every model is a generator
                with contextlib.suppress(sqlite3.OperationalError):  # another process added it meanwhile
                    self._db.execute("ALTER TABLE models ADD COLUMN kind TEXT NOT NULL DEFAULT 'generator'")
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open the model registry: {exc}") from exc

    @classmethod
    def open(cls, kb_dir: str | Path) -> ModelRegistry:
        """The registry in ``kb_dir`` (a ``.ragtune/`` directory), created when missing."""
        d = Path(kb_dir)
        d.mkdir(parents=True, exist_ok=True)
        return cls(d / FILENAME)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ModelRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def register(self, model: RegisteredModel, *, replace: bool = False) -> RegisteredModel:
        """Store ``model`` (``created_at`` defaults to now). An existing name raises ConfigError unless ``replace``."""
        check_name(model.name)
        if model.kind not in KINDS:
            raise ConfigError(f"model kind must be one of {', '.join(KINDS)}, not {model.kind!r}")
        if not model.created_at:
            model.created_at = time.time()
        d = asdict(model)
        d["metrics"] = json.dumps(model.metrics, sort_keys=True)
        d["tags"] = json.dumps(sorted(set(model.tags)))
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        cols = ", ".join(d)
        with self._transaction() as db:
            try:
                db.execute(f"{verb} INTO models ({cols}) VALUES ({', '.join(':' + k for k in d)})", d)
            except sqlite3.IntegrityError:
                raise ConfigError(
                    f"a model named {model.name!r} is already registered; choose another --name or remove it "
                    f"(ragtune models rm {model.name})"
                ) from None
        return model

    def exists(self, name: str) -> bool:
        return self._db.execute("SELECT 1 FROM models WHERE name = ?", (name,)).fetchone() is not None

    def get(self, name: str) -> RegisteredModel:
        """The model called ``name`` (an ``ft:`` prefix is allowed); NotFoundError lists the known names."""
        name = name[len(PREFIX) :] if name.startswith(PREFIX) else name
        row = self._db.execute("SELECT * FROM models WHERE name = ?", (name,)).fetchone()
        if row is None:
            known = [m.name for m in self.list()]
            raise NotFoundError(
                f"no registered model {name!r} in {self.path}; known: {', '.join(known) if known else 'none'}"
            )
        return _row(row)

    def list(self, tag: str | None = None, kind: str | None = None) -> list[RegisteredModel]:
        """All models, newest first (only those carrying ``tag``, or of ``kind``, when given)."""
        rows = self._db.execute("SELECT * FROM models ORDER BY created_at DESC, name").fetchall()
        models = [_row(r) for r in rows]
        if kind:
            models = [m for m in models if m.kind == kind]
        return [m for m in models if tag in m.tags] if tag else models

    def tag(self, name: str, tag: str, *, exclusive_among: Sequence[str] = ()) -> RegisteredModel:
        """Add ``tag`` to ``name``. ``exclusive_among``: other models that lose the tag (a sweep's ``best``)."""
        tag = tag.strip()
        if not tag:
            raise ConfigError("a tag cannot be empty")
        with self._transaction() as db:
            row = db.execute("SELECT * FROM models WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise NotFoundError(f"no registered model {name!r}")
            for other in exclusive_among:
                r = db.execute("SELECT tags FROM models WHERE name = ?", (other,)).fetchone()
                if r is not None and other != name:
                    tags = [t for t in json.loads(r["tags"]) if t != tag]
                    db.execute("UPDATE models SET tags = ? WHERE name = ?", (json.dumps(tags), other))
            tags = sorted(set(json.loads(row["tags"])) | {tag})
            db.execute("UPDATE models SET tags = ? WHERE name = ?", (json.dumps(tags), name))
        return self.get(name)

    def untag(self, name: str, tag: str) -> RegisteredModel:
        """Remove ``tag`` from ``name`` (no error when it lacks it)."""
        with self._transaction() as db:
            row = db.execute("SELECT tags FROM models WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise NotFoundError(f"no registered model {name!r}")
            tags = [t for t in json.loads(row["tags"]) if t != tag]
            db.execute("UPDATE models SET tags = ? WHERE name = ?", (json.dumps(tags), name))
        return self.get(name)

    def remove(self, name: str, delete_files: bool = False) -> RegisteredModel:
        """Unregister ``name``; with ``delete_files`` also delete its adapter/checkpoint directory."""
        model = self.get(name)
        with self._transaction() as db:
            db.execute("DELETE FROM models WHERE name = ?", (model.name,))
        if delete_files:
            shutil.rmtree(model.path, ignore_errors=True)
        return model


def resolve_ft(spec: str, kb_dir: str | Path) -> tuple[str, str | None]:
    """``ft:NAME`` → (the base ``hf:`` spec or merged checkpoint spec, the adapter path or None)."""
    name = spec[len(PREFIX) :] if spec.startswith(PREFIX) else spec
    with ModelRegistry.open(kb_dir) as registry:
        return registry.get(name).generator_spec()
