"""Model conventions shared by every vendor package.

* :class:`KycModel` -- frozen pydantic v2 base: snake_case attributes with the vendor's wire
  names as aliases, unknown fields kept (``extra="allow"``), schemas built lazily on first use
  (``defer_build``) so that importing a vendor costs little.
* :data:`OPEN` -- metadata that turns ``Union[SomeEnum, str]`` into an *open enum*: a known value
  becomes the enum member, an unknown one stays a plain ``str`` and never fails validation.
* :data:`PERSONAL` -- metadata marking a field as personal data; ``repr()``/``str()`` show it as
  ``<redacted>`` while the attribute keeps the real value for handlers.
* :class:`Timestamp` -- an aware ``datetime`` that remembers the vendor's wire form (epoch int or
  float, or an ISO string) and serialises back to exactly that form.
* :class:`WebhookEvent` -- base of every parsed event: ``vendor``, ``event_type``, ``delivery_key``.
* :class:`UnknownEvent` -- an event type we do not know yet; keeps the whole body.

Lossless rule: ``event.model_dump(mode="json", by_alias=True, exclude_unset=True)`` equals the JSON
the vendor sent.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterator
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, ClassVar, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema
from typing_extensions import Self

__all__ = [
    "OPEN",
    "PERSONAL",
    "REDACTED",
    "KycModel",
    "Timestamp",
    "UnknownEvent",
    "WebhookEvent",
    "WireEnum",
]

#: Field metadata for open enums: ``Annotated[Union[MyEnum, str], OPEN]``. The union is tried left
#: to right entirely inside pydantic-core (no Python callback), so known values become members and
#: anything else stays a ``str``.
OPEN = Field(union_mode="left_to_right")


class _Personal:
    """Marker type for :data:`PERSONAL`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "PERSONAL"


#: Field metadata marking personal data: ``name: Annotated[str | None, PERSONAL] = None``.
PERSONAL = _Personal()


class _Redacted:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<redacted>"


#: What ``repr()`` shows instead of a personal value.
REDACTED = _Redacted()


class WireEnum(str, enum.Enum):
    """Base for the known values of an open enum; ``str(member)`` is the wire value."""

    def __str__(self) -> str:
        return str(self.value)


class KycModel(BaseModel):
    """Frozen, lossless, redacting base model (see module docstring)."""

    model_config = ConfigDict(
        frozen=True,
        extra="allow",
        populate_by_name=True,
        defer_build=True,
        protected_namespaces=(),
    )

    #: Names of fields marked :data:`PERSONAL`, computed once per class.
    __personal_fields__: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls.__personal_fields__ = frozenset(
            name
            for name, info in cls.model_fields.items()
            if any(meta is PERSONAL for meta in info.metadata)
        )

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # Only the fields that were actually sent, personal ones masked; unknown (extra) fields may
        # hold anything, so their values are masked too and only their names are shown.
        personal = type(self).__personal_fields__
        fields_set = self.model_fields_set
        for name, info in type(self).model_fields.items():
            if name not in fields_set or not info.repr:
                continue
            value = getattr(self, name)
            yield name, (REDACTED if name in personal and value is not None else value)
        extra = self.__pydantic_extra__
        if extra:
            for key, value in extra.items():
                yield key, (REDACTED if value is not None else None)


WireValue: TypeAlias = str | int | float


@lru_cache(maxsize=1)
def _datetime_adapter() -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(datetime)


class Timestamp(datetime):
    """An aware :class:`~datetime.datetime` that remembers the vendor's wire form.

    Accepts epoch seconds (``int`` or ``float`` -- iDenfy sent floats with microseconds in 2019) and
    ISO-8601 strings (``Z`` or offsets, ``T`` or space separator). A naive value is taken as UTC,
    the zone every vendor documents. ``wire`` holds the original value, and JSON serialisation
    gives it back unchanged, so round-trips are byte-faithful.
    """

    wire: WireValue

    @classmethod
    def from_wire(cls, value: object) -> Timestamp:
        if isinstance(value, Timestamp):
            return value
        if isinstance(value, bool):
            raise ValueError("timestamp must be a number or an ISO-8601 string")
        if isinstance(value, (int, float)):
            try:
                out = cls.fromtimestamp(value, tz=timezone.utc)
            except (OverflowError, OSError, ValueError) as exc:
                raise ValueError("timestamp out of range") from exc
        elif isinstance(value, str):
            out = cls._parse_iso(value)
        elif isinstance(value, datetime):
            out = cls._from_datetime(value)
            out.wire = out.isoformat()
            return out
        else:
            raise ValueError("timestamp must be a number or an ISO-8601 string")
        out.wire = value
        return out

    @classmethod
    def _from_datetime(cls, value: datetime) -> Timestamp:
        tz = value.tzinfo if value.tzinfo is not None else timezone.utc
        return cls(
            value.year,
            value.month,
            value.day,
            value.hour,
            value.minute,
            value.second,
            value.microsecond,
            tzinfo=tz,
            fold=value.fold,
        )

    @classmethod
    def _parse_iso(cls, text: str) -> Timestamp:
        candidate = text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text
        try:
            parsed: datetime = datetime.fromisoformat(candidate)
        except ValueError:
            # Python 3.10's fromisoformat is narrow; pydantic's parser covers the rest.
            try:
                parsed = _datetime_adapter().validate_python(text)
            except Exception as exc:
                raise ValueError("timestamp is not a valid ISO-8601 date-time") from exc
        return cls._from_datetime(parsed)

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return (type(self).from_wire, (self.wire,))

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls.from_wire,
            serialization=core_schema.plain_serializer_function_ser_schema(
                _serialize_timestamp, when_used="json"
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: CoreSchema, handler: Any) -> JsonSchemaValue:
        return {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "number"}]}


def _serialize_timestamp(value: datetime) -> WireValue:
    wire = getattr(value, "wire", None)
    return wire if wire is not None else value.isoformat()


class WebhookEvent(KycModel):
    """Base of every parsed delivery.

    ``vendor`` and ``event_type`` are set by the vendor that parsed the body (the event type comes
    from a header for some vendors, so it is not always a field). ``delivery_key`` is identical for
    redeliveries of the same event and different for different events; vendors override
    :meth:`_delivery_key` where the body carries a real event id.
    """

    # Delivery metadata lives in the instance ``__dict__`` under these names, set once by
    # :meth:`bind`. Not pydantic private attributes: those are read through
    # ``BaseModel.__getattr__`` (about 3 us a read, several reads per delivery on the hot path),
    # while a plain ``__dict__`` entry is an ordinary attribute read. pydantic-core serialises
    # declared fields and ``__pydantic_extra__`` only, so these never reach ``model_dump()``; they
    # do travel with ``copy``/``pickle`` and count in ``==`` (same delivery, same metadata).
    _vendor: ClassVar[str] = ""
    _event_type: ClassVar[str] = ""
    _raw: ClassVar[bytes] = b""

    @property
    def vendor(self) -> str:
        """Vendor name: ``"idenfy"``, ``"complycube"``, ``"yoti"`` or ``"identomat"``."""
        return self._vendor

    @property
    def event_type(self) -> str:
        """The vendor's own event-type string, e.g. ``"IDENTIFICATION_AUTO_FINISHED"``."""
        return self._event_type

    @property
    def raw_body(self) -> bytes:
        """The exact bytes that were authenticated and parsed."""
        return self._raw

    @property
    def delivery_key(self) -> str:
        """Stable key for deduplication (see the vendor's ``_delivery_key``)."""
        return self._delivery_key()

    def _delivery_key(self) -> str:
        # Default for vendors without an event id: vendor + event type + SHA-256 of the raw body.
        # Retries resend the same bytes, so they share the key; different events differ somewhere.
        return f"{self._vendor}:{self._event_type}:{self.body_digest()}"

    def body_digest(self) -> str:
        """Hex SHA-256 of the raw body (first 32 hex digits: 128 bits, ample against collisions)."""
        return hashlib.sha256(self._raw).hexdigest()[:32]

    def bind(self, *, vendor: str, event_type: str, raw: bytes) -> Self:
        """Attach delivery metadata; called once by the vendor right after validation."""
        meta = self.__dict__
        meta["_vendor"] = vendor
        meta["_event_type"] = event_type
        meta["_raw"] = raw
        return self

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        yield "vendor", self._vendor
        yield "event_type", self._event_type
        yield from super().__repr_args__()


class UnknownEvent(WebhookEvent):
    """An event type this library does not model (yet). The whole body is kept as extra fields
    (``model_extra``/:attr:`payload`) and it reaches catch-all handlers."""

    @property
    def payload(self) -> dict[str, Any]:
        """The body as a ``dict`` (a copy)."""
        return dict(self.__pydantic_extra__ or {})
