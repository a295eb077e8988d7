"""Import an object named by a ``"package.module:attribute"`` string, the way uvicorn and celery
import applications, for command-line options such as ``--app`` (``inbox replay``, and later
``process``). The current directory is put on ``sys.path`` first, so that ``--app myapp:receiver``
works from the project's root, as it does with those tools.
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
from typing import TYPE_CHECKING

from .errors import ConfigurationError

if TYPE_CHECKING:
    from .receiver import Receiver

__all__ = ["import_from_string", "load_receiver"]


def import_from_string(spec: str) -> object:
    """The object at ``"package.module:attribute"`` (``attribute`` may be dotted:
    ``"app:container.receiver"``).

    Raises :class:`ConfigurationError` for a malformed spec, a module that does not exist or an
    attribute the module lacks (suggesting the closest names). An exception raised *inside* the
    module while it is imported is the application's own and propagates unchanged.
    """
    module_name, colon, attribute = spec.partition(":") if isinstance(spec, str) else ("", "", "")
    parts = attribute.split(".")
    dotted = [*module_name.split("."), *parts]
    if not colon or not all(part.isidentifier() for part in dotted):
        raise ConfigurationError(
            f"bad import string {spec!r}: use 'package.module:attribute', "
            "e.g. 'myapp.webhooks:receiver'"
        )
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only when the named module itself (or a parent package) is missing; a missing import
        # inside the application is its own bug and keeps its traceback.
        if exc.name is None or not (
            module_name == exc.name or module_name.startswith(exc.name + ".")
        ):
            raise
        raise ConfigurationError(
            f"cannot import module {module_name!r} (from {spec!r}): no module named {exc.name!r} "
            f"on the path (run from your project's directory; the current directory is {cwd})"
        ) from None
    value: object = module
    for depth, part in enumerate(parts):
        try:
            value = getattr(value, part)
        except AttributeError:
            where = f"{module_name}:{'.'.join(parts[:depth])}" if depth else module_name
            names = [n for n in dir(value) if not n.startswith("_")]
            close = difflib.get_close_matches(part, names, n=3)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise ConfigurationError(
                f"{where!r} has no attribute {part!r} (from {spec!r}){hint}"
            ) from None
    return value


def load_receiver(spec: str) -> Receiver:
    """The :class:`~kyc_webhooks.Receiver` at ``"package.module:attribute"``; a
    :class:`ConfigurationError` if that is anything else."""
    from .receiver import Receiver

    value = import_from_string(spec)
    if not isinstance(value, Receiver):
        raise ConfigurationError(
            f"{spec!r} is a {type(value).__name__}, not a kyc_webhooks.Receiver: point it at the "
            "Receiver your application builds (receiver = kw.Receiver(...))"
        )
    return value
