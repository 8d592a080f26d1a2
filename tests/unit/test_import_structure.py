"""nncli's modules import each other one way: no circle, lazy imports inside functions included."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "nncli"


def module_name(path: Path) -> str:
    """'nncli/data/loading.py' -> 'nncli.data.loading'; a package's __init__ is the package."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
PACKAGES = {name for name, path in MODULES.items() if path.name == "__init__.py"}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(node: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement under `node` that runs, however deep, bar `if TYPE_CHECKING:`."""
    found: list[ast.Import | ast.ImportFrom] = []
    for child in ast.iter_child_nodes(node):
        # Only the type checker runs an `if TYPE_CHECKING:` body; its `else:` runs.
        runs = child.orelse if isinstance(child, ast.If) and _is_type_checking(child) else [child]
        for statement in runs:
            if isinstance(statement, ast.Import | ast.ImportFrom):
                found.append(statement)
            else:
                found += _runtime_imports(statement)
    return found


def _module_of(name: str) -> str | None:
    """The nncli module `name` (a module, or a name inside one) lives in, if any."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imported_modules(tree: ast.AST, here: str, is_package: bool) -> dict[str, int]:
    """The nncli modules `here` imports, each with the line of its first import. Packages
    are not counted as targets (an __init__ only re-exports), as in the structure figures."""
    edges: dict[str, int] = {}
    for node in _runtime_imports(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                package = here.split(".") if is_package else here.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        for name in names:
            target = _module_of(name)
            if target is not None and target != here and target not in PACKAGES:
                edges.setdefault(target, node.lineno)
    return edges


def import_graph() -> dict[str, dict[str, int]]:
    """Module -> {imported module: line}, for every module of nncli."""
    return {
        name: imported_modules(ast.parse(path.read_text()), name, path.name == "__init__.py")
        for name, path in MODULES.items()
    }


def find_cycle(graph: dict[str, dict[str, int]]) -> list[str]:
    """The modules of one import cycle, the first repeated at the end; empty when there is none."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for target in sorted(graph[module]):
            cycle = visit(target, [*path, module])
            if cycle is not None:
                return cycle
        done.add(module)
        return None

    for module in sorted(graph):
        cycle = visit(module, [])
        if cycle is not None:
            return cycle
    return []


def describe(cycle: list[str], graph: dict[str, dict[str, int]]) -> str:
    """The cycle, then where each module imports the next."""
    steps = [
        f"  {MODULES[a].relative_to(PACKAGE.parent)}:{graph[a][b]} imports {b}"
        for a, b in itertools.pairwise(cycle)
    ]
    return "\n".join(["import cycle " + " -> ".join(cycle), *steps])


def test_the_graph_counts_imports_inside_functions_and_skips_type_checking_ones() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from nncli.tasks import Task\n"
        "else:\n"
        "    import nncli.errors\n"
        "def spell():\n"
        "    from nncli.data.preprocessing import fit_preprocessor\n"
        "    from . import loading\n"
        "    from nncli import data\n"
    )
    found = imported_modules(ast.parse(source), "nncli.data.schema", is_package=False)
    assert found == {"nncli.errors": 5, "nncli.data.preprocessing": 7, "nncli.data.loading": 8}


def test_a_cycle_is_named_module_by_module() -> None:
    assert find_cycle({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": 1}, "b": {}}) == []


def test_no_nncli_module_imports_itself_through_others() -> None:
    # Move what both sides need into a module below them; a lazy import inside a function
    # still counts, an `if TYPE_CHECKING:` one does not.
    graph = import_graph()
    cycle = find_cycle(graph)
    assert not cycle, describe(cycle, graph)
