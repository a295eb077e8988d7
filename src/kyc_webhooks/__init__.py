"""kyc-webhooks: receive identity-verification webhooks from iDenfy, ComplyCube, Yoti and Identomat,
authenticate them exactly as each vendor signs, parse them into typed pydantic models and route
them to your handlers.

    import kyc_webhooks as kw

    receiver = kw.Receiver(kw.Idenfy(signing_key="..."))

    @receiver.on("idenfy", "IDENTIFICATION_*")
    def on_result(event) -> None: ...

    outcome = receiver.handle(body, headers)   # body: the raw request bytes

Vendor classes and vendor models load lazily: ``import kyc_webhooks`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._headers import Headers
from ._vendor import Vendor
from .errors import (
    AmbiguousVendorError,
    AuthenticationError,
    ConfigurationError,
    DeliveryError,
    HandlerError,
    PayloadError,
    PayloadTooLargeError,
    UndetectableVendorError,
    UsageError,
    VendorNotConfiguredError,
    WebhookError,
)
from .models import UnknownEvent, WebhookEvent
from .receiver import DEFAULT_MAX_BODY_SIZE, Outcome, Receiver
from .routing import Route, Router

if TYPE_CHECKING:
    from .complycube import ComplyCube
    from .identomat import Identomat
    from .idenfy import Idenfy
    from .yoti import Yoti

__version__ = "0.1.0.dev0"

__all__ = [
    "DEFAULT_MAX_BODY_SIZE",
    "AmbiguousVendorError",
    "AuthenticationError",
    "ComplyCube",
    "ConfigurationError",
    "DeliveryError",
    "HandlerError",
    "Headers",
    "Idenfy",
    "Identomat",
    "Outcome",
    "PayloadError",
    "PayloadTooLargeError",
    "Receiver",
    "Route",
    "Router",
    "UndetectableVendorError",
    "UnknownEvent",
    "UsageError",
    "Vendor",
    "VendorNotConfiguredError",
    "WebhookError",
    "WebhookEvent",
    "Yoti",
    "__version__",
]

# Names resolved on first access (PEP 562), so that importing the package builds no vendor code.
_LAZY: dict[str, str] = {
    "Idenfy": "kyc_webhooks.idenfy._auth",
    "ComplyCube": "kyc_webhooks.complycube._auth",
    "Yoti": "kyc_webhooks.yoti._auth",
    "Identomat": "kyc_webhooks.identomat._auth",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kyc_webhooks' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
