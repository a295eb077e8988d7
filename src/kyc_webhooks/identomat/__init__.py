"""Identomat webhooks: ``Identomat`` (configuration + authentication) and the event models.
Facts: https://docs.identomat.com/developer-tools/callbacks. Models load on first access."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._vendor import lazy_models
from ._auth import API_KEY_FIELD, Identomat, parse_unauthenticated

if TYPE_CHECKING:
    from .models import *  # noqa: F403

__all__ = ["API_KEY_FIELD", "Identomat", "parse_unauthenticated"]

if not TYPE_CHECKING:  # hidden from type checkers: an unknown name must be an error, not Any
    __getattr__ = lazy_models(__name__)
