"""Layers never import upward (issues 19, 29): tools < agent < eval < app < benchmarks, prompts a leaf.

The same rules as the import-linter contract in pyproject.toml (``lint-imports`` in CI), checked
here by walking every module's ``ast`` (imports inside functions included), so the unit tier
catches an upward import without import-linter. There are no named exceptions: what two layers
share lives in the lower one.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import sinoloc

ROOT = Path(sinoloc.__file__).resolve().parent  # the repository root is the `sinoloc` package
RANK = {"tools": 0, "agent": 1, "eval": 2, "app": 3, "benchmarks": 4}  # each may import only lower ranks
LEAF = "prompts"  # anyone may import it; it imports no other layer

class Import:
    def __init__(self, importer: str, imported: str, path: Path, line: int, lazy: bool,
                 type_only: bool = False):
        self.importer, self.imported, self.path, self.line, self.lazy = importer, imported, path, line, lazy
        self.type_only = type_only  # inside ``if TYPE_CHECKING:``: never runs

    def __str__(self) -> str:
        return f"{self.path.name}:{self.line}: {self.importer} -> {self.imported}"


def _module(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["sinoloc", *parts])


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path, root: Path = ROOT) -> list[Import]:
    """Every ``sinoloc.*`` import of one module, wherever it stands; lazy when inside a function
    or an ``if TYPE_CHECKING:`` block."""
    importer = _module(path, root)
    package = importer.split(".") if path.name == "__init__.py" else importer.split(".")[:-1]
    found: list[Import] = []

    def visit(node: ast.AST, lazy: bool, type_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            typing_block = isinstance(child, ast.If) and _is_type_checking(child)
            inner = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) or typing_block
            only_typing = type_only or typing_block
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = package[:len(package) - child.level + 1] if child.level else []
                module = ".".join([*base, *([child.module] if child.module else [])])
                # `from sinoloc.eval import metrics` imports the submodule when there is one
                folder = root.joinpath(*module.split(".")[1:])
                names = [f"{module}.{a.name}" if (folder / f"{a.name}.py").exists()
                         or (folder / a.name).is_dir() else module for a in child.names]
            found.extend(Import(importer, n, path, child.lineno, inner, only_typing)
                         for n in dict.fromkeys(names) if n.startswith("sinoloc."))
            visit(child, inner, only_typing)

    visit(ast.parse(path.read_text(encoding="utf-8")), False, False)
    return found


def _all_imports() -> list[Import]:
    return [i for top in (*RANK, LEAF) for p in sorted((ROOT / top).rglob("*.py"))
            for i in _imports(p)]


def _layer(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def _upward(item: Import) -> bool:
    source, target = _layer(item.importer), _layer(item.imported)
    if target in (LEAF, source):
        return False
    if source == LEAF:
        return target in RANK
    return target in RANK and RANK[target] > RANK[source]


def test_no_import_runs_up_a_layer():
    upward = [str(i) for i in _all_imports() if _upward(i)]
    assert not upward, "imports that run up a layer (move the shared code down instead):\n" \
        + "\n".join(upward)


def test_import_linter_is_given_the_same_layers_and_no_exceptions():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    [layers] = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    assert layers["layers"] == [f"sinoloc.{name}" for name in sorted(RANK, key=RANK.get, reverse=True)]
    assert not layers.get("ignore_imports")


def test_the_walk_sees_function_level_and_relative_imports(tmp_path):
    """The checker itself: an upward import hidden in a function, a relative one and a
    ``from package import module`` are all found, and classified."""
    fake = tmp_path / "tools" / "thing.py"
    fake.parent.mkdir()
    fake.write_text("from sinoloc.tools import crs\n"
                    "def f():\n    from sinoloc.eval import metrics\n"
                    "from ..agent.graph import build_graph\n", encoding="utf-8")
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "metrics.py").write_text("", encoding="utf-8")
    found = {(i.imported, i.lazy, _upward(i)) for i in _imports(fake, tmp_path)}
    assert found == {("sinoloc.tools", False, False), ("sinoloc.eval.metrics", True, True),
                     ("sinoloc.agent.graph", False, True)}


def import_cycles(imports: list[Import]) -> list[list[str]]:
    """The import cycles among modules (Tarjan's strongly connected components of more than one
    module), counting every import that runs, at module level or inside a function; an import
    only for type checkers never runs and does not count."""
    edges: dict[str, set[str]] = {}
    for item in imports:
        if not item.type_only and item.importer != item.imported:
            edges.setdefault(item.importer, set()).add(item.imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = [stack.pop()]
            while component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return cycles


def test_no_import_cycles():
    cycles = import_cycles(_all_imports())
    assert not cycles, "modules that import each other (directly or round a loop; move what " \
        "they share into one of them or below both):\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_loops_and_skips_type_only_imports(tmp_path):
    def imp(a: str, b: str, type_only: bool = False) -> Import:
        return Import(f"sinoloc.{a}", f"sinoloc.{b}", tmp_path, 1, lazy=False, type_only=type_only)

    loop = [imp("a", "b"), imp("b", "c"), imp("c", "a"), imp("c", "d")]
    assert import_cycles(loop) == [["sinoloc.a", "sinoloc.b", "sinoloc.c"]]
    assert import_cycles([imp("a", "b"), imp("b", "a", type_only=True)]) == []
