"""The arrows of ``shared/ARCHITECTURE.md`` as a test: no module imports from a layer above its own.

``cli``, ``serve`` → ``rag`` (the pipeline, strategies and the KnowledgeBase facade), ``tune``, ``evaluate``,
``advise`` → ``search`` → ``kb`` → ``embed``; ``llm`` and ``embed`` are leaves that know nothing of the store, and
``errors``, ``config``, ``text``, ``jsonl`` and ``hardware`` are the foundation everyone may use. Among the four
peers, ``evaluate`` drives the others (it runs strategies, trains learning-curve models and asks for advice),
``tune`` may use the pipeline to synthesize data, ``rag`` uses none of them (``ft:`` reaches it through the
generator registry's entry point), and ``advise`` only reads measured results.

Every import counts: top-level, inside functions (lazy imports) and under ``TYPE_CHECKING``. The modules are
read with :mod:`ast`, never imported, so this runs in a fraction of a second (``make lint`` runs it too).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "ragtune"

FOUNDATION = frozenset({"errors", "config", "text", "jsonl", "hardware"})
PEERS_BELOW_RAG = frozenset({"embed", "llm", "kb", "search"})

# layer → the layers it may import (besides itself).
ALLOWED: dict[str, frozenset[str]] = {
    "errors": frozenset(),
    "text": frozenset({"errors"}),
    "jsonl": frozenset({"errors"}),
    "hardware": frozenset({"errors"}),
    "config": frozenset({"errors"}),
    "embed": FOUNDATION,
    "llm": FOUNDATION,
    "kb": FOUNDATION | {"embed"},
    "search": FOUNDATION | {"embed", "kb"},
    "rag": FOUNDATION | PEERS_BELOW_RAG,
    "advise": FOUNDATION,
    "tune": FOUNDATION | PEERS_BELOW_RAG | {"rag"},
    "evaluate": FOUNDATION | PEERS_BELOW_RAG | {"rag", "tune", "advise"},
    "serve": FOUNDATION | PEERS_BELOW_RAG | {"rag", "tune", "evaluate", "advise"},
    "cli": FOUNDATION | PEERS_BELOW_RAG | {"rag", "tune", "evaluate", "advise", "serve"},
    # ragtune/__init__.py: the public API re-exports; everything but the command line.
    "api": FOUNDATION | PEERS_BELOW_RAG | {"rag", "tune", "evaluate", "advise", "serve"},
}

# Inside a layer, its rooms: room → the rooms it may import (the package's __init__ may import any of them).
# Metrics know nothing of how a comparison runs or is reported; training data knows nothing of training.
ROOMS: dict[str, dict[str, frozenset[str]]] = {
    "evaluate": {
        "metrics": frozenset(),
        "evalset": frozenset({"metrics"}),
        "run": frozenset({"metrics", "evalset"}),
        "report": frozenset({"metrics", "evalset"}),
    },
    "tune": {
        "registry": frozenset(),
        "data": frozenset(),
        "training": frozenset({"data", "registry"}),
        "staleness": frozenset({"data", "registry"}),
        "generator": frozenset({"registry", "staleness"}),
        "retriever": frozenset({"data", "registry", "training"}),
    },
}

# Top-level modules that belong to a layer named otherwise: the facade over the pipeline.
LAYER_OF_MODULE = {"knowledge_base": "rag"}


def layer_of(module: str) -> str:
    """``ragtune.search.index`` → ``search``; ``ragtune.rag.strategies`` → ``rag``; ``ragtune`` → ``api``."""
    parts = module.split(".")
    if parts == ["ragtune"]:
        return "api"
    return LAYER_OF_MODULE.get(parts[1], parts[1])


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    target: str  # dotted module name imported (for ``from X import a``: X, or X.a when that is a module)
    line: int
    path: Path


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve_relative(path: Path, me: str, module: str | None, level: int) -> str:
    package = me.split(".")
    if path.name != "__init__.py":
        package.pop()
    base = package[: len(package) - level + 1]
    return ".".join(base + ([module] if module else []))


def imports_of(path: Path, me: str | None = None) -> list[Import]:
    """Every ragtune import in ``path`` (module ``me``; default: from its place under src/), at any depth of the
    syntax tree, with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    me = me or module_name(path)
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(me, a.name, node.lineno, path) for a in node.names if a.name.split(".")[0] == "ragtune"]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_relative(path, me, node.module, node.level) if node.level else (node.module or "")
            if base.split(".")[0] != "ragtune":
                continue
            if base == "ragtune":
                # `from ragtune import x`: x is a subpackage/module, or a name of the public API.
                for alias in node.names:
                    sub = PACKAGE / alias.name
                    is_module = sub.is_dir() or sub.with_suffix(".py").is_file()
                    found.append(Import(me, f"ragtune.{alias.name}" if is_module else "ragtune", node.lineno, path))
            else:
                found.append(Import(me, base, node.lineno, path))
    return found


def all_imports() -> list[Import]:
    return [imp for path in sorted(PACKAGE.rglob("*.py")) for imp in imports_of(path)]


def _version_only(imp: Import) -> bool:
    """``from ragtune import __version__``: the version string, allowed anywhere."""
    tree = ast.parse(imp.path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.lineno == imp.line and node.module == "ragtune":
            return [a.name for a in node.names] == ["__version__"]
    return False


def room_of(module: str) -> str | None:
    """``ragtune.evaluate.run.compare`` → ``run``; None for the layer's package itself."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 else None


def _where(imp: Import) -> str:
    shown = imp.path.relative_to(SRC.parent) if imp.path.is_relative_to(SRC.parent) else imp.path
    return f"{shown}:{imp.line}"


def violations(imports: list[Import]) -> list[str]:
    out = []
    for imp in imports:
        src, dst = layer_of(imp.importer), layer_of(imp.target)
        if src == dst:
            rooms = ROOMS.get(src)
            mine, theirs = room_of(imp.importer), room_of(imp.target)
            if rooms is None or mine is None or theirs is None or mine == theirs:
                continue
            if mine not in rooms or theirs not in rooms:
                out.append(f"{imp.importer}: place {src}.{mine if mine not in rooms else theirs} in ROOMS")
            elif theirs not in rooms[mine]:
                arrow = f"{src}.{mine} → {src}.{theirs}"
                out.append(f"{imp.importer} imports {imp.target} ({arrow} is not allowed) at {_where(imp)}")
            continue
        if dst == "api" and _version_only(imp):
            continue
        if src not in ALLOWED:
            out.append(f"{imp.importer}: layer {src!r} is not in the architecture table (tests/test_architecture.py)")
            continue
        if dst not in ALLOWED[src]:
            where = (
                f"{imp.path.relative_to(SRC.parent) if imp.path.is_relative_to(SRC.parent) else imp.path}:{imp.line}"
            )
            out.append(f"{imp.importer} imports {imp.target} ({src} → {dst} is not allowed) at {where}")
    return sorted(set(out))


def test_every_layer_is_in_the_table() -> None:
    layers = {layer_of(module_name(p)) for p in PACKAGE.rglob("*.py")}
    assert layers <= set(ALLOWED), f"place these in ALLOWED: {sorted(layers - set(ALLOWED))}"


def test_no_import_points_upward() -> None:
    found = violations(all_imports())
    assert not found, "imports against the architecture's arrows:\n  " + "\n  ".join(found)


def test_the_table_has_no_cycles() -> None:
    """The layers form a DAG, so "above" means something."""
    state: dict[str, int] = {}

    def visit(layer: str, path: tuple[str, ...]) -> None:
        if state.get(layer) == 2:
            return
        assert state.get(layer) != 1, f"cycle in ALLOWED: {' → '.join((*path, layer))}"
        state[layer] = 1
        for dep in ALLOWED[layer]:
            visit(dep, (*path, layer))
        state[layer] = 2

    for layer in ALLOWED:
        visit(layer, ())


def test_the_check_catches_an_upward_import(tmp_path: Path) -> None:
    """The checker itself: a lazy import of the pipeline inside an llm function is reported, naming both ends."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from ragtune.errors import ModelError\n"
        "from . import base\n"
        "def f():\n"
        "    if True:\n"
        "        from ragtune.rag.strategies import load_strategies\n"
    )
    found = violations(imports_of(probe, "ragtune.llm.probe"))
    assert len(found) == 1
    assert found[0].startswith("ragtune.llm.probe imports ragtune.rag.strategies (llm → rag is not allowed)")
    assert found[0].endswith(":5")


def test_rooms_inside_a_layer_are_checked_too(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("from ragtune.evaluate.run.scoring import score_answers\n")
    found = violations(imports_of(probe, "ragtune.evaluate.metrics.probe"))
    assert found and "(evaluate.metrics → evaluate.run is not allowed)" in found[0]
