"""What every vendor implements: the ``Vendor`` base class and the helpers vendor packages share.

A vendor object is configuration plus these operations: ``detect`` (cheap, on headers or a byte
scan; class-level so that unconfigured vendors are recognised too), ``verify`` (authentication
over the raw bytes) and ``parse`` (``verify``, then decode and validate the same bytes straight into
a model, validators built once). The receiver routes the event by ``event.event_type``.

An object that holds a credential never returns an event it has not authenticated: ``parse``
always verifies. Parsing without authentication (a body a store authenticated when it arrived) is
a credential-free module function per vendor, ``kyc_webhooks.<vendor>.parse_unauthenticated``,
and, inside the package, :func:`parse_unauthenticated` here (the receiver's re-parse of stored
bodies, which must use the configured vendor object's models).

The registry of vendor names (``vendor_class``, ``detect_vendors``) is ``_registry``, above the
vendor packages: this module knows no vendor.
"""

from __future__ import annotations

import abc
import importlib
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any, ClassVar, final

from ._headers import HeaderInput, Headers

# Validation helpers live in ``_validation`` (the bottom of the import graph); re-exported here for
# code written against their old home.
from ._validation import (
    VALIDATION_ERRORS,
    describe_validation_error,
    payload_error,
    validate_json,
)
from .errors import PayloadTooLargeError, UsageError
from .models import WebhookEvent

#: 1 MiB: the largest documented bodies (iDenfy identifications with AML hits) are a few dozen KiB.
DEFAULT_MAX_BODY_SIZE = 1024 * 1024

__all__ = [
    "VALIDATION_ERRORS",
    "Vendor",
    "body_bytes",
    "describe_validation_error",
    "lazy_models",
    "parse_unauthenticated",
    "payload_error",
    "validate_json",
]


class Vendor(abc.ABC):
    """Base class of ``kw.Idenfy``, ``kw.ComplyCube``, ``kw.Yoti`` and ``kw.Identomat``."""

    #: The vendor's name as used in ``receiver.on(name, ...)`` and ``handle(..., vendor=name)``.
    name: ClassVar[str]
    #: Lower-case names of headers that carry credentials (never stored or logged). A class-level
    #: default that a vendor object may widen (iDenfy's ``required_headers``).
    auth_headers: frozenset[str] = frozenset()
    #: Top-level JSON body fields that carry credentials (Identomat's ``callbackApiKey``): whoever
    #: prints or stores a body shows these redacted.
    credential_fields: ClassVar[frozenset[str]] = frozenset()
    #: The module with the vendor's models and ``parse_event``; imported on first use by
    #: :meth:`models` (not at import time: importing the package stays cheap, docs/performance.md).
    models_module: ClassVar[str]
    #: How ``detect`` recognises the vendor: by a vendor-specific ``"header"`` (strong) or by the
    #: ``"body"`` shape (weak: a header-identified vendor's body may contain the same words).
    detection: ClassVar[str] = "header"
    #: The constructor parameter that takes the credential (``signing_key``, ``secret`` ...); the
    #: command line also uses it as the key of the vendor's table in a config file.
    credential_param: ClassVar[str]
    #: The environment variable the command line reads that credential from.
    credential_env: ClassVar[str]
    #: Other constructor parameters the command line reads from the environment (parameter ->
    #: variable), such as Yoti's ``auth_type``; they are also accepted in the config table.
    option_envs: ClassVar[Mapping[str, str]] = {}
    #: ``"module:function"`` that builds ``(body, headers)`` exactly as the vendor sends a payload
    #: -- ``function(name, payload, secret, *, event_type=..., **options)`` -- for the command
    #: line's ``sign`` and ``send`` (sample payloads: ``<vendor package>._samples.SAMPLES``). The
    #: default is ``kyc_webhooks.testing.sign``, named by the module that defines it (a leaf: the
    #: ``testing`` package itself sits above the receiver, and so above this class).
    signer: ClassVar[str] = "kyc_webhooks.testing._signing:sign"

    @classmethod
    @abc.abstractmethod
    def detect(cls, headers: Headers, body: bytes) -> bool:
        """Whether the request carries this vendor's distinctive marks (no authentication)."""

    @abc.abstractmethod
    def verify(self, body: bytes, headers: Headers) -> None:
        """Authenticate the raw body; raise ``AuthenticationError`` (fail closed) or return."""

    @final
    def parse(
        self,
        body: bytes,
        headers: HeaderInput | None = None,
        *,
        max_body_size: int | None = DEFAULT_MAX_BODY_SIZE,
    ) -> WebhookEvent:
        """Refuse a body over ``max_body_size`` bytes (``None``: no limit), authenticate the
        delivery, then decode and validate the same bytes into a bound event.

        Raises :class:`~kyc_webhooks.errors.PayloadTooLargeError` (413) for a body over the
        limit, before any other work; :class:`~kyc_webhooks.errors.AuthenticationError` (401)
        unless :meth:`verify` passes, :class:`~kyc_webhooks.errors.PayloadError` (400) for a
        body that does not validate, :class:`~kyc_webhooks.errors.UsageError` for a body that is
        not bytes or a limit that is not a positive int. To re-parse a body authenticated
        earlier, use the vendor package's ``parse_unauthenticated`` (no authentication)."""
        raw = body if type(body) is bytes else body_bytes(body)
        if max_body_size is not None:
            if type(max_body_size) is not int or max_body_size <= 0:
                raise UsageError("max_body_size must be a positive int or None")
            if len(raw) > max_body_size:
                raise PayloadTooLargeError(
                    f"body is {len(raw)} bytes, over the {max_body_size}-byte limit"
                )
        view = headers if type(headers) is Headers else Headers(headers)
        self.verify(raw, view)
        return self._parse(raw, view)

    def _parse(self, body: bytes, headers: Headers) -> WebhookEvent:
        """Decode and validate ``body`` into a bound event (**no authentication**): the models
        module's ``parse_event(body, headers)``; raises ``PayloadError``. Reached only through
        :meth:`parse`, :meth:`prepare` and :func:`parse_unauthenticated`."""
        event: WebhookEvent = self.models().parse_event(body, headers)
        return event

    @classmethod
    def models(cls) -> ModuleType:
        """The vendor's models module (``models_module``: ``EVENT_MODELS``, ``parse_event(body,
        headers)``), imported on first use and then cached on the class."""
        module = cls._models_cache
        if module is None or module.__name__ != cls.models_module:  # a subclass's own module
            module = importlib.import_module(cls.models_module)
            cls._models_cache = module
        return module

    _models_cache: ClassVar[ModuleType | None] = None

    def prepare(self) -> None:
        """Import this vendor's models and build every validator a delivery can need, now rather
        than on the first delivery (see ``Receiver.prepare``).

        Each documented event type's sample body (``<vendor>._samples``, the bodies the testing
        toolkit sends) goes through the parsing step of :meth:`parse` -- the real path, unions and
        discriminators included -- and the sections of every model met are built as well.
        Nothing is verified, stored, dispatched, logged or counted."""
        samples: Mapping[str, Any] = importlib.import_module(
            self.models_module.rpartition(".")[0] + "._samples"
        ).SAMPLES
        for event_type, payload in samples.items():
            body = json.dumps(payload).encode()
            event = self._parse(body, Headers(self.sample_headers(event_type)))
            type(event).prepare_sections()

    @classmethod
    def sample_headers(cls, event_type: str) -> dict[str, str]:
        """Headers (other than credentials) a delivery of ``event_type`` carries."""
        return {}

    @classmethod
    def normalize_pattern(cls, pattern: str) -> str:
        """Map a user's routing pattern onto the event-type spelling ``parse`` produces."""
        return pattern

    @classmethod
    def event_types(cls) -> tuple[str, ...]:
        """Every event type this vendor documents: the models module's ``EVENT_TYPES`` (loads the
        vendor's models)."""
        return tuple(cls.models().EVENT_TYPES)

    @classmethod
    def produces(cls, event_type: str) -> bool:
        """Whether this vendor can deliver an event whose ``event_type`` is ``event_type``: one of
        :meth:`event_types`, or (ComplyCube) a member of an open family of them."""
        return event_type in cls.event_types()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<credentials redacted>)"


def parse_unauthenticated(vendor: Vendor, body: bytes, headers: Headers) -> WebhookEvent:
    """**No authentication**: ``vendor``'s parsing step alone, for a body that was authenticated
    when it arrived (the receiver's re-parse of a stored delivery). Package-internal; users have
    ``kyc_webhooks.<vendor>.parse_unauthenticated``."""
    return vendor._parse(body, headers)


def body_bytes(body: object) -> bytes:
    """``body`` as ``bytes`` (``bytearray``/``memoryview`` copied); anything else, such as a
    decoded ``str``, is a :class:`UsageError`: signatures cover the exact bytes received."""
    if isinstance(body, bytes):
        return body
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)
    raise UsageError(
        f"body must be bytes, not {type(body).__name__}: pass the raw request body bytes "
        "(a decoded or re-serialised body cannot be verified)"
    )


def lazy_models(package: str, own: Sequence[str] = ()) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) for a vendor package: the names in its ``models.__all__``
    resolve on first access, so importing the package (and its ``_auth``) builds no models. So
    does the package's ``__all__`` when the package leaves it to this (``del __all__``): its
    ``own`` names, then the models' (``from <package> import *`` loads them)."""

    def __getattr__(name: str) -> Any:
        models = importlib.import_module(".models", package)
        if name == "__all__":
            names = [*own, *models.__all__]
            setattr(sys.modules[package], name, names)
            return names
        if name in models.__all__:
            value = getattr(models, name)
            setattr(sys.modules[package], name, value)  # found directly from now on
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
