"""Check that every benchmark script still imports what it names from nncli and from its
sibling scripts, without running a script or needing the `bench` extra's packages.

Each `benchmarks/*.py` is parsed (not imported). For every `from nncli.X import a, b` and
`import nncli.X`, at module level or inside a function, the module must import and hold each
name (a function, class, constant or submodule). For an import of a sibling script (`from
_util import log`, `import tabular_accuracy as bench`), the sibling must define each name at
its top level, and so must it for every `bench.name` the script reads. A script with a
`main` must call it under `if __name__ == "__main__":`, and none may do work at import.

    python benchmarks/check_imports.py        # from the repository root; exit 1 on a problem

Each problem is one line naming the script, its line and the missing module or name: a
rename in nncli otherwise breaks a measurement only when someone next runs it.
"""

from __future__ import annotations

import ast
import importlib
import sys
from dataclasses import dataclass
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
REPO = BENCHMARKS.parent
PACKAGE = "nncli"


@dataclass(frozen=True)
class Import:
    """One name a script takes from a module (`name` None: the module itself)."""

    script: str
    line: int
    module: str
    name: str | None


def scripts(folder: Path = BENCHMARKS) -> list[Path]:
    """Every benchmark script and helper, this checker aside."""
    return sorted(p for p in folder.glob("*.py") if p.name != Path(__file__).name)


def top_level_names(tree: ast.Module) -> set[str]:
    """What a script defines or imports at its top level (also under if/try/with there)."""
    names: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
            elif isinstance(node, ast.Import | ast.ImportFrom):
                for alias in node.names:
                    names.add(alias.asname or alias.name.split(".")[0])
            elif isinstance(node, ast.If | ast.Try | ast.With):
                for part in ("body", "orelse", "finalbody"):
                    visit(getattr(node, part, []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)

    visit(tree.body)
    return names


def has_main_guard(tree: ast.Module) -> bool:
    """Whether the script has `if __name__ == "__main__":` at its top level."""
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare):
            left, comparators = node.test.left, node.test.comparators
            if (
                isinstance(left, ast.Name)
                and left.id == "__name__"
                and len(comparators) == 1
                and isinstance(comparators[0], ast.Constant)
                and comparators[0].value == "__main__"
            ):
                return True
    return False


def runs_at_import(tree: ast.Module) -> list[int]:
    """Lines of top-level calls other than the harmless ones (sys.path, os.environ,
    warnings filters): a script whose work starts on import."""
    harmless = ("sys.path", "os.environ", "warnings.", "matplotlib.use")
    return [
        node.lineno
        for node in tree.body
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and not ast.unparse(node.value.func).startswith(harmless)
    ]


def imports_of(path: Path, tree: ast.Module, siblings: set[str]) -> list[Import]:
    """Every import of nncli or of a sibling script in `tree`, at any depth, and every
    `alias.name` read through a sibling imported as a module."""
    found: list[Import] = []
    module_aliases: dict[str, str] = {}  # local name -> sibling script imported whole
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            top = node.module.split(".")[0]
            if top == PACKAGE or node.module in siblings:
                for alias in node.names:
                    found.append(Import(path.name, node.lineno, node.module, alias.name))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top == PACKAGE:
                    found.append(Import(path.name, node.lineno, alias.name, None))
                elif alias.name in siblings:
                    found.append(Import(path.name, node.lineno, alias.name, None))
                    module_aliases[alias.asname or alias.name] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in module_aliases
        ):
            found.append(Import(path.name, node.lineno, module_aliases[node.value.id], node.attr))
    return found


def package_problem(item: Import) -> str | None:
    """Why `item` (an nncli import) fails, or None."""
    try:
        module = importlib.import_module(item.module)
    except ImportError as exc:
        return f"cannot import module {item.module} ({exc})"
    if item.name is None or item.name == "*" or hasattr(module, item.name):
        return None
    try:  # a submodule not yet imported by its package
        importlib.import_module(f"{item.module}.{item.name}")
    except ModuleNotFoundError:
        return f"{item.module} has no name {item.name!r}"
    return None


def check(folder: Path = BENCHMARKS) -> tuple[list[str], int]:
    """One line per problem in the benchmark scripts of `folder` (empty when all is well),
    and how many imported names were checked."""
    found: list[str] = []
    checked = 0
    trees = {}
    for path in scripts(folder):
        try:
            trees[path.stem] = (path, ast.parse(path.read_text(encoding="utf-8"), str(path)))
        except SyntaxError as exc:
            found.append(f"{path.name}:{exc.lineno}: does not parse: {exc.msg}")
    defined = {stem: top_level_names(tree) for stem, (_, tree) in trees.items()}
    for _stem, (path, tree) in sorted(trees.items()):
        if "main" in defined[path.stem] and not has_main_guard(tree):
            found.append(f'{path.name}: no `if __name__ == "__main__":` guard around its main')
        for line in runs_at_import(tree):
            found.append(f"{path.name}:{line}: a top-level call runs when the script is imported")
        for item in imports_of(path, tree, set(trees)):
            checked += 1
            if item.module.split(".")[0] == PACKAGE:
                problem = package_problem(item)
            elif item.name is not None and item.name not in defined[item.module]:
                problem = f"{item.module}.py defines no {item.name!r}"
            else:
                problem = None
            if problem is not None:
                found.append(f"{item.script}:{item.line}: {problem}")
    return found, checked


def main() -> int:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    found, names = check()
    for line in found:
        print(f"benchmarks/{line}", file=sys.stderr)
    count = len(scripts())
    if found:
        print(f"{len(found)} problem(s) in {count} benchmark scripts", file=sys.stderr)
        return 1
    print(f"benchmarks: {names} imports in {count} scripts resolve (nncli and each other)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
