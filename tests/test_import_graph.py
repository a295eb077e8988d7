"""The package's import graph has no cycle, counting every import that can run: ``import``
statements at module level and inside functions and methods, and the imports the package makes by
name at run time. A function-level import hides a cycle from Python (it runs late) but not from a
reader, and it is how one crept in once (``_vendor`` <-> ``models``, through the pydantic-error
helpers now in ``_validation``). Imports under ``if TYPE_CHECKING:`` never run -- they are how a
module names a type without depending on its module -- and are left out (their ``else:`` branch
counts).

The graph is read with :mod:`ast` from the source files; nothing is imported. Relative imports are
resolved against the importing module; ``from package import name`` counts as an import of
``package.name`` when that is a module of ours, else of ``package``. Only edges between modules of
the package count (a cycle needs them).

Imports by name count too, where the source says which module they load:

* the first argument of ``importlib.import_module(...)`` / ``import_module(...)``: a string literal
  (a relative one resolved as importlib does, against the second argument when that is
  ``__package__``, ``__name__`` or a literal), or an f-string -- its literal parts fixed, each
  ``{...}`` one dotted-name segment (``{__name__}``/``{__package__}``: the module's own name or
  package) -- which counts as an import of every module of ours it can name
  (``f"kyc_webhooks.{vendor}._decisions"``: each vendor's ``_decisions``);
* a string literal ``"kyc_webhooks.module:attribute"``, the convention of the registries and
  loaders (``_loading.import_from_string``, the vendor registry, ``Vendor.signer``);
* a class attribute ``models_module = "kyc_webhooks.<vendor>.models"`` (``Vendor.models()`` imports
  it) or ``__decision_rules__ = "kyc_webhooks.<vendor>._decisions"`` (``WebhookEvent.decision``
  imports it).

Docstrings, logger names and ``__module__`` assignments are plain text, not imports."""

from __future__ import annotations

import ast
import re
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


#: One dotted-name segment: what a ``{...}`` of an f-string stands for.
_SEGMENT = r"[A-Za-z_][A-Za-z0-9_]*"


def _package_of(module: str, path: Path) -> str:
    """``__package__`` inside ``module``: itself for a package, else its parent."""
    return module if _is_package(path) else module.rpartition(".")[0]


def _is_import_module(call: ast.Call) -> bool:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id == "import_module"
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "import_module"
        and isinstance(func.value, ast.Name)
        and func.value.id == "importlib"
    )


def _dynamic_targets(
    call: ast.Call, module: str, path: Path, modules: dict[str, Path]
) -> list[str]:
    """The modules of ours that ``import_module(...)`` (``call``) can import, as far as its
    arguments say: a literal name, or every module an f-string can name (see the docstring)."""
    if not call.args:
        return []
    own = {"__name__": module, "__package__": _package_of(module, path)}
    anchor = call.args[1] if len(call.args) > 1 else None
    for keyword in call.keywords:
        if keyword.arg == "package":
            anchor = keyword.value
    package: str | None = None
    if isinstance(anchor, ast.Name) and anchor.id in own:
        package = own[anchor.id]
    elif isinstance(anchor, ast.Constant) and isinstance(anchor.value, str):
        package = anchor.value
    # The name as a pattern: literal text escaped, each ``{...}`` one segment.
    name = call.args[0]
    parts: list[tuple[str, str]] = []  # (literal text, pattern)
    if isinstance(name, ast.Constant) and isinstance(name.value, str):
        parts = [(name.value, re.escape(name.value))]
    elif isinstance(name, ast.JoinedStr):
        for value in name.values:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                parts.append((value.value, re.escape(value.value)))
            elif isinstance(value, ast.FormattedValue):
                if isinstance(value.value, ast.Name) and value.value.id in own:
                    text = own[value.value.id]
                    parts.append((text, re.escape(text)))
                else:
                    parts.append(("", _SEGMENT))
    else:
        return []
    pattern = "".join(regex for _, regex in parts)
    level = len(parts[0][0]) - len(parts[0][0].lstrip(".")) if parts else 0
    if level:  # relative: importlib's own resolution, against the package argument
        if package is None:
            return []
        base = package.rsplit(".", level - 1)[0]
        rest = pattern[2 * level :]  # after the escaped dots
        pattern = re.escape(base) + (r"\." + rest if rest else "")
    return sorted(m for m in modules if re.fullmatch(pattern, m))


def _docstrings(tree: ast.AST) -> set[int]:
    """The ``id`` of every docstring node of ``tree`` (module, class and function docstrings)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body
        ):
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


#: Class attributes that name a module the base class imports for its subclasses:
#: ``Vendor.models()`` imports ``models_module``, ``WebhookEvent.decision`` imports
#: ``__decision_rules__``.
_MODULE_ATTRIBUTES = frozenset({"models_module", "__decision_rules__"})


def _models_module(statement: ast.stmt) -> str | None:
    """The value of a class body's ``models_module = "..."`` or ``__decision_rules__ = "..."``
    (annotated or not)."""
    if isinstance(statement, ast.Assign):
        targets, value = statement.targets, statement.value
    elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
        targets, value = [statement.target], statement.value
    else:
        return None
    named = any(isinstance(t, ast.Name) and t.id in _MODULE_ATTRIBUTES for t in targets)
    if named and isinstance(value, ast.Constant) and isinstance(value.value, str):
        return value.value
    return None


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the package modules it imports (every import that can run, by statement or by
    name: see the module docstring)."""
    modules = _module_names(root)
    # ``"package.module:attribute"`` (attribute possibly dotted); group 1 is the module.
    loader_spec = re.compile(
        rf"({re.escape(root.name)}(?:\.{_SEGMENT})*):{_SEGMENT}(?:\.{_SEGMENT})*"
    )
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        docstrings = _docstrings(tree)
        for node in _runtime_nodes(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, path, node.level, node.module)
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    targets.append(submodule if submodule in modules else base)
            elif isinstance(node, ast.Call) and _is_import_module(node):
                targets = _dynamic_targets(node, name, path, modules)
            elif isinstance(node, ast.ClassDef):
                targets = [t for t in map(_models_module, node.body) if t is not None]
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
            ):
                spec = loader_spec.fullmatch(node.value)
                targets = [spec.group(1)] if spec else []
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


def test_the_package_imports_by_name_are_in_the_graph() -> None:
    """The registry, ``Vendor.models()``, the ledger's rule look-up and the lazy subpackages: the
    imports by name that once hid cycles (_vendor -> <vendor>._auth -> _vendor, <vendor>._auth ->
    <vendor>.models -> <vendor>._auth, models -> decisions -> <vendor>._decisions -> models)."""
    graph = import_graph()
    for vendor in ("idenfy", "complycube", "yoti", "identomat"):
        assert f"{PACKAGE}.{vendor}._auth" in graph[f"{PACKAGE}._registry"]
        assert f"{PACKAGE}.{vendor}.models" in graph[f"{PACKAGE}.{vendor}._auth"]
        assert f"{PACKAGE}.{vendor}._decisions" in graph[f"{PACKAGE}.decisions"]
        events = f"{PACKAGE}.{vendor}._base" if vendor == "idenfy" else f"{PACKAGE}.{vendor}.models"
        assert f"{PACKAGE}.{vendor}._decisions" in graph[events]  # __decision_rules__
        assert f"{PACKAGE}.{vendor}" in graph[PACKAGE]
    assert f"{PACKAGE}.testing._signing" in graph[f"{PACKAGE}._vendor"]  # Vendor.signer


def test_what_both_sides_of_a_former_cycle_share_is_a_leaf() -> None:
    graph = import_graph()
    assert graph[f"{PACKAGE}._decision"] == set()  # Decision & co.: decisions and the vendor rules
    assert graph[f"{PACKAGE}.complycube._event_types"] == set()  # models and _decisions
    for vendor in ("idenfy", "complycube", "yoti", "identomat"):
        assert graph[f"{PACKAGE}.{vendor}._wire"] == set()  # _auth and models
        assert f"{PACKAGE}.{vendor}.models" not in graph[f"{PACKAGE}.{vendor}._decisions"]
    assert graph[f"{PACKAGE}.models"] <= {f"{PACKAGE}._validation", f"{PACKAGE}.errors"}


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


def test_the_walker_sees_imports_by_name(tmp_path: Path) -> None:
    """Each kind of import by name is an edge -- ``import_module`` with a literal (absolute, or
    relative to ``__package__``, ``__name__`` or a literal package) or an f-string (every module it
    can name), a ``"package.module:attribute"`` string, a class's ``models_module`` or
    ``__decision_rules__`` -- and text that only looks like a module name is not."""
    package = tmp_path / "pkg"
    for sub in ("x", "y", "x/deep", "cmd"):
        (package / sub).mkdir(parents=True, exist_ok=True)
        (package / sub / "__init__.py").write_text("")
    for leaf in ("x/rules", "y/rules", "x/other", "x/deep/rules", "x/models", "cmd/run"):
        (package / f"{leaf}.py").write_text("")
    for leaf in ("literal", "relative", "named", "anchored", "loose", "fstring", "spec"):
        (package / f"{leaf}.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text(
        '"""Docstring naming pkg.literal:thing, never an import."""\n'
        "import importlib\n"
        "import logging\n"
        "from importlib import import_module\n"
        'logger = logging.getLogger("pkg.literal")\n'
        "def f(name, anchor):\n"
        '    """pkg.spec:thing in a docstring."""\n'
        '    importlib.import_module("pkg.literal")\n'
        '    import_module(".relative", __package__)\n'
        '    importlib.import_module(".loose", anchor)  # an unknown package: no edge\n'
        '    importlib.import_module(".named", package="pkg")\n'
        '    import_module(f"pkg.{name}.rules")  # pkg.x.rules, pkg.y.rules; not deeper\n'
        '    f.__module__ = "pkg.anchored"\n'
        '    return "pkg.spec:thing.attr"\n'
        "class V:\n"
        '    models_module: str = "pkg.x.models"\n'
        '    other = "pkg.x.other"  # a plain module name: text\n'
        "class E:\n"
        '    __decision_rules__ = "pkg.x.deep.rules"\n'
    )
    (package / "cmd" / "__init__.py").write_text(
        "import importlib\n"
        "import typing\n"
        "def load(command):\n"
        '    return importlib.import_module(f"{__name__}.{command}")\n'
        "if typing.TYPE_CHECKING:\n"
        '    importlib.import_module("pkg.fstring")\n'
    )
    (package / "y" / "__init__.py").write_text(
        "import importlib\n"
        'importlib.import_module("..anchored", "pkg.y")\n'
        'importlib.import_module(".rules", __name__)\n'
    )
    graph = import_graph(package)
    assert graph["pkg.a"] == {
        "pkg.literal",
        "pkg.relative",
        "pkg.named",
        "pkg.x.rules",
        "pkg.y.rules",
        "pkg.spec",
        "pkg.x.models",
        "pkg.x.deep.rules",
    }
    assert graph["pkg.cmd"] == {"pkg.cmd.run"}
    assert graph["pkg.y"] == {"pkg.anchored", "pkg.y.rules"}
    assert find_cycles(graph) == []
    (package / "x" / "models.py").write_text("from ..a import V\n")
    assert find_cycles(import_graph(package)) == [["pkg.a", "pkg.x.models"]]
