"""Options and helpers shared by the commands."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ragtune.config import load_settings
from ragtune.knowledge_base import KnowledgeBase

F = TypeVar("F", bound=Callable[..., Any])


def kb_option(fn: F) -> F:
    return click.option(
        "--kb",
        "kb_path",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="Knowledge-base directory (default: the nearest .ragtune/ from the current directory up).",
    )(fn)


def json_option(fn: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(fn)


def open_kb(kb_path: Path | None, create: bool = False) -> KnowledgeBase:
    return KnowledgeBase.open(kb_path, create=create, settings=load_settings())


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def show_progress() -> bool:
    return sys.stderr.isatty()


def parse_filters(values: tuple[str, ...]) -> dict[str, Any] | None:
    """``--filter key=value`` (repeatable; a value may be a glob, commas give alternatives)."""
    if not values:
        return None
    out: dict[str, Any] = {}
    for item in values:
        if "=" not in item:
            raise click.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint="--filter")
        key, value = item.split("=", 1)
        out[key.strip()] = value.split(",") if "," in value else value
    return out
