"""``[serve]`` and ``[collections]`` in ragtune.toml: what ``ragtune serve`` and ``ragtune mcp`` read.

.. code-block:: toml

    [serve]
    keys = "keys.json"          # the key file (default: $RAGTUNE_HOME/keys.json)
    max_body_mb = 1             # a JSON request body larger than this → 413
    max_upload_mb = 50          # one uploaded file larger than this → 413
    max_upload_request_mb = 200 # one upload request larger than this → 413
    max_upload_files = 100      # files in one upload request
    results = ["results"]       # comparison results folders (each holding summary.json) or their parents

    [collections]
    support = "support/.ragtune"
    hr = "/srv/kb/hr/.ragtune"

Relative paths are read against the folder of the ragtune.toml they are written in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragtune.config import CONFIG_NAME, find_upward, raw_config
from ragtune.errors import ConfigError

_COLLECTION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MB = 1024 * 1024


def check_collection_name(name: str, *, where: str) -> str:
    if not _COLLECTION.match(name):
        raise ConfigError(f"{where}: {name!r} is not a collection name (letters, digits, . _ -; at most 64)")
    return name


@dataclass(frozen=True)
class ServeSettings:
    keys: Path | None = None
    max_body_mb: float = 1.0
    max_upload_mb: float = 50.0
    max_upload_request_mb: float = 200.0
    max_upload_files: int = 100
    results: tuple[Path, ...] = ()
    collections: dict[str, Path] = field(default_factory=dict)
    source: Path | None = None

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * MB)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * MB)

    @property
    def max_upload_request_bytes(self) -> int:
        return int(self.max_upload_request_mb * MB)

    @classmethod
    def load(cls, config_path: Path | None = None, config: Mapping[str, Any] | None = None) -> ServeSettings:
        """From ragtune.toml (``config_path``, else the nearest one upward from the current directory)."""
        path = config_path or find_upward(CONFIG_NAME)
        data = dict(config) if config is not None else raw_config(path)
        base = path.parent if path is not None else Path.cwd()
        where = str(path) if path is not None else CONFIG_NAME
        serve = data.get("serve") or {}
        if not isinstance(serve, dict):
            raise ConfigError(f"{where}: [serve] must be a table")
        values: dict[str, Any] = {"source": path}
        for key, value in serve.items():
            if key == "keys":
                if not isinstance(value, str) or not value:
                    raise ConfigError(f"{where}: [serve] keys: expected a path, got {value!r}")
                values["keys"] = base / Path(value).expanduser()
            elif key in ("max_body_mb", "max_upload_mb", "max_upload_request_mb"):
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                    raise ConfigError(f"{where}: [serve] {key}: expected a positive number, got {value!r}")
                values[key] = float(value)
            elif key == "max_upload_files":
                if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                    raise ConfigError(f"{where}: [serve] {key}: expected a positive integer, got {value!r}")
                values[key] = value
            elif key == "results":
                items = [value] if isinstance(value, str) else value
                if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
                    raise ConfigError(f"{where}: [serve] results: expected a path or a list of paths")
                values["results"] = tuple(base / Path(v).expanduser() for v in items)
            else:
                known = "keys, max_body_mb, max_upload_mb, max_upload_request_mb, max_upload_files, results"
                raise ConfigError(f"{where}: unknown setting [serve] {key}; known: {known}")
        table = data.get("collections") or {}
        if not isinstance(table, dict):
            raise ConfigError(f'{where}: [collections] must be a table of NAME = "PATH"')
        collections: dict[str, Path] = {}
        for name, value in table.items():
            check_collection_name(name, where=f"{where}: [collections]")
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{where}: [collections] {name}: expected a path, got {value!r}")
            collections[name] = base / Path(value).expanduser()
        values["collections"] = collections
        return cls(**values)


def parse_collection_option(values: tuple[str, ...] | list[str]) -> dict[str, Path]:
    """``--collection NAME=PATH`` (repeatable) → ``{NAME: PATH}``; a bad item is named."""
    out: dict[str, Path] = {}
    for item in values:
        name, sep, path = item.partition("=")
        if not sep or not path:
            raise ConfigError(f"--collection {item!r}: expected NAME=PATH")
        check_collection_name(name.strip(), where="--collection")
        if name.strip() in out:
            raise ConfigError(f"--collection {name.strip()!r} given twice")
        out[name.strip()] = Path(path).expanduser()
    return out
