"""Rules over the source text of ``src/kyc_webhooks`` (CONTRIBUTING.md, "Model rules"; issue #11).

* No module writes an object's ``__dict__`` (``obj.__dict__[...] = ...``, ``obj.__dict__.update``,
  or an alias of it): objects are changed through their own methods and pydantic's public means
  (fields, private attributes, ``model_copy``). Any use of ``.__dict__`` counts, since an alias
  (``meta = obj.__dict__``) hides the write from a syntactic check.
* No module reads another module's private attributes: ``something._name`` where ``_name`` is a
  private name that this module does not define itself (as a function, class, variable, argument
  or attribute it assigns), and ``from module import _name``. Reads on ``self``/``cls`` are the
  object's own attributes (a subclass may use its base's protected members) and are allowed.
  Names private to other libraries (``sys._getframe``) are not our modules' and not checked.
"""

from __future__ import annotations

import ast
from pathlib import Path

import kyc_webhooks

SRC = Path(kyc_webhooks.__file__).parent

#: (module path relative to the package, enclosing function's qualified name) allowed to use
#: ``__dict__``: none. Add an entry only with a comment that says why no public means exists.
DICT_EXCEPTIONS: frozenset[tuple[str, str]] = frozenset()


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


Modules = list[tuple[str, ast.Module]]


def _modules() -> Modules:
    return [
        (path.relative_to(SRC).as_posix(), ast.parse(path.read_text(encoding="utf-8")))
        for path in sorted(SRC.rglob("*.py"))
    ]


def _defined(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names


def _package_privates(modules: Modules) -> set[str]:
    """Private names that some module of ``modules`` defines."""
    names: set[str] = set()
    for _, tree in modules:
        names |= {name for name in _defined(tree) if _private(name)}
    return names


def _is_module(importer: str, module: str | None, level: int, name: str) -> bool:
    """Whether ``from <module> import <name>`` imports a submodule (``from . import _common``)."""
    if level == 0:
        if module is None or not module.startswith("kyc_webhooks"):
            return False
        base = SRC.parent.joinpath(*module.split("."))
    else:
        base = (SRC / importer).parent
        for _ in range(level - 1):
            base = base.parent
        if module:
            base = base.joinpath(*module.split("."))
    return (base / f"{name}.py").exists() or (base / name / "__init__.py").exists()


def _qualnames(tree: ast.Module) -> dict[int, str]:
    """id(node) -> qualified name of the innermost function or class holding it."""
    where: dict[int, str] = {}

    def visit(node: ast.AST, scope: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = scope
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                inner = f"{scope}.{child.name}" if scope else child.name
            where[id(child)] = inner
            visit(child, inner)

    visit(tree, "")
    return where


def dict_uses(modules: Modules) -> list[str]:
    found: list[str] = []
    for module, tree in modules:
        where = _qualnames(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "__dict__":
                scope = where.get(id(node), "")
                if (module, scope) not in DICT_EXCEPTIONS:
                    found.append(f"{module}:{node.lineno} ({scope or 'module'})")
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "vars"
                and node.args
            ):
                found.append(f"{module}:{node.lineno} vars()")
    return found


def foreign_private_reads(modules: Modules) -> list[str]:
    ours = _package_privates(modules)
    found: list[str] = []
    for module, tree in modules:
        own = _defined(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _private(node.attr):
                on_self = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
                if not on_self and node.attr in ours and node.attr not in own:
                    found.append(f"{module}:{node.lineno} .{node.attr}")
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if _private(alias.name) and not _is_module(
                        module, node.module, node.level, alias.name
                    ):
                        found.append(f"{module}:{node.lineno} import {alias.name}")
    return found


def test_no_module_uses_an_objects_dict() -> None:
    assert dict_uses(_modules()) == []


def test_no_module_reads_another_modules_private_attributes() -> None:
    assert foreign_private_reads(_modules()) == []


def test_the_checks_find_what_they_look_for() -> None:
    # What the old WebhookEvent.bind() and the inlined iDenfy parse did, and what routing read.
    writer = ast.parse("meta = event.__dict__\nmeta['_vendor'] = 'x'\nn = vars(event)\n")
    owner = ast.parse(
        "class E:\n    _event_type = ''\n    def f(self):\n        return self._event_type\n"
    )
    reader = ast.parse(
        "from .models import _helper\nfrom . import _headers\nkey = event._event_type\n"
    )
    modules = [("models.py", owner), ("routing.py", reader), ("idenfy/models.py", writer)]
    assert dict_uses(modules) == ["idenfy/models.py:1 (module)", "idenfy/models.py:3 vars()"]
    assert foreign_private_reads(modules) == [
        "routing.py:1 import _helper",
        "routing.py:3 ._event_type",
    ]


def test_no_string_constant_holds_a_lone_surrogate() -> None:
    """A docstring written with ``"\\ud83d"`` (one backslash) holds the surrogate itself: Python
    3.13.0 compiles such a docstring -- dedenting it, through UTF-8 -- with UnicodeEncodeError, so
    that ``import kyc_webhooks.testing`` failed there (and pytest, which loads the plugin). A
    constant that needs one builds it (``chr(0xD83D)``); text about one writes its escape."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                try:
                    node.value.encode("utf-8")
                except UnicodeEncodeError:
                    found.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert found == []
