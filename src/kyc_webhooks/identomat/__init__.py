"""Identomat webhooks: ``Identomat`` (configuration + authentication) and the event models.
Facts: https://docs.identomat.com/developer-tools/callbacks. Models load on first access."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .._vendor import lazy_models
from ._auth import API_KEY_FIELD, Identomat, parse_unauthenticated

__all__ = ["API_KEY_FIELD", "Identomat", "parse_unauthenticated"]

if TYPE_CHECKING:
    from . import models
    from .models import *  # noqa: F403

    # The models are public too: ``models.__all__`` is the one list of them (a form of ``__all__``
    # that pyright reads; without it, importing a model is reportPrivateImportUsage).
    __all__ += models.__all__
else:  # hidden from type checkers: an unknown name must be an error, not Any
    _model = lazy_models(__name__)
    _OWN = tuple(__all__)
    del __all__  # resolved on first use, as the models are: loading them lists their names

    def __getattr__(name: str) -> Any:
        if name != "__all__":
            return _model(name)
        value = [*_OWN, *importlib.import_module(".models", __name__).__all__]
        globals()["__all__"] = value
        return value
