"""The package's import graph has no cycle, counting every ``import`` statement that can run:
module level and inside functions and methods. A function-level import hides a cycle from Python
(it runs late) but not from a reader, and it is how one crept in once (``_vendor`` <-> ``models``,
through the pydantic-error helpers now in ``_validation``). Imports under ``if TYPE_CHECKING:``
never run -- they are how a module names a type without depending on its module -- and are left
out (their ``else:`` branch counts).

The graph is read with :mod:`ast` from the source files; nothing is imported. Relative imports are
resolved against the importing module; ``from package import name`` counts as an import of
``package.name`` when that is a module of ours, else of ``package``. Only edges between modules of
the package count (a cycle needs them)."""

from __future__ import annotations

import ast
from pathlib import Path

import kyc_webhooks

PACKAGE = "kyc_webhooks"
ROOT = Path(kyc_webhooks.__file__).parent


def _module_names(root: Path) -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _resolve(module: str, path: Path, level: int, target: str | None) -> str:
    """The absolute name of ``from <level dots><target> import ...`` inside ``module``."""
    if level == 0:
        return target or ""
    base = module.split(".")
    if not _is_package(path):
        base = base[:-1]  # a plain module's imports are relative to its package
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of ``tree`` except those inside an ``if TYPE_CHECKING:`` body."""
    nodes: list[ast.AST] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        nodes.append(node)
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)
            continue
        pending.extend(ast.iter_child_nodes(node))
    return nodes


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the package modules it imports (every import statement that can run)."""
    modules = _module_names(root)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _runtime_nodes(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, path, node.level, node.module)
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    targets.append(submodule if submodule in modules else base)
            for target in targets:
                # ``import a.b.c`` runs a.b.c; the nearest module of ours that it names.
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one module (Tarjan's
    algorithm, iterative: bounded by the number of edges)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, list[str]]] = [(start, sorted(graph[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, pending = work[-1]
            if pending:
                child = pending.pop()
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, sorted(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return sorted(components)


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph()
    assert f"{PACKAGE}._validation" in graph
    assert find_cycles(graph) == []


def test_validation_sits_at_the_bottom_of_the_graph() -> None:
    graph = import_graph()
    assert graph[f"{PACKAGE}._validation"] == {f"{PACKAGE}.errors"}
    assert graph[f"{PACKAGE}.errors"] == set()


def test_the_walker_sees_function_level_and_relative_imports(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from . import a\n")
    (package / "a.py").write_text("def f():\n    from .sub import b\n    return b\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "b.py").write_text("import pkg.a\nfrom .. import c\n")
    (package / "c.py").write_text(
        "import typing\n"
        "if typing.TYPE_CHECKING:\n    from . import a\n"
        "else:\n    from .sub import b\n"
    )
    graph = import_graph(package)
    assert graph == {
        "pkg": {"pkg.a"},
        "pkg.a": {"pkg.sub.b"},
        "pkg.sub": set(),
        "pkg.sub.b": {"pkg.a", "pkg.c"},
        "pkg.c": {"pkg.sub.b"},
    }
    assert find_cycles(graph) == [["pkg.a", "pkg.c", "pkg.sub.b"]]
    (package / "a.py").write_text("")
    assert find_cycles(import_graph(package)) == [["pkg.c", "pkg.sub.b"]]
