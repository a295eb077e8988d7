"""Model conventions shared by every vendor package.

* :class:`KycModel` -- frozen pydantic v2 base: snake_case attributes with the vendor's wire
  names as aliases, unknown fields kept (``extra="allow"``), schemas built lazily on first use
  (``defer_build``) so that importing a vendor costs little.
* :data:`OPEN` -- metadata that turns ``Union[SomeEnum, str]`` into an *open enum*: a known value
  becomes the enum member, an unknown one stays a plain ``str`` and never fails validation.
* :data:`BOUNDED` -- metadata for every typed JSON list (:data:`BOUNDED_MAP`: map): at most
  :data:`MAX_ITEMS` items, and validation stops at the first invalid one, so that no body costs
  more than a few ms.
* :data:`PERSONAL` -- metadata marking a field as personal data; ``repr()``/``str()`` show it as
  ``<redacted>`` while the attribute keeps the real value for handlers.
* Sections -- a bulky, optional part of a body (iDenfy's AML and LID hit lists) kept as the decoded
  JSON in a field ``<name>_raw`` and validated into its models by a ``functools.cached_property``
  ``<name>`` on first read (:func:`read_section`; "Sections" below).
* :class:`Timestamp` -- an aware ``datetime`` that remembers the vendor's wire form (epoch int or
  float, or an ISO string) and serialises back to exactly that form.
* :data:`Number` -- the type of every numeric wire field: a JSON number kept as sent (``34`` stays
  ``int``, ``34.0`` stays ``float``), so that it is dumped back in its wire form; :data:`Flag`,
  of every boolean one. Both strict: a value of another JSON type is a 400, never converted.
* :class:`WebhookEvent` -- base of every parsed event: ``vendor``, ``event_type``, ``delivery_key``.
* :class:`UnknownEvent` -- an event type we do not know yet; keeps the whole body.

Lossless rule: ``event.model_dump(mode="json", by_alias=True, exclude_unset=True)`` equals the JSON
the vendor sent, number types included (``34.0`` stays a float: :data:`Number`).
"""

import contextlib
import enum
import hashlib
import importlib
import inspect
import json
import re
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from functools import cache, cached_property, lru_cache
from typing import Annotated, Any, ClassVar, Generic, NamedTuple, TypeAlias, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    PrivateAttr,
    Strict,
    TypeAdapter,
    ValidationError,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticSerializationError, core_schema
from typing_extensions import Self, deprecated

from ._validation import (
    MAP_FIELDS,
    VALIDATION_ERRORS,
    WIRE_NAMES_ONLY,
    check_object_count,
    decode_json,
    describe_validation_error,
    payload_error,
    pydantic_at_least,
    validate_body,
    validate_json,
)
from .errors import PayloadError

if typing.TYPE_CHECKING:
    from ._decision import Decision

__all__ = [
    "BOUNDED",
    "BOUNDED_MAP",
    "MAX_ITEMS",
    "MAX_KEY_PART",
    "OPEN",
    "PERSONAL",
    "REDACTED",
    "Flag",
    "KycModel",
    "Number",
    "Timestamp",
    "UnknownEvent",
    "WebhookEvent",
    "WireEnum",
    "key_part",
    "read_section",
    "section_names",
    "section_type",
]

#: Field metadata for open enums: ``Annotated[Union[MyEnum, str], OPEN]``. The union is tried left
#: to right entirely inside pydantic-core (no Python callback), so known values become members and
#: anything else stays a ``str``.
OPEN = Field(union_mode="left_to_right")

#: The most items a typed JSON list (or keys a typed JSON map) of a model may hold. None of the
#: vendors documents a limit; the lists they do document are short -- iDenfy's ``fraudTags``,
#: ``mismatchTags``, ``suspicionReasons`` and ``riskTags`` repeat values of enums of at most ~30
#: members (https://documentation.idenfy.com/openapi/kyc.yaml), a document has two images, a
#: company a handful of beneficiaries -- and AML hit lists are tens to hundreds. A longer list is
#: a 400 naming the field (``too_long``), like any value outside the model.
MAX_ITEMS = 1000


def _bound(fail_fast: bool) -> Any:
    # ``fail_fast`` stops a list at its first invalid item from pydantic 2.8 on, and a map from
    # 2.14 on; an older pydantic refuses it on a map when the model's schema is built.
    return Field(max_length=MAX_ITEMS, fail_fast=True) if fail_fast else Field(max_length=MAX_ITEMS)


#: Field metadata for every typed JSON list: ``Annotated[list[X] | None, BOUNDED]``. At most
#: :data:`MAX_ITEMS` items (checked before any item is validated), and validation of the list
#: stops at its first invalid item (``fail_fast``). Why: a signed 1 MiB body holds ~350,000
#: ``{}``; unbounded, each became a model (~2 us, ~600 bytes) or one or two validation errors (an
#: open enum reports both union members), 8-11 s and ~2 GiB for one delivery. A list of anything
#: (``list[Any]``, ``dict[str, Any]``) needs no bound: it cannot fail and builds no model.
#: ``tests/test_hostile_bodies.py`` checks that every typed list and map carries it (or
#: :data:`BOUNDED_MAP`), sections' types included; ``bench/bench_hostile.py`` measures what hostile
#: bodies cost (docs/performance.md). On pydantic 2.7 the length cap alone bounds the work.
BOUNDED = _bound(pydantic_at_least(2, 8))

#: :data:`BOUNDED` for a typed JSON map: ``Annotated[dict[str, X] | None, BOUNDED_MAP]``. Before
#: pydantic 2.14 the length cap alone bounds the work (``fail_fast`` on a map made every model
#: holding one fail to build: a ``RuntimeError`` from the first delivery of its vendor).
BOUNDED_MAP = _bound(pydantic_at_least(2, 14))


class _Marker:
    """A named singleton: field metadata (:data:`PERSONAL`) or what ``repr()`` shows in place of
    a value (:data:`REDACTED`)."""

    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        self._text = text

    def __repr__(self) -> str:
        return self._text


#: Field metadata marking personal data: ``name: Annotated[str | None, PERSONAL] = None``.
PERSONAL = _Marker("PERSONAL")
#: What ``repr()`` shows instead of a personal value.
REDACTED = _Marker("<redacted>")


# ---- sections -----------------------------------------------------------------------------------
#
# Why: an iDenfy identification with AML and LID results is ~40 nested models; validating them is
# most of the cost of a delivery, and most handlers act on ``status``/``final`` and never read the
# hit lists. Such a section is two plain pydantic parts:
#
#     aml_results_raw: list[Any] | None = Field(default=None, alias="AML", repr=False)
#
#     @cached_property
#     def aml_results(self) -> "AmlResults":
#         # _aml_models(): the module of the section's models, imported on its first read (a
#         # functools.cache'd loader: a function-level import would cost every read ~1.3 us)
#         value: AmlResults = read_section(self, "aml_results", _aml_models().AmlResults)
#         return value
#
# The raw field holds the decoded JSON; pydantic-core checks its outer shape (array, object or
# null) with the body, so a section of the wrong shape is a 400 like any other field. The accessor
# validates it on first read, once: the typed value is cached in the instance ``__dict__``, which
# pydantic's ``==`` and ``hash()`` ignore (they compare fields). A section that does not validate
# raises PayloadError naming the field on every read, and is validated again by each (bounded by
# :data:`BOUNDED`); the receiver answers a delivery whose handler met one with 400. ``repr()`` does
# not show sections (``repr=False``) and dumps give back the raw JSON: neither validates.


def read_section(model: BaseModel, name: str, kind: Any) -> Any:
    """Section ``name`` of ``model`` -- its raw field ``<name>_raw`` -- validated as ``kind`` (a
    type or type alias, the accessor's return type), with a validator built once per type.

    ``None`` stays ``None``. A value that does not validate raises
    :class:`~kyc_webhooks.errors.PayloadError` naming the section and the wire path inside it,
    never values."""
    raw_name = name + "_raw"
    raw = getattr(model, raw_name)
    if raw is None:
        return None
    if raw is _TYPE_PROBE:  # section_type() asking
        return kind
    # The accessor's own validator: found by (class, section name), the type checked by identity
    # -- cheaper than hashing ``kind`` (a typing construct: ~0.4 us) for ``_section_adapter``.
    site = (type(model), name)
    found = _SITE_VALIDATORS.get(site)
    if found is not None and found[0] is kind:
        validator = found[1]
    else:  # first read here, or a caller that builds its type afresh for each read
        validator = _section_adapter(kind).validator
        _SITE_VALIDATORS[site] = (kind, validator)
    try:
        return validator.validate_python(raw, **WIRE_NAMES_ONLY)
    except ValidationError as exc:
        # Raised after the except block: a ValidationError's text quotes input values.
        alias = type(model).model_fields[raw_name].alias or raw_name
        message = (
            f"{type(model).__name__}.{name} failed validation "
            f"({describe_validation_error(exc, prefix=alias)})"
        )
    raise PayloadError(message)


@cache
def _section_adapter(kind: Any) -> TypeAdapter[Any]:
    # One per section type (a TypeAdapter built per call costs ~10x a cached one).
    return TypeAdapter(kind)


#: ``(model class, section name) -> (section type, its validator)``: one entry per accessor
#: (bounded by the code, whatever the traffic). The ``TypeAdapter``'s own ``validator`` is what its
#: ``validate_python`` calls, minus a Python frame and its argument checks (~0.3 us).
_SITE_VALIDATORS: dict[tuple[type[BaseModel], str], tuple[Any, Any]] = {}

_TYPE_PROBE = object()


@cache
def section_names(model: type[BaseModel]) -> tuple[str, ...]:
    """The sections of a model class, in declaration order: each ``functools.cached_property``
    ``<name>`` next to a field ``<name>_raw``."""
    names = (field[: -len("_raw")] for field in model.model_fields if field.endswith("_raw"))
    return tuple(
        name
        for name in names
        if isinstance(inspect.getattr_static(model, name, None), cached_property)
    )


def section_type(model: type[BaseModel], name: str) -> Any:
    """The type section ``name`` of ``model`` validates into (importing its module): what the
    accessor passes to :func:`read_section`, for tools (the documentation's field reference, the
    hostile-body benchmark) and :meth:`KycModel.prepare_sections`."""
    accessor = getattr(model, name)  # the cached_property itself
    raw: dict[str, Any] = {f"{name}_raw": _TYPE_PROBE}
    probe = model.model_construct(**raw)
    return accessor.func(probe)


#: Longest id kept in the readable part of a delivery key (vendor ids are UUIDs of 36 characters
#: or shorter).
MAX_KEY_PART = 64


def key_part(value: object) -> str:
    """``value`` as a readable part of a delivery key: a non-empty, printable ASCII string of at
    most :data:`MAX_KEY_PART` characters, else ``"-"``. Keys are logged and indexed by stores: an
    id that is long (a database index entry has a size limit), holds a line break (a forged log
    line) or is not ASCII is left out -- the digest of the body in every key identifies the
    delivery by itself."""
    if (
        isinstance(value, str)
        and 0 < len(value) <= MAX_KEY_PART
        and value.isascii()
        and value.isprintable()
    ):
        return value
    return "-"


def _holds_a_map(annotation: Any) -> bool:
    """Whether a field typed ``annotation`` holds a ``dict`` whose values are validated (also
    within ``X | None`` or ``Annotated``). ``dict[str, Any]`` -- a section's raw field, whose
    errors come from the section's own models, named by their fields -- is not one."""
    origin = typing.get_origin(annotation)
    if origin is dict or origin is Mapping:
        args = typing.get_args(annotation)
        return len(args) == 2 and args[1] is not Any
    if origin is Annotated:
        return _holds_a_map(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return any(_holds_a_map(arg) for arg in typing.get_args(annotation))
    return False


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
        # A number too large for a float (``1e400``) decodes as infinity: dumped back as
        # ``Infinity``, not ``null`` (``{"x": 1e400}`` and ``{"x": null}`` are different bodies).
        ser_json_inf_nan="constants",
    )

    #: Names of fields marked :data:`PERSONAL`, computed once per class.
    __personal_fields__: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls.__personal_fields__ = frozenset(
            name
            for name, info in cls.model_fields.items()
            if any(m is PERSONAL for m in info.metadata)
        )
        # Keys of map fields are the sender's text: validation errors never quote them.
        MAP_FIELDS.update(
            info.alias or name
            for name, info in cls.model_fields.items()
            if _holds_a_map(info.annotation)
        )

    def validate_sections(self) -> Self:
        """Validate every section now -- this model's and those of the models its fields hold
        (``data`` of an iDenfy identification) -- instead of on first read: one validation per
        section not read yet. Raises :class:`~kyc_webhooks.errors.PayloadError` naming the first
        invalid one; returns ``self``."""
        for name in section_names(type(self)):
            getattr(self, name)
        for name in type(self).model_fields:
            value = getattr(self, name, None)
            if isinstance(value, KycModel):
                value.validate_sections()
        return self

    def model_dump_json(self, *, indent: int | None = None, **options: Any) -> str:
        """pydantic's ``model_dump_json``, which also writes a string holding a lone surrogate.

        A body may hold one as an escape (``"\\ud83d"``: a string cut inside an emoji), and the
        event's ``str`` then holds the surrogate, which pydantic-core cannot encode
        (``PydanticSerializationError``). Such a model is written by :func:`json.dumps` from
        ``model_dump(mode="json", ...)`` with the same options, each surrogate as its escape
        (``\\ud83d``): the same JSON value, spaced as pydantic spaces it."""
        try:
            return super().model_dump_json(indent=indent, **options)
        except PydanticSerializationError as exc:
            if "surrogates not allowed" not in str(exc):
                raise
        ensure_ascii = bool(options.pop("ensure_ascii", False))  # pydantic 2.12 and later
        data = self.model_dump(mode="json", **options)
        separators = (",", ":") if indent is None else (",", ": ")
        text = json.dumps(data, ensure_ascii=ensure_ascii, indent=indent, separators=separators)
        # Only a surrogate is unencodable, and only inside a JSON string: backslashreplace
        # writes it as exactly its JSON escape (\uXXXX).
        return text.encode("utf-8", "backslashreplace").decode("utf-8")

    @deprecated("validate_lazy_fields() is deprecated: use validate_sections()")
    def validate_lazy_fields(self) -> Self:
        """Deprecated alias of :meth:`validate_sections`."""
        return self.validate_sections()

    @classmethod
    def prepare_sections(cls) -> None:
        """Import the modules of this model's sections and build their validators now -- and
        those of the models its fields can hold -- so that no first read pays for it. Part of
        ``Receiver.prepare()``."""
        for model in _model_classes(cls, set()):
            for name in section_names(model):
                _section_adapter(section_type(model, name))

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """pydantic's copy; with ``update``, the typed values of sections read so far are not
        carried over (``update`` may replace their raw fields: each is read afresh)."""
        copied = super().model_copy(update=update, deep=deep)
        if update:
            for name in section_names(type(self)):
                # What ``del`` does for a cached_property (pydantic >= 2.10 allows it on frozen
                # models; 2.7 refuses, hence object's own delete).
                with contextlib.suppress(AttributeError):  # not read yet
                    object.__delattr__(copied, name)
        return copied

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # Only the fields that were actually sent, personal ones masked; unknown (extra) fields may
        # hold anything, so their values are masked too and only their names are shown. Sections'
        # raw fields have ``repr=False``.
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


def _model_classes(annotation: Any, seen: set[int]) -> Iterator[type[KycModel]]:
    """The KycModel classes an annotation mentions, those its fields mention included."""
    if id(annotation) in seen:
        return
    seen.add(id(annotation))
    # ``typing.get_origin`` first: on Python 3.10 ``list[X]`` is an instance of ``type`` too,
    # and issubclass() refuses it (prepare() raised TypeError there).
    if (
        typing.get_origin(annotation) is None
        and isinstance(annotation, type)
        and issubclass(annotation, KycModel)
    ):
        yield annotation
        for info in annotation.model_fields.values():
            yield from _model_classes(info.annotation, seen)
        return
    for arg in typing.get_args(annotation):
        yield from _model_classes(arg, seen)


WireValue: TypeAlias = str | int | float

#: A JSON number kept as sent: an ``int`` stays ``int``, a ``float`` stays ``float``. Every numeric
#: wire field is typed with it, even one its vendor documents as an integer: ``int`` alone would
#: validate ``34.0`` as ``34``, and the dump would no longer be the JSON that was sent (module
#: docstring, "Lossless rule"), and would refuse ``34.5``. Strict: another JSON type is a 400
#: naming the field, as for every declared field -- lax validation turned ``"12.50"`` into
#: ``12.5``, ``"12345678901234567.89"`` into a float that lost its digits, and ``true`` into ``1``.
Number: TypeAlias = Annotated[int, Strict()] | Annotated[float, Strict()]

#: A JSON boolean kept as sent: only ``true`` and ``false``. Lax validation read ``"false"``,
#: ``"no"`` and ``0`` as ``False`` and ``1`` as ``True``, so that the dump was no longer the JSON
#: that was sent; another JSON type is a 400 naming the field. Every boolean wire field is typed
#: with it.
Flag: TypeAlias = Annotated[bool, Strict()]

_UTC = timezone.utc
_from_epoch = datetime.fromtimestamp


@lru_cache(maxsize=1)
def _datetime_adapter() -> Any:
    return TypeAdapter(datetime)


#: A number written as text (``"1700000000"``, ``"-1.5e3"``), which is not a date-time.
_NUMBER_TEXT = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


class Timestamp(datetime):
    """An aware :class:`~datetime.datetime` that remembers the vendor's wire form.

    Accepts epoch seconds (``int`` or ``float`` -- iDenfy sent floats with microseconds in 2019) and
    ISO-8601 strings (``Z`` or offsets, ``T`` or space separator). A naive value is taken as UTC,
    the zone every vendor documents. ``wire`` holds the original value, and JSON serialisation
    gives it back unchanged, so round-trips are byte-faithful.
    """

    __slots__ = ("wire",)

    wire: WireValue

    @classmethod
    def from_wire(cls, value: object) -> "Timestamp":
        kind = type(value)
        if kind is int or kind is float:  # epoch seconds: the common case, checked first
            out = cls._from_epoch(value)  # type: ignore[arg-type]
        elif kind is str:
            out = cls._parse_iso(value)  # type: ignore[arg-type]
        elif isinstance(value, Timestamp):
            return value
        elif isinstance(value, bool):
            raise ValueError("timestamp must be a number or an ISO-8601 string")
        elif isinstance(value, (int, float)):
            out = cls._from_epoch(value)
        elif isinstance(value, str):
            out = cls._parse_iso(value)
        elif isinstance(value, datetime):
            out = cls._from_datetime(value)
            out.wire = out.isoformat()
            return out
        else:
            raise ValueError("timestamp must be a number or an ISO-8601 string")
        out.wire = value  # type: ignore[assignment]
        return out

    @classmethod
    def _from_epoch(cls, seconds: float) -> "Timestamp":
        # ``datetime.fromtimestamp`` then the constructor: ``cls.fromtimestamp`` on a subclass
        # goes through ``tzinfo.fromutc`` and builds the object twice. With the type checks first
        # in from_wire and ``__slots__``: 0.8 us an epoch int instead of 1.3 (Python 3.11).
        try:
            utc = _from_epoch(seconds, _UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise ValueError("timestamp out of range") from exc
        return cls(
            utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond, _UTC
        )

    @classmethod
    def _from_datetime(cls, value: datetime) -> "Timestamp":
        tz = value.tzinfo if value.tzinfo is not None else _UTC
        return cls(
            value.year,
            value.month,
            value.day,
            value.hour,
            value.minute,
            value.second,
            value.microsecond,
            tz,
            fold=value.fold,
        )

    @classmethod
    def _parse_iso(cls, text: str) -> "Timestamp":
        try:
            # On the subclass, ``fromisoformat`` builds a Timestamp directly. Python >= 3.11
            # reads every form the vendors send (``Z`` included).
            out = cls.fromisoformat(text)
        except ValueError:
            out = cls._parse_iso_fallback(text)
        return out if out.tzinfo is not None else out.replace(tzinfo=_UTC)

    @classmethod
    def _parse_iso_fallback(cls, text: str) -> "Timestamp":
        # Python 3.10's fromisoformat refuses ``Z`` and most of ISO 8601; pydantic's parser
        # reads the rest. What neither reads is a 400.
        try:
            return cls.fromisoformat(text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text)
        except ValueError:
            pass
        if _NUMBER_TEXT.fullmatch(text):
            # pydantic's parser reads a number in a string as epoch seconds -- or, above 2e10,
            # as milliseconds: "1700000000000" was 2023, the same JSON number a 400 (review R41).
            # No vendor sends one; one value never means two scales here.
            raise ValueError("timestamp is a number in a string, not an ISO-8601 date-time")
        try:
            parsed: datetime = _datetime_adapter().validate_python(text)
        except Exception as exc:
            raise ValueError("timestamp is not a valid ISO-8601 date-time") from exc
        return cls._from_datetime(parsed)

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        # A Timestamp made by arithmetic or ``replace()`` has no wire form: its ISO text stands in.
        wire = getattr(self, "wire", None)
        return (type(self).from_wire, (self.isoformat() if wire is None else wire,))

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


@cache
def _module(name: str) -> types.ModuleType:
    """Module ``name``, imported once (an import statement costs every call ~1 us)."""
    return importlib.import_module(name)


class _Delivery(NamedTuple):
    """What the vendor knows of a delivery beyond the body's fields (:meth:`WebhookEvent.bind`)."""

    vendor: str
    event_type: str
    raw: bytes


#: The metadata of an event that no vendor has bound (built by hand, e.g. ``model_validate``).
_UNBOUND = _Delivery("", "", b"")


class WebhookEvent(KycModel):
    """Base of every parsed delivery.

    ``vendor`` and ``event_type`` are set by the vendor that parsed the body (the event type comes
    from a header for some vendors, so it is not always a field). ``delivery_key`` is identical for
    redeliveries of the same event and different for different events; vendors override
    :meth:`_delivery_key` where the body carries a real event id.
    """

    # Set once, by :meth:`bind`, when the vendor has parsed the body: a pydantic private
    # attribute, so it never reaches ``model_dump()`` or the JSON schema, and it travels with
    # ``copy``/``pickle`` and counts in ``==`` (same delivery, same metadata). One attribute rather
    # than three: each private attribute costs every validation ~0.8 us in pydantic's
    # ``init_private_attributes``. The properties read pydantic's documented store of private
    # values, ``__pydantic_private__``, directly: ``self._delivery`` would first miss the normal
    # lookup and then go through ``BaseModel.__getattr__`` (~1.7 us a read, several a delivery).
    _delivery: _Delivery = PrivateAttr()

    @property
    def vendor(self) -> str:
        """Vendor name: ``"idenfy"``, ``"complycube"``, ``"yoti"`` or ``"identomat"``."""
        return self._metadata().vendor

    @property
    def event_type(self) -> str:
        """The vendor's own event-type string, e.g. ``"IDENTIFICATION_AUTO_FINISHED"``."""
        return self._metadata().event_type

    @property
    def raw_body(self) -> bytes:
        """The exact bytes that were authenticated and parsed."""
        return self._metadata().raw

    def _metadata(self) -> _Delivery:
        values = self.__pydantic_private__
        found: _Delivery = _UNBOUND if values is None else values.get("_delivery", _UNBOUND)
        return found

    @property
    def delivery_key(self) -> str:
        """Stable key for deduplication (see the vendor's ``_delivery_key``)."""
        return self._delivery_key()

    #: The module of the vendor's decision rules (``decide(event)``), ``<vendor>/_decisions.py``:
    #: named by each vendor's event base class (this module knows no vendor) and imported on the
    #: first ``event.decision``. An event of no vendor carries no verdict.
    __decision_rules__: ClassVar[str | None] = None

    @property
    def decision(self) -> "Decision | None":
        """The verdict this event carries on one cross-vendor scale, or ``None`` for events that
        carry none (documents, addresses, OTP requests, unknown event types). See
        :mod:`kyc_webhooks.decisions` and docs/decisions.md."""
        rules = type(self).__decision_rules__
        if rules is None:
            return None
        decision: Decision | None = _module(rules).decide(self)
        return decision

    def _delivery_key(self) -> str:
        # Default for vendors without an event id: vendor + event type + SHA-256 of the raw body.
        # Retries resend the same bytes, so they share the key; different events differ somewhere.
        return f"{self.vendor}:{self.event_type}:{self.body_digest()}"

    def body_digest(self) -> str:
        """Hex SHA-256 of the raw body (first 32 hex digits: 128 bits, ample against collisions)."""
        return hashlib.sha256(self.raw_body).hexdigest()[:32]

    def bind(self, *, vendor: str, event_type: str, raw: bytes) -> Self:
        """Attach delivery metadata; called once by the vendor right after validation."""
        self._delivery = _Delivery(vendor, event_type, raw)
        return self

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        yield "vendor", self.vendor
        yield "event_type", self.event_type
        yield from super().__repr_args__()


class UnknownEvent(WebhookEvent):
    """An event type this library does not model (yet). The whole body is kept as extra fields
    (``model_extra``/:attr:`payload`) and it reaches catch-all handlers."""

    @property
    def payload(self) -> dict[str, Any]:
        """The body as a ``dict`` (a copy)."""
        return dict(self.__pydantic_extra__ or {})


EventT = TypeVar("EventT", bound=WebhookEvent)

#: What pydantic-core reports when the discriminator field is absent or holds no listed value.
_TAG_MISSES = frozenset({"union_tag_invalid", "union_tag_not_found"})


class EventModels(Generic[EventT]):
    """The one way every vendor chooses the model for a body: a tagged union over its
    ``EVENT_MODELS``, discriminated by the value of one body field.

    ``models`` maps each wire value of ``field`` (``"type"``, ``"topic"``) to its model. While it
    parses the bytes, pydantic-core reads ``field``, looks its value up in ``models`` and validates
    the chosen model: one pass, no Python call per delivery. A body whose ``field`` is missing or
    holds a value ``models`` does not list goes to ``fallback(decoded body)``, the vendor's rule for
    values it does not list (another spelling, an open family); ``None`` from it -- or no
    ``fallback`` -- selects ``unknown``. Those bodies are validated again with that model.

    :meth:`validate` raises :class:`~kyc_webhooks.errors.PayloadError` only; its locations start
    with the chosen tag (``check.completed.clear.payload.status``). The ``TypeAdapter`` is built on
    the first call."""

    def __init__(
        self,
        models: Mapping[str, type[EventT]],
        unknown: type[EventT],
        *,
        field: str,
        fallback: Callable[[dict[str, Any]], type[EventT] | None] | None = None,
    ) -> None:
        self.models = dict(models)
        self.unknown = unknown
        self.field = field
        self.fallback = fallback

    @cached_property
    def adapter(self) -> TypeAdapter[Any]:
        """The tagged union (``core_schema.tagged_union_schema`` keyed by the wire values)."""
        models, field = self.models, self.field

        class TaggedUnion:
            @classmethod
            def __get_pydantic_core_schema__(
                cls, source: Any, handler: GetCoreSchemaHandler
            ) -> CoreSchema:
                choices: dict[Any, CoreSchema] = {
                    tag: handler.generate_schema(model) for tag, model in models.items()
                }
                return core_schema.tagged_union_schema(choices, discriminator=field)

        return TypeAdapter(TaggedUnion)

    def validate(self, body: bytes, *, what: str) -> EventT:
        """The event ``body`` holds, validated with the model its ``field`` chooses."""
        check_object_count(body, what=what)
        try:
            # The adapter's validator itself (what ``TypeAdapter.validate_json`` calls, minus its
            # argument checks: ~0.3 us a delivery), through validate_body, which also reads a
            # body pydantic-core refuses only for an escaped lone surrogate.
            event: EventT = validate_body(self.adapter.validator, body)
        except ValidationError as exc:
            # errors() builds every error at once: only asked of a single-error failure.
            missed = (
                exc.error_count() == 1
                and exc.errors(include_url=False, include_input=False)[0]["type"] in _TAG_MISSES
            )
            error = None if missed else payload_error(exc, what=what)
        except VALIDATION_ERRORS as exc:
            error = payload_error(exc, what=what)
        else:
            # The model must be the one its own tag names. They differ only when the body holds
            # the field twice and the union read another copy than the model's field (pydantic
            # 2.7's union reads the last copy where it finds a listed value, the field the first).
            tag = getattr(event, self.field, None)
            wire = tag.value if isinstance(tag, enum.Enum) else tag
            if isinstance(wire, str) and self.models.get(wire) is type(event):
                return event
            error = PayloadError(f"{what} body has {self.field!r} more than once")
        if error is not None:
            raise error  # outside the except block: no ValidationError (values) as __context__
        decoded = decode_json(body)  # a JSON object: the union found it and read its field
        tag = decoded.get(self.field) if isinstance(decoded, dict) else None
        if isinstance(tag, str) and tag in self.models:
            # The union read another value of the same field: the body holds it twice, and
            # readers disagree on which copy counts (pydantic 2.7's union reads the first).
            raise PayloadError(f"{what} body has {self.field!r} more than once")
        model = self.fallback(decoded) if self.fallback and isinstance(decoded, dict) else None
        chosen: EventT = validate_json(model or self.unknown, body, what=what)
        return chosen
