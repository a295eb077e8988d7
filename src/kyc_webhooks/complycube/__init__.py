"""ComplyCube webhooks: ``ComplyCube`` (configuration + authentication) and the event models.
Facts: ../shared/vendors/complycube.md. Models load on first access."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._auth import SIGNATURE_HEADER, ComplyCube

if TYPE_CHECKING:
    from .models import *  # noqa: F403

__all__ = ["SIGNATURE_HEADER", "ComplyCube"]


def __getattr__(name: str) -> Any:
    models = importlib.import_module(".models", __name__)
    if name in models.__all__:
        value = getattr(models, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
