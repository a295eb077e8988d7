"""Yoti IDV notifications: ``Yoti`` (configuration + ``Authorization`` check) and the event
models. Facts: https://developers.yoti.com/identity-verification/notifications.
Models load on first access."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._vendor import lazy_models
from ._auth import AUTHORIZATION_HEADER, Yoti, parse_unauthenticated

if TYPE_CHECKING:
    from .models import *  # noqa: F403

__all__ = ["AUTHORIZATION_HEADER", "Yoti", "parse_unauthenticated"]

if not TYPE_CHECKING:  # hidden from type checkers: an unknown name must be an error, not Any
    __getattr__ = lazy_models(__name__)
