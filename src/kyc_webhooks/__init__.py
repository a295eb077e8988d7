"""kyc-webhooks: receive identity-verification webhooks from iDenfy, ComplyCube, Yoti and Identomat,
authenticate them exactly as each vendor signs, parse them into typed pydantic models and route
them to your handlers.

    import kyc_webhooks as kw

    receiver = kw.Receiver(kw.Idenfy(signing_key="..."))

    @receiver.on("idenfy", "IDENTIFICATION*")
    def on_result(event) -> None: ...

    outcome = receiver.handle(body, headers)   # body: the raw request bytes

Exactly-once handling across threads and processes: ``kw.Receiver(..., store=kw.SQLiteStore(path))``
(docs/delivery-guarantees.md).

Vendor classes, vendor models and the stores load lazily: ``import kyc_webhooks`` stays cheap (and
never imports ``sqlite3`` or ``psycopg``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ._headers import Headers
from .errors import (
    AmbiguousVendorError,
    AuthenticationError,
    BodyErasedError,
    ConfigurationError,
    DeliveryError,
    DeliveryInProgressError,
    DeliveryNotFoundError,
    HandlerError,
    PayloadError,
    PayloadTooLargeError,
    StoreError,
    StoreSchemaError,
    UndetectableVendorError,
    UsageError,
    VendorNotConfiguredError,
    WebhookError,
)

if TYPE_CHECKING:
    # The subpackages the module __getattr__ below loads on first access (``kw.testing``).
    from . import complycube as complycube
    from . import idenfy as idenfy
    from . import identomat as identomat
    from . import integrations as integrations
    from . import store as store
    from . import testing as testing
    from . import yoti as yoti
    from ._vendor import Vendor
    from .complycube import ComplyCube
    from .decisions import Decision, DecisionStatus
    from .idenfy import Idenfy
    from .identomat import Identomat
    from .models import UnknownEvent, WebhookEvent
    from .outcome import Outcome, ProcessSummary
    from .receiver import DEFAULT_MAX_BODY_SIZE, Receiver
    from .routing import Route, Router, RoutingWarning
    from .store import (
        DeliveryRecord,
        DeliveryState,
        MemoryStore,
        PostgresStore,
        SQLiteStore,
        Store,
    )
    from .yoti import Yoti

__version__ = "0.1.0.dev0"

__all__ = [
    "DEFAULT_MAX_BODY_SIZE",
    "AmbiguousVendorError",
    "AuthenticationError",
    "BodyErasedError",
    "ComplyCube",
    "ConfigurationError",
    "Decision",
    "DecisionStatus",
    "DeliveryError",
    "DeliveryInProgressError",
    "DeliveryNotFoundError",
    "DeliveryRecord",
    "DeliveryState",
    "HandlerError",
    "Headers",
    "Idenfy",
    "Identomat",
    "MemoryStore",
    "Outcome",
    "PayloadError",
    "PayloadTooLargeError",
    "PostgresStore",
    "ProcessSummary",
    "Receiver",
    "Route",
    "Router",
    "RoutingWarning",
    "SQLiteStore",
    "Store",
    "StoreError",
    "StoreSchemaError",
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

# Names resolved on first access (PEP 562). ``import kyc_webhooks`` loads only the error tree and
# the header view; pydantic's model machinery, the receiver, vendor code and the stores load when
# first used (import stays cheap; figures in docs/performance.md).
_LAZY: dict[str, str] = {
    "Vendor": "kyc_webhooks._vendor",
    "Decision": "kyc_webhooks.decisions",
    "DecisionStatus": "kyc_webhooks.decisions",
    "UnknownEvent": "kyc_webhooks.models",
    "WebhookEvent": "kyc_webhooks.models",
    "DEFAULT_MAX_BODY_SIZE": "kyc_webhooks.receiver",
    "Outcome": "kyc_webhooks.outcome",
    "ProcessSummary": "kyc_webhooks.outcome",
    "Receiver": "kyc_webhooks.receiver",
    "Route": "kyc_webhooks.routing",
    "Router": "kyc_webhooks.routing",
    "RoutingWarning": "kyc_webhooks.routing",
    "Idenfy": "kyc_webhooks.idenfy._auth",
    "ComplyCube": "kyc_webhooks.complycube._auth",
    "Yoti": "kyc_webhooks.yoti._auth",
    "Identomat": "kyc_webhooks.identomat._auth",
    "MemoryStore": "kyc_webhooks.store.memory",
    "SQLiteStore": "kyc_webhooks.store.sqlite",
    "PostgresStore": "kyc_webhooks.store.postgres",
    "Store": "kyc_webhooks.store._base",
    "DeliveryRecord": "kyc_webhooks.store._base",
    "DeliveryState": "kyc_webhooks.store._base",
}


#: Subpackages reachable as attributes (``kw.idenfy.IdentificationEvent``) without an import:
#: name -> its loader. Each loader names its module in full, so that a reader (and the import-graph
#: test) sees which modules the package can load -- ``f"kyc_webhooks.{name}"`` would name any of
#: them, the command line (which imports this package) included.
_SUBPACKAGES: dict[str, Callable[[], ModuleType]] = {
    "idenfy": lambda: importlib.import_module("kyc_webhooks.idenfy"),
    "complycube": lambda: importlib.import_module("kyc_webhooks.complycube"),
    "yoti": lambda: importlib.import_module("kyc_webhooks.yoti"),
    "identomat": lambda: importlib.import_module("kyc_webhooks.identomat"),
    "integrations": lambda: importlib.import_module("kyc_webhooks.integrations"),
    "store": lambda: importlib.import_module("kyc_webhooks.store"),
    "testing": lambda: importlib.import_module("kyc_webhooks.testing"),
}


# Hidden from type checkers, which read the names from the TYPE_CHECKING imports above: seen, it
# would make every unknown name (a typo: ``kw.Desicion``) ``Any`` instead of an error.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        load = _SUBPACKAGES.get(name)
        if load is not None:
            return load()
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module 'kyc_webhooks' has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted(__all__)
