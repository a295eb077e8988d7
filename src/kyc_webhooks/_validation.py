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
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from .errors import PayloadError

__all__ = [
    "MAX_DESCRIBED_ERRORS",
    "MAX_JSON_OBJECTS",
    "MAX_LISTED_ERRORS",
    "VALIDATION_ERRORS",
    "check_object_count",
    "describe_validation_error",
    "payload_error",
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

#: Error kinds pydantic reports at the root when the body is not a JSON object.
_NOT_AN_OBJECT = frozenset({"model_type", "model_attributes_type", "dict_type"})


def _errors(exc: ValidationError) -> list[Any]:
    """The error dicts without input values, URLs or context -- or ``[]`` when there are more than
    :data:`MAX_LISTED_ERRORS` (then only ``exc.error_count()`` is used)."""
    if exc.error_count() > MAX_LISTED_ERRORS:
        return []
    return exc.errors(include_url=False, include_input=False, include_context=False)


def _describe(exc: ValidationError, errors: list[Any], prefix: str) -> str:
    parts: list[str] = []
    for err in errors[:MAX_DESCRIBED_ERRORS]:
        loc = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "") or "body"
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


def validate_json(model: Any, body: bytes, *, what: str, event_type: str = "") -> Any:
    """Validate ``body`` straight from bytes with ``model`` (a model class or cached
    ``TypeAdapter``), turning every failure into a :class:`PayloadError` that names fields only.
    Messages start with ``what`` and ``event_type`` (joined only when there is an error). A body
    with too many objects is refused first (:func:`check_object_count`)."""
    check_object_count(body, what=what, event_type=event_type)
    try:
        # A model class's ``__pydantic_validator__`` (what ``model_validate_json`` calls, minus a
        # Python frame) or a cached TypeAdapter. With ``defer_build`` the first attribute access
        # on the model's placeholder validator builds the real one.
        validator = getattr(model, "__pydantic_validator__", model)
        return validator.validate_json(body)
    except VALIDATION_ERRORS as exc:
        error = payload_error(exc, what=what, event_type=event_type)
    raise error  # outside the except block: no ValidationError (input values) as __context__


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
        return PayloadError(f"{what} body is not valid UTF-8 JSON")
    if kinds & _NOT_AN_OBJECT and all(not e["loc"] for e in errors):
        return PayloadError(f"{what} body must be a JSON object")
    return PayloadError(f"{what} body failed validation ({_describe(exc, errors, '')})")
