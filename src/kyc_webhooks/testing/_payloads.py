"""Realistic sample payloads for every documented event type, with overrides for any field.

The samples live next to each vendor's models (``kyc_webhooks.<vendor>._samples.SAMPLES``) so that
they change together; this module only copies and edits them. Every call returns a fresh deep
copy: a test can mutate its payload without affecting another test.
"""

from __future__ import annotations

import copy
import difflib
import importlib
import re
from collections.abc import Mapping
from typing import Any, Final

from .._registry import VENDOR_NAMES
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


def _no_such_field(path: str, node: dict[str, Any], key: str, parent: str) -> UsageError:
    """The error for a path segment naming no field: the fields there, the closest first."""
    names = [str(name) for name in node]
    close = difflib.get_close_matches(key, names, n=len(names), cutoff=0.0)
    where = f"in {parent!r}" if parent else "at the top level"
    return UsageError(
        f"override {path!r}: the sample has no field {key!r} {where}; fields there, closest "
        f"first: {', '.join(close) or '(none)'} (names are the wire names, e.g. clientId; to add a "
        "field the sample lacks, call set_path() on the payload)"
    )


def set_path(payload: dict[str, Any], path: str, value: Any, *, create: bool = True) -> None:
    """Set (or with :data:`REMOVE`, delete) the field at ``path`` inside ``payload``, in place.

    ``path`` is a field name, or names joined by ``__`` or ``.`` to reach into nested objects;
    a numeric segment indexes a list (``AML__0__status``). Missing (or ``null``) objects along the
    way are created, so a path can add a field the sample does not have (an "unknown field" test).

    ``create=False`` (what :func:`sample_payload` uses) refuses a path with a segment that names
    no existing field of an object -- a typo such as ``status__overal`` would add a field no
    handler reads, or with :data:`REMOVE` delete nothing and leave the field in place -- with
    :class:`UsageError` listing the fields there, closest first. Below a field that is ``null``,
    new objects are still created (and :data:`REMOVE` there is a no-op: there is nothing to
    delete). With ``create=True``, :data:`REMOVE` of a field that is not there is a no-op.
    """
    parts = _split(path)
    node: Any = payload
    strict = not create
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
        if strict and key not in node:
            raise _no_such_field(path, node, key, ".".join(str(p) for p in parts[:depth]))
        child = node.get(key)
        if child is None:  # missing or null: an object is created on the way
            strict = False  # below a null field, nothing tells which names are valid
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
    if strict and str(last) not in node:
        raise _no_such_field(path, node, str(last), ".".join(str(p) for p in parts[:-1]))
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
    ``__`` (or ``.`` through ``**{...}``), :data:`REMOVE` deletes a field. Every name must be a
    field of the sample, with :data:`REMOVE` too (a typo such as ``status__overal`` or
    ``client_id`` for ``clientId``, or ``scanRf=REMOVE``, raises
    :class:`~kyc_webhooks.UsageError` listing the fields there, closest first); to add a field
    the sample does not have, use :func:`set_path` on the returned payload::

        sample_payload("idenfy", "IDENTIFICATION_AUTO_FINISHED", clientId="user-42",
                       status__overall="DENIED", data__docNumber=REMOVE)
        sample_payload("complycube", "check.completed", **{"payload.outcome": "attention"})

    Raises :class:`~kyc_webhooks.ConfigurationError` for an unknown vendor and
    :class:`~kyc_webhooks.UsageError` for an event type without a sample (the message lists the
    available ones; see :func:`event_types`), a name that is no field of the sample, or a path
    that cannot be applied.
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
        set_path(payload, path, value, create=False)
    return payload
