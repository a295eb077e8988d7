"""iDenfy webhooks: ``Idenfy`` (configuration + ``Idenfy-Signature`` verification) and the event
models. Facts: ../shared/vendors/idenfy.md. Models load on first access."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._auth import EVENT_TYPE_HEADER, SIGNATURE_HEADER, Idenfy

if TYPE_CHECKING:
    from .models import *  # noqa: F403

__all__ = ["EVENT_TYPE_HEADER", "SIGNATURE_HEADER", "Idenfy"]


def __getattr__(name: str) -> Any:
    models = importlib.import_module(".models", __name__)
    if name in models.__all__:
        value = getattr(models, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
