"""Yoti IDV notifications: ``Yoti`` (configuration + ``Authorization`` check) and the event
models. Facts: https://developers.yoti.com/identity-verification/notifications.
Models load on first access."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._vendor import lazy_models
from ._auth import AUTHORIZATION_HEADER, Yoti, parse_unauthenticated

__all__ = ["AUTHORIZATION_HEADER", "Yoti", "parse_unauthenticated"]

if TYPE_CHECKING:
    from . import models
    from .models import *  # noqa: F403

    # The models are public too: ``models.__all__`` is the one list of them (a form of ``__all__``
    # that pyright reads; without it, importing a model is reportPrivateImportUsage).
    __all__ += models.__all__
else:  # hidden from type checkers: an unknown name must be an error, not Any
    # ``__all__`` resolves on first use too, as the models do: loading them lists their names.
    __getattr__ = lazy_models(__name__, own=__all__)
    del __all__
