"""Turning pydantic validation failures into safe :class:`~kyc_webhooks.errors.PayloadError`\\ s.

At the bottom of the package's import graph: it imports only :mod:`kyc_webhooks.errors` and
pydantic, so every other module (the vendor registry, the model conventions, each vendor's models)
can use it without an import cycle (``tests/test_import_graph.py`` checks).

Two rules:

* Messages name field locations and error kinds, never input values (personal data): pydantic's
  own ``ValidationError`` text quotes the input, so the ``PayloadError`` is raised *outside* the
  ``except`` block and never has the ``ValidationError`` as ``__context__``.
* The work is bounded whatever the body. ``ValidationError.errors()`` builds a dict per error, all
  at once; a hostile body can hold hundreds of thousands of errors (one or two per item of a huge
  list). It is called at most once per failure, and only when the error count (which costs
  nothing) is at most :data:`MAX_LISTED_ERRORS`; otherwise the message gives the count alone.
  The vendor models bound each list (``kyc_webhooks.models.BOUNDED``), so a real delivery stays
  far below that.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from .errors import PayloadError

__all__ = [
    "MAX_DESCRIBED_ERRORS",
    "MAX_LISTED_ERRORS",
    "VALIDATION_ERRORS",
    "describe_validation_error",
    "payload_error",
    "validate_json",
]

#: How many errors a message describes (location and kind); the rest are counted.
MAX_DESCRIBED_ERRORS = 5
#: Above this many errors, ``errors()`` (a dict per error, built all at once) is not called at all.
MAX_LISTED_ERRORS = 100

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


def validate_json(model: Any, body: bytes, *, what: str, event_type: str = "") -> Any:
    """Validate ``body`` straight from bytes with ``model`` (a model class or cached
    ``TypeAdapter``), turning every failure into a :class:`PayloadError` that names fields only.
    Messages start with ``what`` and ``event_type`` (joined only when there is an error)."""
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
