"""Model conventions shared by every vendor package.

* :class:`KycModel` -- frozen pydantic v2 base: snake_case attributes with the vendor's wire
  names as aliases, unknown fields kept (``extra="allow"``), schemas built lazily on first use
  (``defer_build``) so that importing a vendor costs little.
* :data:`OPEN` -- metadata that turns ``Union[SomeEnum, str]`` into an *open enum*: a known value
  becomes the enum member, an unknown one stays a plain ``str`` and never fails validation.
* :data:`BOUNDED` -- metadata for every typed JSON list or map: at most :data:`MAX_ITEMS` items,
  and validation stops at the first invalid one, so that no body costs more than a few ms.
* :data:`PERSONAL` -- metadata marking a field as personal data; ``repr()``/``str()`` show it as
  ``<redacted>`` while the attribute keeps the real value for handlers.
* :data:`LAZY` -- metadata for a bulky, optional section (iDenfy's AML and LID hit lists) that is
  decoded with the body but validated into its models on first attribute access (see
  :class:`KycModel`, "Lazy sections").
* :class:`Timestamp` -- an aware ``datetime`` that remembers the vendor's wire form (epoch int or
  float, or an ISO string) and serialises back to exactly that form.
* :class:`WebhookEvent` -- base of every parsed event: ``vendor``, ``event_type``, ``delivery_key``.
* :class:`UnknownEvent` -- an event type we do not know yet; keeps the whole body.

Lossless rule: ``event.model_dump(mode="json", by_alias=True, exclude_unset=True)`` equals the JSON
the vendor sent.
"""

import enum
import hashlib
import importlib
import inspect
import threading
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from functools import cached_property, lru_cache
from typing import Annotated, Any, ClassVar, Generic, NamedTuple, TypeAlias, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema, from_json
from typing_extensions import Self

from ._validation import (
    VALIDATION_ERRORS,
    check_object_count,
    describe_validation_error,
    payload_error,
    validate_json,
)
from .errors import PayloadError

if typing.TYPE_CHECKING:
    from .decisions import Decision

__all__ = [
    "BOUNDED",
    "LAZY",
    "MAX_ITEMS",
    "OPEN",
    "PERSONAL",
    "REDACTED",
    "KycModel",
    "LazyTimestamp",
    "Timestamp",
    "UnknownEvent",
    "WebhookEvent",
    "WireEnum",
    "deferred",
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

#: Field metadata for every typed JSON list or map: ``Annotated[list[X] | None, BOUNDED]``. At
#: most :data:`MAX_ITEMS` items (checked before any item is validated), and validation of the
#: list stops at its first invalid item (``fail_fast``). Why: a signed 1 MiB body holds ~350,000
#: ``{}``; unbounded, each became a model (~2 us, ~600 bytes) or one or two validation errors (an
#: open enum reports both union members), 8-11 s and ~2 GiB for one delivery. A list of anything
#: (``list[Any]``, ``dict[str, Any]``) needs no bound: it cannot fail and builds no model.
#: ``tests/test_hostile_bodies.py`` checks that every typed list and map carries it;
#: ``bench/bench_hostile.py`` measures what hostile bodies cost (docs/performance.md).
BOUNDED = (
    Field(max_length=MAX_ITEMS, fail_fast=True)
    # ``fail_fast`` arrived in pydantic 2.8; on 2.7 the length cap alone bounds the work.
    if "fail_fast" in inspect.signature(Field).parameters
    else Field(max_length=MAX_ITEMS)
)


class _Marker:
    """A named singleton: field metadata (:data:`PERSONAL`) or what ``repr()`` shows in place of
    a value (:data:`REDACTED`, :data:`INVALID`)."""

    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        self._text = text

    def __repr__(self) -> str:
        return self._text


#: Field metadata marking personal data: ``name: Annotated[str | None, PERSONAL] = None``.
PERSONAL = _Marker("PERSONAL")
#: What ``repr()`` shows instead of a personal value.
REDACTED = _Marker("<redacted>")
#: What ``repr()`` shows for a lazy section that does not validate.
INVALID = _Marker("<invalid: fails validation>")


# ---- lazy sections -----------------------------------------------------------------------------
#
# Why: an iDenfy identification with AML and LID results is ~40 nested models; validating them is
# most of the cost of a delivery, and most handlers act on ``status``/``final`` and never read the
# hit lists. A LAZY field is decoded with the body (inside pydantic-core, and checked to be a list
# or an object, or null) but validated into its typed models on first attribute access, once.
# What users see: the same attribute, the same type (mypy sees the real annotation), the same
# ``model_dump()``; a malformed section raises PayloadError when it is read (or when
# ``validate_lazy_fields()`` is called) instead of turning the whole delivery into a 400.


class _Deferred:
    """Runtime stand-in for a lazy section's type that lives in a module not imported yet (see
    :func:`deferred`). Callable only so that ``typing.Annotated`` accepts it."""

    __slots__ = ("shape", "target")

    def __init__(self, target: str, shape: type | None) -> None:
        self.target = target
        self.shape = shape

    def resolve(self) -> Any:
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"{self!r} is a type placeholder, not a callable")

    def __repr__(self) -> str:
        return f"deferred({self.target!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Deferred) and other.target == self.target

    def __hash__(self) -> int:
        return hash(self.target)


def deferred(target: str, shape: type | None) -> Any:
    """The runtime value of a lazy section's type alias defined in another module, so that the
    module (and its model classes) is imported only when the section is first read::

        if TYPE_CHECKING:
            from ._aml import AmlResults            # list[AmlCheckResult] | None, for mypy
        else:
            AmlResults = deferred("kyc_webhooks.idenfy._aml:AmlResults", list)

        aml_results: Annotated[AmlResults, LAZY] = Field(default=None, alias="AML")

    ``shape`` (``list``, ``dict`` for an object/model, or ``None`` for anything) is what the body
    is checked for eagerly; tests check it against the resolved type."""
    return _Deferred(target, shape)


class _LazyType:
    """The validator of one lazy field's real type, built on first use and shared per type."""

    __slots__ = ("_adapter", "_lock", "annotation")

    _cache: ClassVar[dict[Any, "_LazyType"]] = {}

    def __init__(self, annotation: Any) -> None:
        self.annotation = annotation
        self._adapter: Any = None
        self._lock = threading.Lock()

    @classmethod
    def of(cls, annotation: Any) -> "_LazyType":
        found = cls._cache.get(annotation)
        if found is None:
            found = cls._cache.setdefault(annotation, cls(annotation))
        return found

    @property
    def resolved(self) -> Any:
        """The real type (a deferred one imported now)."""
        annotation = self.annotation
        return annotation.resolve() if isinstance(annotation, _Deferred) else annotation

    @property
    def adapter(self) -> Any:
        adapter = self._adapter
        if adapter is None:
            with self._lock:
                if self._adapter is None:
                    from pydantic import TypeAdapter

                    self._adapter = TypeAdapter(self.resolved)
                adapter = self._adapter
        return adapter

    def validate(self, raw: Any, *, where: str, alias: str) -> Any:
        """The typed value of ``raw``; :class:`PayloadError` naming fields only (never values)."""
        if raw is None:
            return None
        message = ""
        try:
            return self.adapter.validate_python(raw)
        except ValidationError as exc:
            # Raised after the except block: ValidationError text quotes input values.
            message = f"{where} failed validation ({describe_validation_error(exc, prefix=alias)})"
        raise PayloadError(message)

    def json_schema(self, schema: CoreSchema, handler: Any) -> JsonSchemaValue:
        result: JsonSchemaValue = handler(self.adapter.core_schema)
        return result

    def serialize(self, model: Any, raw: Any, info: core_schema.FieldSerializationInfo) -> Any:
        # A field serializer: pydantic-core passes the model being dumped, so the section's typed
        # value (or its failure) cached by an attribute read is reused, and cached here in turn.
        if raw is None:
            return None
        attribute = getattr(type(model), "__lazy_attributes__", {}).get(info.field_name)
        try:
            if attribute is not None and model.__dict__.get(attribute.name) is raw:
                value = attribute.read(model)
            else:  # not reached through a KycModel field: nothing to cache on
                value = self.validate(raw, where="lazy field", alias="")
        except PayloadError:
            # Dumping never fails. A section that does not validate is given back as received (in
            # JSON mode that is exactly the wire value) -- unless the caller filters inside it:
            # a filter cannot be applied to untyped data, and whatever it was meant to leave out
            # (personal data, say) must not come out, so the section is withheld.
            if info.include is not None or info.exclude is not None:
                return None
            return raw
        return self.adapter.dump_python(
            value,
            include=info.include,
            exclude=info.exclude,
            mode=info.mode,
            by_alias=bool(info.by_alias),
            exclude_unset=info.exclude_unset,
            exclude_defaults=info.exclude_defaults,
            exclude_none=info.exclude_none,
            round_trip=info.round_trip,
        )


def _shape_schema(annotation: Any) -> CoreSchema:
    """What a lazy field checks eagerly in JSON: its outer shape (list / object / null, or a type's
    own ``__lazy_shape__``), all inside pydantic-core. The rest waits for the typed validation.
    Python input (``Model(field=...)``, ``model_validate``) is kept as given until first read."""
    if isinstance(annotation, _Deferred):
        inner = (
            core_schema.any_schema()
            if annotation.shape is None
            else _shape_schema(annotation.shape)
        )
        return core_schema.nullable_schema(inner)
    shape = getattr(annotation, "__lazy_shape__", None)
    if shape is not None:
        return shape()  # type: ignore[no-any-return]
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _shape_schema(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        shapes = {_shape_schema(m)["type"] for m in members}
        inner = _shape_schema(members[0]) if len(shapes) == 1 else core_schema.any_schema()
        if len(members) < len(typing.get_args(annotation)):
            return core_schema.nullable_schema(inner)
        return inner
    if origin is list or annotation is list:
        return core_schema.list_schema(core_schema.any_schema())
    if (
        origin is dict
        or annotation is dict
        or (isinstance(annotation, type) and issubclass(annotation, BaseModel))
    ):
        return core_schema.dict_schema(core_schema.any_schema(), core_schema.any_schema())
    return core_schema.any_schema()


class _Lazy:
    """Marker type for :data:`LAZY`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "LAZY"

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        # The inner handler is not called: the real type's schema (and its models') is built only
        # when the field is first read.
        kind = _LazyType.of(source)
        return core_schema.json_or_python_schema(
            json_schema=_shape_schema(source),
            python_schema=core_schema.any_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(
                kind.serialize, is_field_serializer=True, info_arg=True
            ),
            # JSON schema: the real type's (the contract), not the shape checked at parse time.
            metadata={"pydantic_js_functions": [kind.json_schema]},
        )


#: Field metadata: ``aml: Annotated[list[AmlCheckResult] | None, LAZY] = None`` -- the section is
#: validated into its models on first access (see "lazy sections" above).
LAZY = _Lazy()


_CACHED = object()


class _LazyAttribute:
    """Data descriptor installed on the model class for each LAZY field: reads the decoded value
    that pydantic stored in ``__dict__``, validates it once, and caches the outcome next to it --
    the typed value, or the failure's message, so that a section that does not validate is not
    validated again by every read, ``repr()`` or ``model_dump()``. The cache is keyed by the
    identity of the decoded value, so ``model_copy(update=...)`` is honoured."""

    __slots__ = ("alias", "cache_key", "kind", "name")

    def __init__(self, name: str, alias: str, kind: _LazyType) -> None:
        self.name = name
        self.alias = alias
        self.kind = kind
        self.cache_key = f"_lazy_{name}"

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:  # like pydantic fields: not a class attribute
            raise AttributeError(self.name)
        return self.read(obj)

    def read(self, obj: Any) -> Any:
        """The typed value, validated on the first read (attribute, ``repr()``, dump) and cached
        with its outcome; :class:`PayloadError` every time for a section that does not validate."""
        values = obj.__dict__
        raw = values[self.name]
        cached = values.get(self.cache_key)
        if cached is None or cached[0] is not raw:
            cached = self._outcome(obj, raw)
            values[self.cache_key] = cached
        if cached[2]:
            raise PayloadError(cached[2])  # a new error each time: no traceback piles up
        return cached[1]

    def peek(self, obj: Any) -> Any:
        """The typed value without storing anything (comparisons): the cached outcome when there
        is one, else a validation whose result is not kept."""
        values = obj.__dict__
        raw = values[self.name]
        cached = values.get(self.cache_key)
        if cached is None or cached[0] is not raw:
            cached = self._outcome(obj, raw)
        if cached[2]:
            raise PayloadError(cached[2])
        return cached[1]

    def _outcome(self, obj: Any, raw: Any) -> tuple[Any, Any, str]:
        """``(raw, typed value, "")`` or ``(raw, None, error message)``."""
        where = f"{type(obj).__name__}.{self.name}"
        try:
            return raw, self.kind.validate(raw, where=where, alias=self.alias), ""
        except PayloadError as exc:
            return raw, None, str(exc)

    def __set__(self, obj: Any, value: Any) -> None:
        # Reached only through object.__setattr__ (pydantic's frozen check runs first otherwise).
        obj.__dict__[self.name] = value


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
    #: Names of fields marked :data:`LAZY`, computed once per class.
    __lazy_fields__: ClassVar[frozenset[str]] = frozenset()
    #: The descriptor of each LAZY field (its ``kind`` validates the real type).
    __lazy_attributes__: ClassVar[dict[str, _LazyAttribute]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        fields = cls.model_fields
        cls.__personal_fields__ = frozenset(
            name for name, info in fields.items() if any(m is PERSONAL for m in info.metadata)
        )
        attributes: dict[str, _LazyAttribute] = {}
        inherited = {n for base in cls.__mro__[1:] for n in getattr(base, "__lazy_fields__", ())}
        for name, info in fields.items():
            if any(meta is LAZY for meta in info.metadata):
                others = [m for m in info.metadata if m is not LAZY and m is not PERSONAL]
                if info.discriminator is not None:
                    others.append(f"discriminator={info.discriminator!r}")
                if info.validate_default:
                    others.append("validate_default=True")
                if others:
                    # The validator is built from the bare type: constraints or OPEN next to LAZY
                    # would be silently dropped. They belong inside the type.
                    raise TypeError(
                        f"{cls.__name__}.{name}: LAZY takes no other metadata or constraints "
                        f"({others!r}); put them on the inner type"
                    )
                attribute = _LazyAttribute(name, info.alias or name, _LazyType.of(info.annotation))
                attributes[name] = attribute
                setattr(cls, name, attribute)
            elif name in inherited:
                # The parent's descriptor would keep intercepting reads of the eager value.
                raise TypeError(f"{cls.__name__}.{name} redeclares a LAZY field without LAZY")
        cls.__lazy_fields__ = frozenset(attributes)
        cls.__lazy_attributes__ = attributes

    @classmethod
    def prepare_lazy_fields(cls) -> None:
        """Build the validators of this model's :data:`LAZY` sections (and of the models inside
        them) now, so that no first read pays for it. Part of ``Receiver.prepare()``."""
        _prepare_lazy(cls, set())

    def __eq__(self, other: object) -> bool:
        # pydantic compares the stored values; a lazy field stores the raw JSON until it is read,
        # so models with lazy fields compare typed values -- validating only where the stored
        # values differ (equal raw input validates to equal values).
        if self is other:
            return True
        cls = type(self)
        if not cls.__lazy_fields__ or type(other) is not cls:
            return super().__eq__(other)
        assert isinstance(other, KycModel)
        if self.__pydantic_extra__ != other.__pydantic_extra__:
            return False
        mine, theirs = self.__dict__, other.__dict__
        attributes = cls.__lazy_attributes__
        for name in cls.model_fields:
            a, b = mine.get(name, _MISSING), theirs.get(name, _MISSING)
            if a == b:
                continue
            attribute = attributes.get(name)
            if attribute is None or _typed(self, attribute) != _typed(other, attribute):
                return False
        return True

    def __hash__(self) -> int:
        # Frozen models hash their field values (as pydantic's default does), lazy ones typed.
        attributes = type(self).__lazy_attributes__
        values = self.__dict__
        return hash(
            tuple(
                _typed(self, attributes[name]) if name in attributes else values.get(name, _MISSING)
                for name in type(self).model_fields
            )
        )

    # The first read of a lazy section adds its typed value to ``__dict__`` (like
    # functools.cached_property). Pickling and deep-copying iterate ``__dict__`` in Python, so they
    # work on a snapshot (dict.copy() is atomic): another thread's first read cannot break them.

    def __getstate__(self) -> dict[Any, Any]:
        state = super().__getstate__()
        state["__dict__"] = dict(state["__dict__"])
        return state

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        return BaseModel.__deepcopy__(self.__copy__(), memo)

    def validate_lazy_fields(self) -> Self:
        """Validate every :data:`LAZY` section now -- this model's and those of every model inside
        it, eager fields included -- instead of on first access. Raises
        :class:`~kyc_webhooks.errors.PayloadError` naming the first invalid field; returns
        ``self``."""
        for name in type(self).model_fields:
            _validate_lazy_in(getattr(self, name))
        return self

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # Only the fields that were actually sent, personal ones masked; unknown (extra) fields may
        # hold anything, so their values are masked too and only their names are shown.
        personal = type(self).__personal_fields__
        fields_set = self.model_fields_set
        lazy = type(self).__lazy_fields__
        for name, info in type(self).model_fields.items():
            if name not in fields_set or not info.repr:
                continue
            if name in lazy:
                # Validated (once: the outcome is cached as by an attribute read) for display.
                try:
                    value = type(self).__lazy_attributes__[name].read(self)
                except PayloadError:
                    yield name, INVALID
                    continue
            else:
                value = getattr(self, name)
            yield name, (REDACTED if name in personal and value is not None else value)
        extra = self.__pydantic_extra__
        if extra:
            for key, value in extra.items():
                yield key, (REDACTED if value is not None else None)


def _prepare_lazy(annotation: Any, seen: set[type]) -> None:
    """Build the lazy-section validators of every model ``annotation`` mentions (a model class,
    or a section's real type), recursing into the types of those sections."""
    for model in _model_classes(annotation, set()):
        if model in seen:
            continue
        seen.add(model)
        for attribute in model.__lazy_attributes__.values():
            _ = attribute.kind.adapter  # builds it (and imports a deferred type's module)
            _prepare_lazy(attribute.kind.resolved, seen)


def _model_classes(annotation: Any, seen: set[int]) -> Iterator[type[KycModel]]:
    """The KycModel classes an annotation mentions, fields of those models included."""
    if id(annotation) in seen:
        return
    seen.add(id(annotation))
    if isinstance(annotation, type) and issubclass(annotation, KycModel):
        yield annotation
        for info in annotation.model_fields.values():
            yield from _model_classes(info.annotation, seen)
        return
    for arg in typing.get_args(annotation):
        yield from _model_classes(arg, seen)


_MISSING = object()


class _Unvalidated:
    """A lazy field's raw value that does not validate, as ``==`` and ``hash()`` see it: equal
    only to the same raw value that did not validate either."""

    __slots__ = ("raw",)

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Unvalidated) and self.raw == other.raw

    def __hash__(self) -> int:
        return hash(self.raw)


def _typed(obj: KycModel, attribute: _LazyAttribute) -> Any:
    """A lazy field's typed value for comparisons, without storing it on the instance."""
    if attribute.name not in obj.__dict__:  # model_construct() without a required field
        return _MISSING
    try:
        return attribute.peek(obj)
    except PayloadError:
        return _Unvalidated(obj.__dict__[attribute.name])


def _validate_lazy_in(value: Any) -> None:
    if isinstance(value, KycModel):
        value.validate_lazy_fields()
    elif isinstance(value, (list, tuple)):
        for item in value:
            _validate_lazy_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            _validate_lazy_in(item)


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
    def from_wire(cls, value: object) -> "Timestamp":
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
    def _from_datetime(cls, value: datetime) -> "Timestamp":
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
    def _parse_iso(cls, text: str) -> "Timestamp":
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
    def __lazy_shape__(cls) -> CoreSchema:
        """The parse-time part of a :data:`LazyTimestamp` field. A JSON number (epoch seconds) in
        ``datetime``'s range is checked inside pydantic-core and converted on first read -- the
        common case (iDenfy), and the costly one: a Python call per value. Anything else (an
        ISO-8601 string: ComplyCube) is converted now by :meth:`from_wire`, so exactly the values
        an eager field accepted are accepted, and the others are still a 400."""
        return core_schema.union_schema(
            [
                core_schema.int_schema(strict=True, ge=_EPOCH_MIN, le=_EPOCH_MAX),
                core_schema.float_schema(strict=True, ge=_EPOCH_MIN, le=_EPOCH_MAX),
                core_schema.no_info_plain_validator_function(cls.from_wire),
            ],
            mode="left_to_right",
            custom_error_type="timestamp_type",
            custom_error_message="timestamp must be a number or an ISO-8601 string",
        )

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


#: Epoch seconds of 0001-01-01 and 9999-12-31T23:59:59 UTC, the range of ``datetime``.
_EPOCH_MIN = -62135596800
_EPOCH_MAX = 253402300799

#: The annotation of every timestamp field: a :class:`Timestamp` (or ``None``); epoch numbers are
#: converted on first read (:data:`LAZY`, :meth:`Timestamp.__lazy_shape__`) -- converting to a
#: ``datetime`` subclass is a Python call per value, the most expensive step of parsing an iDenfy
#: identification before it was deferred.
LazyTimestamp: TypeAlias = Annotated[Timestamp | None, LAZY]


def _serialize_timestamp(value: datetime) -> WireValue:
    wire = getattr(value, "wire", None)
    return wire if wire is not None else value.isoformat()


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

    @property
    def decision(self) -> "Decision | None":
        """The verdict this event carries on one cross-vendor scale, or ``None`` for events that
        carry none (documents, addresses, OTP requests, unknown event types). See
        :mod:`kyc_webhooks.decisions` and docs/decisions.md."""
        from .decisions import decide

        return decide(self)

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
            event: EventT = self.adapter.validate_json(body)
            return event
        except ValidationError as exc:
            # errors() builds every error at once: only asked of a single-error failure.
            missed = (
                exc.error_count() == 1
                and exc.errors(include_url=False, include_input=False)[0]["type"] in _TAG_MISSES
            )
            error = None if missed else payload_error(exc, what=what)
        except VALIDATION_ERRORS as exc:
            error = payload_error(exc, what=what)
        if error is not None:
            raise error  # outside the except block: no ValidationError (values) as __context__
        decoded = from_json(body)  # a JSON object: the union found it and read its field
        model = self.fallback(decoded) if self.fallback and isinstance(decoded, dict) else None
        chosen: EventT = validate_json(model or self.unknown, body, what=what)
        return chosen
