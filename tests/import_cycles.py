"""Import cycles among fieldscope's modules, found statically (ast, nothing imported).

Module-level imports (run when the module loads) and function-level ones (lazy, inside a def) are
kept apart: a cycle of module-level imports breaks depending on which module loads first; a lazy
import only runs after both modules have loaded. Imports under `if TYPE_CHECKING:` never run (they
are for the type checker) and are not counted. Run `python3 tests/import_cycles.py [ROOT]` for a
listing; the tests call `cycles()`.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

#: The repo's folders and the package names they install as.
PACKAGES = {"app": "fieldscope.app", "fields": "fieldscope.fields", "gpu": "fieldscope.gpu"}
ROOT = Path(__file__).resolve().parent.parent


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the installed package -> its file under root."""
    out = {}
    for folder, package in PACKAGES.items():
        for path in sorted((root / folder).rglob("*.py")):
            parts = path.relative_to(root / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join((package, *parts))] = path
    return out


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: set[str]) -> Iterator[str]:
    """The fieldscope modules that an import statement in `module` loads."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            anchor = module.split(".") if is_package else module.split(".")[:-1]
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        # `from package import name` loads package.name when that is a module, else the package
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
    for name in names:
        while name and name not in known:  # `import a.b.c` of a non-module name: its nearest module
            name = name.rpartition(".")[0]
        if name:
            yield name


def _type_checking_only(node: ast.AST) -> bool:
    """`if TYPE_CHECKING:` or `if typing.TYPE_CHECKING:` (its body runs only under a type checker)."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(root: Path = ROOT) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module-level, function-level) import graphs: module -> the fieldscope modules it imports."""
    files = module_files(root)
    known = set(files)
    top: dict[str, set[str]] = {m: set() for m in files}
    lazy: dict[str, set[str]] = {m: set() for m in files}

    def visit(node: ast.AST, module: str, is_package: bool, inside_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if _type_checking_only(child):
                for rest in child.orelse:  # an `else:` branch does run
                    visit(ast.Module(body=[rest], type_ignores=[]), module, is_package, inside_function)
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                graph = lazy if inside_function else top
                graph[module].update(m for m in _imported(child, module, is_package, known) if m != module)
            nested = inside_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            visit(child, module, is_package, nested)

    for module, path in files.items():
        visit(ast.parse(path.read_text(), str(path)), module, _is_package(path), False)
    return top, lazy


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module (or a self-import)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return sorted(found)


def cycles(root: Path = ROOT) -> dict[str, list[list[str]]]:
    """Groups of modules that import each other: 'module' through module-level imports only,
    'any' when function-level imports count too."""
    top, lazy = imports(root)
    both = {m: top[m] | lazy[m] for m in top}
    return {"module": _strongly_connected(top), "any": _strongly_connected(both)}


def main() -> None:
    root = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT
    for kind, groups in cycles(root).items():
        print(f"{kind}-level import cycles: {len(groups)}")
        for group in groups:
            print("  " + " <-> ".join(name.removeprefix("fieldscope.") for name in group))


if __name__ == "__main__":
    main()
