"""The registry of vendor names: which class handles each vendor, and which vendors a request's
marks point to.

It maps vendor names to the ``Vendor`` subclasses of the vendor packages' ``_auth`` modules, which
import no models: detection and configuration stay cheap, and a vendor's models load on its first
``parse``. It sits above the vendor packages (their ``_auth`` modules import the ``Vendor`` base
class from ``_vendor``, which knows no vendor); the receiver, the router, the store runner, the
ledger, the command line, the adapters and the testing toolkit look vendors up here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .errors import ConfigurationError

if TYPE_CHECKING:
    from ._headers import Headers
    from ._vendor import Vendor

__all__ = ["VENDOR_NAMES", "detect_vendors", "vendor_class"]

#: Vendor name -> "module:Class" of its configuration/verification class.
_VENDOR_PATHS: dict[str, str] = {
    "idenfy": "kyc_webhooks.idenfy._auth:Idenfy",
    "complycube": "kyc_webhooks.complycube._auth:ComplyCube",
    "yoti": "kyc_webhooks.yoti._auth:Yoti",
    "identomat": "kyc_webhooks.identomat._auth:Identomat",
}
VENDOR_NAMES: tuple[str, ...] = tuple(_VENDOR_PATHS)
_CLASSES: dict[str, type[Vendor]] = {}


def vendor_class(name: str) -> type[Vendor]:
    """The vendor class registered as ``name``; :class:`ConfigurationError` for an unknown name."""
    cached = _CLASSES.get(name) if isinstance(name, str) else None
    if cached is not None:
        return cached
    try:
        path = _VENDOR_PATHS[name]
    except (KeyError, TypeError):
        raise ConfigurationError(
            f"unknown vendor {name!r}; expected one of {', '.join(VENDOR_NAMES)} or '*'"
        ) from None
    module_name, _, attr = path.partition(":")
    cls: type[Vendor] = getattr(importlib.import_module(module_name), attr)
    _CLASSES[name] = cls
    return cls


_ALL_CLASSES: list[type[Vendor]] = []


def _all_classes() -> list[type[Vendor]]:
    _ALL_CLASSES[:] = [vendor_class(name) for name in VENDOR_NAMES]
    return _ALL_CLASSES


def detect_vendors(headers: Headers, body: bytes) -> list[str]:
    """Names of the vendors whose marks the request carries. Vendor-specific headers outrank body
    shapes: an iDenfy body that happens to contain ``"topic"`` is still iDenfy's."""
    classes = _ALL_CLASSES or _all_classes()
    by_header = [c.name for c in classes if c.detection == "header" and c.detect(headers, body)]
    if by_header:
        return by_header  # body shapes are outranked: no need to scan the body
    return [c.name for c in classes if c.detection != "header" and c.detect(headers, body)]
