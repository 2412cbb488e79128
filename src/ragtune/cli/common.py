"""Options and helpers shared by the commands."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ragtune.config import load_settings
from ragtune.errors import ConfigError
from ragtune.kb.acl import ALL, Access, normalize_acl
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


def as_groups_option(fn: F) -> F:
    return click.option(
        "--as-groups",
        "as_groups",
        default=None,
        metavar="G1,G2",
        help="Read as a caller holding only these groups (see what a team sees: documents whose acl names "
        "none of them are hidden). Default: everything.",
    )(fn)


def access_for(as_groups: str | None) -> Access:
    """``--as-groups``: a restricted reader with those groups (``""``: no groups at all); None: everything."""
    if as_groups is None:
        return ALL
    try:
        groups = normalize_acl(as_groups, where="--as-groups") if as_groups.strip() != "*" else ("*",)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return Access("cli", groups)


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
