"""Turning pydantic validation failures into safe :class:`~kyc_webhooks.errors.PayloadError`\\ s.

At the bottom of the package's import graph: it imports only :mod:`kyc_webhooks.errors` and
pydantic, so every other module (the vendor registry, the model conventions, each vendor's models)
can use it without an import cycle (``tests/test_import_graph.py`` checks).

Two rules:

* Messages name field locations and error kinds, never input values (personal data): pydantic's
  own ``ValidationError`` text quotes the input, so the ``PayloadError`` is raised *outside* the
  ``except`` block and never has the ``ValidationError`` as ``__context__``.
* The work is bounded whatever the body (a signed 1 MiB body once cost 8-11 s and ~2 GiB):

  - a body with more than :data:`MAX_JSON_OBJECTS` JSON objects is refused before validation
    (:func:`check_object_count`, first thing in each vendor's ``parse_event``).
    Each object may become a model (~2 us and ~0.8 KiB; ~10 us when a handler reads it in a lazy
    section), and per-list bounds cannot cap nested lists (1,000 results x 340 hits);
  - every typed list and map of the models is bounded and stops at its first invalid item
    (``kyc_webhooks.models.BOUNDED``), so a body yields a few errors, not one or two per item;
  - ``ValidationError.errors()`` builds a dict per error, all at once: it is called at most once
    per failure, and only when the error count (which costs nothing) is at most
    :data:`MAX_LISTED_ERRORS`; otherwise the message gives the count alone.

  ``bench/bench_hostile.py`` measures the result (docs/performance.md).

Every JSON body is read here (:func:`validate_json`, :func:`validate_body`, :func:`decode_json`):
by pydantic-core, except a body it refuses only for an escaped lone surrogate (``"\\ud83d"``,
valid JSON that JavaScript's ``JSON.stringify`` and Python's ``json.dumps`` write for a string cut
inside an emoji, which pydantic-core cannot turn into a ``str``). That body is read by
:func:`json.loads`, whose strings hold the surrogate itself (one character, U+D83D), and
validated from the decoded value; every other body pydantic-core refuses stays refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import from_json

from .errors import PayloadError

__all__ = [
    "MAX_DESCRIBED_ERRORS",
    "MAX_JSON_OBJECTS",
    "MAX_LISTED_ERRORS",
    "VALIDATION_ERRORS",
    "WIRE_NAMES_ONLY",
    "check_object_count",
    "decode_json",
    "describe_validation_error",
    "payload_error",
    "pydantic_at_least",
    "validate_body",
    "validate_json",
]

#: How many errors a message describes (location and kind); the rest are counted.
MAX_DESCRIBED_ERRORS = 5
#: Above this many errors, ``errors()`` (a dict per error, built all at once) is not called at all.
MAX_LISTED_ERRORS = 100

#: The most JSON objects a body may hold. Real deliveries hold tens to hundreds (a 5 KB iDenfy
#: identification with AML and LID results: 19); a 1 MiB body can hold ~350,000 (``{},``).
#: Counted as ``{`` bytes, braces inside strings included: the count can only be too high, and only
#: for a body that is mostly braces.
MAX_JSON_OBJECTS = 20_000

#: What validating a body can raise (ValidationError is a ValueError; the others come from
#: custom validators): :func:`payload_error` turns each into a PayloadError.
VALIDATION_ERRORS = (ValueError, TypeError, KeyError, UnicodeError)


def pydantic_at_least(major: int, minor: int) -> bool:
    """Whether the installed pydantic is ``major.minor`` or later (features arrive by minor)."""
    import pydantic

    found = tuple(int(part) for part in pydantic.VERSION.split(".")[:2])
    return found >= (major, minor)


#: Keyword arguments of every validation of a body or a section: wire names only (pydantic 2.11
#: and later can be told so per call). A key spelled like a field's Python name (``scan_ref``
#: where the wire name is ``scanRef``) stays an extra field, as sent: with the models'
#: ``populate_by_name`` (for building models in code) it filled the field, and the dump wrote the
#: wire name -- a body without the documented key was even accepted. Earlier pydantic versions
#: read both names.
WIRE_NAMES_ONLY: dict[str, bool] = (
    {"by_alias": True, "by_name": False} if pydantic_at_least(2, 11) else {}
)

#: Error kinds pydantic reports at the root when the body is not a JSON object.
_NOT_AN_OBJECT = frozenset({"model_type", "model_attributes_type", "dict_type"})


def _errors(exc: ValidationError) -> list[Any]:
    """The error dicts without input values, URLs or context -- or ``[]`` when there are more than
    :data:`MAX_LISTED_ERRORS` (then only ``exc.error_count()`` is used)."""
    if exc.error_count() > MAX_LISTED_ERRORS:
        return []
    return exc.errors(include_url=False, include_input=False, include_context=False)


#: A location step shown as it is: a field's wire name or a union's tag (an identifier, dots and
#: dashes allowed), a union member's label as pydantic writes it (``enum[OverallStatus]``,
#: ``function-after[...]``), a list index. Anything else is a key of a map the sender wrote
#: (iDenfy's ``fileUrls``), which may hold anything -- a name, a line break that would forge a
#: log line -- and is shown as ``<key>`` (review R40).
_SHOWN_STEP = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}|[a-z][a-z-]*\[[ -~]*\]")


#: Wire names of fields typed as maps (``dict[str, X]``), registered by the models as their
#: classes are made: the step after one of them is a key the sender wrote, shown as ``<key>``
#: whatever it looks like (``LT39001011234``, ``jane.doe``).
MAP_FIELDS: set[str] = set()


def _location(parts: Sequence[object]) -> str:
    shown: list[str] = []
    after_map = False
    for part in parts:
        if part == "":
            continue
        text = str(part)
        if isinstance(part, int):
            shown.append(text)
        elif after_map or not _SHOWN_STEP.fullmatch(text):
            shown.append("<key>")
        else:
            shown.append(text)
        after_map = isinstance(part, str) and part in MAP_FIELDS
    return ".".join(shown) or "body"


def _describe(exc: ValidationError, errors: list[Any], prefix: str) -> str:
    parts: list[str] = []
    for err in errors[:MAX_DESCRIBED_ERRORS]:
        loc = _location((prefix, *err["loc"]))
        parts.append(f"{loc}: {err['type']}")
    count = exc.error_count()
    if not parts:
        return f"{count} errors"
    more = count - len(parts)
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def describe_validation_error(exc: ValidationError, *, prefix: str = "") -> str:
    """A safe one-line summary: locations and error kinds of the first
    :data:`MAX_DESCRIBED_ERRORS` errors, never input values. ``prefix`` is the wire name of the
    field the validated value sits in (lazy sections)."""
    return _describe(exc, _errors(exc), prefix)


def check_object_count(body: bytes, *, what: str, event_type: str = "") -> None:
    """Raise :class:`PayloadError` when ``body`` holds more than :data:`MAX_JSON_OBJECTS` JSON
    objects. Free for bodies too short to hold that many (each object takes two bytes at least);
    ~0.3 ms for 1 MiB otherwise."""
    if len(body) > 2 * MAX_JSON_OBJECTS and body.count(b"{") > MAX_JSON_OBJECTS:
        if event_type:
            what = f"{what} {event_type}"
        raise PayloadError(f"{what} body holds more than {MAX_JSON_OBJECTS} JSON objects")


#: A JSON escape of a UTF-16 surrogate (``\\ud800``-``\\udfff``) that starts after an even run of
#: backslashes (``\\\\ud83d`` is an escaped backslash, then text): group 1 is that run.
_SURROGATE_ESCAPE = re.compile(rb"(?<!\\)((?:\\\\)*)\\u[dD][89a-fA-F][0-9a-fA-F]{2}")

#: What :func:`_read_with_surrogates` returns for a body it does not read.
_UNREAD = object()


def _read_with_surrogates(body: bytes) -> Any:
    """``json.loads``' reading of ``body`` when pydantic-core refuses it only for its surrogate
    escapes, else :data:`_UNREAD`.

    Only escapes change between the body and the copy pydantic-core is asked about (each
    surrogate escape becomes ``\\ufffd``), so the copy is valid for pydantic-core exactly when
    the body is, but for the surrogates: everything else it refuses (too deep, invalid UTF-8, a
    BOM, an unreadable number ...) is still refused, and what it accepts (``NaN``, ``Infinity``)
    still accepted. The body is decoded as strict UTF-8 (``json.loads`` of bytes would also take
    UTF-16 and UTF-32)."""
    neutral = _SURROGATE_ESCAPE.sub(rb"\1\\ufffd", body)
    if neutral == body:
        return _UNREAD  # no surrogate escape: refused for something else
    try:
        from_json(neutral)
        return json.loads(body.decode("utf-8"), object_pairs_hook=_object_without_surrogate_keys)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return _UNREAD


def _object_without_surrogate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A decoded JSON object (the last value of a repeated key wins, as in ``json.loads``); a
    lone surrogate in a key refuses the body, as pydantic-core does: keys name fields, and no
    serialiser (``model_dump(mode="json")``, delivery keys built from it) can encode one."""
    for key, _ in pairs:
        if not key.isascii():
            try:
                key.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("a JSON object key holds a lone surrogate") from None
    return dict(pairs)


def decode_json(body: bytes) -> Any:
    """The JSON value of ``body``, read by pydantic-core -- or by ``json.loads`` when pydantic-core
    refuses it only for an escaped lone surrogate (module docstring). Raises ``ValueError`` for a
    body that is not JSON. Callers bound the work first (:func:`check_object_count`)."""
    try:
        return from_json(body)
    except ValueError:
        decoded = _read_with_surrogates(body)
        if decoded is _UNREAD:
            raise
    return decoded


def validate_body(validator: Any, body: bytes) -> Any:
    """``validator.validate_json(body)`` (a ``SchemaValidator``), or, for a body pydantic-core
    refuses only for an escaped lone surrogate, ``validator.validate_python`` of ``json.loads``'
    reading (module docstring): the same fields, datetimes, enums and bounds either way. Raises
    what the validator raises (``ValidationError`` ``json_invalid`` for a body that is not JSON).
    Callers bound the work first (:func:`check_object_count`)."""
    try:
        return validator.validate_json(body, **WIRE_NAMES_ONLY)
    except ValidationError as exc:
        if exc.error_count() != 1 or b"\\u" not in body:
            raise
        if exc.errors(include_url=False, include_input=False)[0]["type"] != "json_invalid":
            raise
        decoded = _read_with_surrogates(body)
        if decoded is _UNREAD:
            raise
    # Outside the except block: a failure here has no ValidationError (input values) as context.
    return validator.validate_python(decoded, **WIRE_NAMES_ONLY)


def validate_json(model: Any, body: bytes, *, what: str, event_type: str = "") -> Any:
    """Validate ``body`` straight from bytes with ``model`` (a model class or cached
    ``TypeAdapter``; :func:`validate_body`), turning every failure into a :class:`PayloadError`
    that names fields only. Messages start with ``what`` and ``event_type`` (joined only when there
    is an error). A body with too many objects is refused first (:func:`check_object_count`)."""
    check_object_count(body, what=what, event_type=event_type)
    try:
        # A model class's ``__pydantic_validator__`` (what ``model_validate_json`` calls, minus a
        # Python frame) or a cached TypeAdapter. With ``defer_build`` the first attribute access
        # on the model's placeholder validator builds the real one.
        validator = getattr(model, "__pydantic_validator__", model)
        return validate_body(validator, body)
    except VALIDATION_ERRORS as exc:
        error = payload_error(exc, what=what, event_type=event_type)
    raise error  # outside the except block: no ValidationError (input values) as __context__


#: What pydantic-core's JSON parser says of a body it cannot read: its reason and the position,
#: never the body's text.
_JSON_PROBLEM = re.compile(r"[A-Za-z ]+ at line \d+ column \d+")


def _json_problem(exc: ValidationError) -> str:
    """`` (<the parser's reason>)`` for a ``json_invalid`` error, when it has the usual form."""
    try:
        error = exc.errors(include_url=False, include_input=False)[0].get("ctx", {}).get("error")
    except (IndexError, AttributeError):  # pragma: no cover - pydantic-core always gives one
        return ""
    if isinstance(error, str) and _JSON_PROBLEM.fullmatch(error):
        return f" ({error})"
    return ""


def payload_error(exc: Exception, *, what: str, event_type: str = "") -> PayloadError:
    """The :class:`PayloadError` for a failed validation: field locations and error kinds, never
    input values. Raise it outside the ``except`` block (see :func:`validate_json`)."""
    if event_type:
        what = f"{what} {event_type}"
    if not isinstance(exc, ValidationError):
        return PayloadError(f"{what} body could not be decoded ({type(exc).__name__})")
    errors = _errors(exc)
    kinds = {e["type"] for e in errors}
    if "json_invalid" in kinds:
        # The parser's own words (what and where: "recursion limit exceeded at line 1 column
        # 202", "number out of range ..."), which quote nothing of the body: "not valid UTF-8
        # JSON" alone sent integrators looking at encodings for a body nested too deep.
        return PayloadError(f"{what} body is not valid UTF-8 JSON{_json_problem(exc)}")
    if kinds & _NOT_AN_OBJECT and all(not e["loc"] for e in errors):
        return PayloadError(f"{what} body must be a JSON object")
    return PayloadError(f"{what} body failed validation ({_describe(exc, errors, '')})")
