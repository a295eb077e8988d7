"""Realistic sample payloads for every documented event type, with overrides for any field.

The samples live next to each vendor's models (``kyc_webhooks.<vendor>._samples.SAMPLES``) so that
they change together; this module only copies and edits them. Every call returns a fresh deep
copy: a test can mutate its payload without affecting another test.
"""

from __future__ import annotations

import copy
import importlib
import re
from collections.abc import Mapping
from typing import Any, Final

from .._vendor import VENDOR_NAMES
from ..errors import ConfigurationError, UsageError

__all__ = ["REMOVE", "deep_update", "event_types", "sample_payload", "set_path"]


class _Remove:
    """Type of :data:`REMOVE`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "REMOVE"

    def __reduce__(self) -> str:
        return "REMOVE"


#: Override value that deletes a field:
#: ``sample_payload("yoti", "check_completion", check_id=REMOVE)``.
REMOVE: Final = _Remove()

# A path segment separator in override names: ``status__overall`` (keyword-friendly) or
# ``status.overall`` (pass it with ``**{"status.overall": ...}``).
_SEPARATOR = re.compile(r"\.|__")


def _samples(vendor: str) -> Mapping[str, Mapping[str, Any]]:
    if vendor not in VENDOR_NAMES:
        raise ConfigurationError(
            f"unknown vendor {vendor!r}; expected one of {', '.join(VENDOR_NAMES)}"
        )
    try:
        module = importlib.import_module(f"kyc_webhooks.{vendor}._samples")
    except ModuleNotFoundError as exc:  # pragma: no cover - every released vendor has samples
        raise UsageError(f"no sample payloads are available for {vendor}") from exc
    samples: Mapping[str, Mapping[str, Any]] = module.SAMPLES
    return samples


def event_types(vendor: str) -> tuple[str, ...]:
    """Every event type ``vendor`` documents and :func:`sample_payload` can build, in the
    vendor's documented order (the exact spelling the vendor puts on the wire)."""
    return tuple(_samples(vendor))


def _split(path: str) -> list[str | int]:
    parts = _SEPARATOR.split(path)
    if not path or any(not part for part in parts):
        raise UsageError(
            f"bad override path {path!r}: join field names with '__' or '.', e.g. payload__outcome"
        )
    return [int(part) if part.isdigit() else part for part in parts]


def set_path(payload: dict[str, Any], path: str, value: Any) -> None:
    """Set (or with :data:`REMOVE`, delete) the field at ``path`` inside ``payload``, in place.

    ``path`` is a field name, or names joined by ``__`` or ``.`` to reach into nested objects;
    a numeric segment indexes a list (``AML__0__status``). Missing (or ``null``) objects along the
    way are created, so a path can add a field the sample does not have (an "unknown field" test).
    """
    parts = _split(path)
    node: Any = payload
    for depth, part in enumerate(parts[:-1]):
        where = ".".join(str(p) for p in parts[: depth + 1])
        if isinstance(node, list):
            if not isinstance(part, int) or part >= len(node):
                raise UsageError(f"override path {path!r}: no list item at {where!r}")
            node = node[part]
            continue
        if not isinstance(node, dict):
            raise UsageError(f"override path {path!r}: {where!r} is not an object")
        key = str(part)
        child = node.get(key)
        if child is None:  # missing or null: an object is created on the way
            if value is REMOVE:
                return  # nothing to delete below a missing object
            child = {}
            node[key] = child
        elif not isinstance(child, (dict, list)):
            raise UsageError(f"override path {path!r}: {where!r} is not an object")
        node = child
    last = parts[-1]
    if isinstance(node, list):
        if not isinstance(last, int) or last >= len(node):
            raise UsageError(f"override path {path!r}: no list item at index {last!r}")
        if value is REMOVE:
            del node[last]
        else:
            node[last] = copy.deepcopy(value)
        return
    if not isinstance(node, dict):
        raise UsageError(f"override path {path!r}: the parent is not an object")
    if value is REMOVE:
        node.pop(str(last), None)
    else:
        node[str(last)] = copy.deepcopy(value)


def deep_update(base: Mapping[str, Any], updates: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with ``updates`` merged in recursively.

    Nested mappings merge key by key; any other value (lists included) replaces the old one;
    :data:`REMOVE` deletes the key. Neither argument is modified.

    >>> deep_update({"status": {"overall": "APPROVED", "tags": []}}, {"status": {"overall": "X"}})
    {'status': {'overall': 'X', 'tags': []}}
    """
    out: dict[str, Any] = copy.deepcopy(dict(base))
    for key, value in updates.items():
        if value is REMOVE:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_update(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def sample_payload(vendor: str, event_type: str, /, **overrides: Any) -> dict[str, Any]:
    """A realistic payload of ``event_type`` as ``vendor`` sends it (a fresh ``dict``).

    Keyword arguments override fields by their **wire names**; nested fields are reached with
    ``__`` (or ``.`` through ``**{...}``), :data:`REMOVE` deletes a field::

        sample_payload("idenfy", "IDENTIFICATION_AUTO_FINISHED", clientId="user-42",
                       status__overall="DENIED", data__docNumber=REMOVE)
        sample_payload("complycube", "check.completed", **{"payload.outcome": "attention"})

    Raises :class:`~kyc_webhooks.ConfigurationError` for an unknown vendor and
    :class:`~kyc_webhooks.UsageError` for an event type without a sample (the message lists the
    available ones; see :func:`event_types`) or a path that cannot be applied.
    """
    samples = _samples(vendor)
    try:
        sample = samples[event_type]
    except (KeyError, TypeError):
        raise UsageError(
            f"no {vendor} sample for event type {event_type!r}; available: {', '.join(samples)}"
        ) from None
    payload: dict[str, Any] = copy.deepcopy(dict(sample))
    for path, value in overrides.items():
        set_path(payload, path, value)
    return payload
