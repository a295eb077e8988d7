"""Benchmark: what a hostile, correctly signed body up to the size cap costs ``Receiver.handle``.

Run: ``python bench/bench_hostile.py`` (``--quick``: each vendor's most complex model only;
``--read``: the handler also validates every section, as a handler reading them all would;
``--json``: one JSON object per case). Prints a table and exits 0; it asserts nothing (speed is
reported, never tested with timers). ``tests/test_hostile_bodies.py`` uses the same bodies with
bounds on memory and error counts.

Bodies: every documented event type's sample payload (one per model), with a filler of each
hostile shape placed at every list or map the model declares (sections' models included, nested
ones through their first item), at a new top-level key, and as the whole body. Each filler grows
until the body reaches the receiver's size cap (1 MiB by default):

* ``objects``  ``[{},{},...]``      -- ~350,000 items: each may become a model, or one or two
                                        validation errors (open enums)
* ``ints``     ``[1,1,...]``        -- ~520,000 items
* ``strings``  ``["xxx…(1,000)",…]`` -- long strings
* ``keys``     ``{"0":{},"1":{},…}``  -- a map with ~100,000 keys
* ``deep``     ``[[[[…]]]]``        -- nesting far beyond any parser's limit
* ``text``     ``"xxxx…"``          -- one string of the whole size
* ``spread``   a list nested in a list's item: the outer list holds 100 copies of its item,
               each inner list a share of ``{}`` (bounds on each list do not bound the product)
* ``budget``   ``spread`` with just fewer JSON objects than a body may hold (the receiver refuses
               more: ``kyc_webhooks._validation.MAX_JSON_OBJECTS``), the most models a body can
               make; the rest of the size cap is ``[1,1,…]`` in a new top-level key

Per case: the best of three wall-clock times and the peak of Python allocations (tracemalloc, a
separate run: tracing slows everything down), and the answer's status code.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import logging
import sys
import time
import tracemalloc
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import kyc_webhooks as kw
from kyc_webhooks._validation import MAX_JSON_OBJECTS
from kyc_webhooks.models import KycModel, section_names, section_type
from kyc_webhooks.receiver import DEFAULT_MAX_BODY_SIZE
from kyc_webhooks.testing import make_vendors, sample_payload, sign

KEY = "bench-hostile-key"
VENDORS = ("idenfy", "complycube", "yoti", "identomat")
_PLACEHOLDER = "@@hostile@@"


@dataclass(frozen=True)
class Case:
    vendor: str
    event_type: str
    model: str
    where: str  # the wire path of the filler, "." for the whole body
    shape: str
    body: bytes
    headers: dict[str, str]


# ---- fillers ---------------------------------------------------------------------------------


def _repeat(item: bytes, room: int, opening: bytes = b"[", closing: bytes = b"]") -> bytes:
    count = max(1, (room - len(opening) - len(closing) + 1) // (len(item) + 1))
    return opening + b",".join([item] * count) + closing


def _keys(room: int) -> bytes:
    parts: list[bytes] = []
    used = 2
    for i in range(room):  # bounded: each key takes at least 6 bytes
        part = b'"%d":{}' % i
        if used + len(part) + 1 > room:
            break
        parts.append(part)
        used += len(part) + 1
    return b"{" + b",".join(parts) + b"}"


def filler(shape: str, room: int) -> bytes:
    """JSON text of ``shape``, at most ``room`` bytes (at least one item)."""
    if shape == "objects":
        return _repeat(b"{}", room)
    if shape == "ints":
        return _repeat(b"1", room)
    if shape == "strings":
        return _repeat(b'"' + b"x" * 1000 + b'"', room)
    if shape == "keys":
        return _keys(room)
    if shape == "deep":
        depth = max(1, room // 2)
        return b"[" * depth + b"]" * depth
    if shape == "text":
        return b'"' + b"x" * max(0, room - 2) + b'"'
    raise ValueError(f"unknown shape {shape!r}")


SHAPES = ("objects", "ints", "strings", "keys", "deep", "text", "spread", "budget")
#: How many copies of its item the outer list of a ``spread`` body holds.
SPREAD = 100


# ---- where fillers go ------------------------------------------------------------------------

Path = tuple[str | int, ...]


def _field_types(model: type[KycModel]) -> Iterator[tuple[str, Any]]:
    """``(wire name, type)`` of each field; a section's raw field with its section's type."""
    sections = section_names(model)
    for name, info in model.model_fields.items():
        stem = name.removesuffix("_raw")
        kind = section_type(model, stem) if stem in sections else info.annotation
        yield info.alias or name, kind


def containers(model: type[KycModel]) -> list[Path]:
    """Wire paths of every list and map ``model`` declares, sections' models included, nested
    ones through their first item or key ``"k"``. Each model class is entered once per path."""
    found: list[Path] = []

    def walk(annotation: Any, path: Path, seen: frozenset[type]) -> None:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated or origin in (typing.Union, types.UnionType):
            for arg in typing.get_args(annotation)[: 1 if origin is typing.Annotated else None]:
                walk(arg, path, seen)
        elif origin is list:
            found.append(path)
            walk(typing.get_args(annotation)[0], (*path, 0), seen)
        elif origin is dict:
            found.append(path)
            walk(typing.get_args(annotation)[1], (*path, "k"), seen)
        elif isinstance(annotation, type) and issubclass(annotation, KycModel):
            if annotation in seen or len(path) > 8:
                return
            for wire, kind in _field_types(annotation):
                walk(kind, (*path, wire), seen | {annotation})

    walk(model, (), frozenset())
    return list(dict.fromkeys(found))


def _fits(value: Any, after: str | int | None) -> bool:
    """Whether ``value`` can hold the next step of a path (a list for an index, else a map)."""
    if after is None:
        return False  # the placeholder goes here
    return isinstance(value, list if isinstance(after, int) else dict) and bool(value or after != 0)


def _place(payload: dict[str, Any], path: Path) -> dict[str, Any]:
    """A copy of ``payload`` with the placeholder at ``path`` (containers made as needed)."""
    result = copy.deepcopy(payload)
    node: Any = result
    for step, after in zip(path, (*path[1:], None), strict=True):
        fresh: Any = _PLACEHOLDER if after is None else ([{}] if isinstance(after, int) else {})
        if isinstance(step, int):  # always 0: the first item
            if not node or not _fits(node[0], after):
                node[:] = [fresh]
            node = node[0]
        else:
            if not _fits(node.get(step), after):
                node[step] = fresh
            node = node[step]
    return result


def _signed(vendor: str, event_type: str, body: bytes) -> dict[str, str]:
    if vendor == "identomat":  # the credential is inside the body (set before the filler)
        return {"Content-Type": "application/json"}
    return sign(vendor, body, KEY, event_type=event_type)[1]


def _spread(placed: dict[str, Any], path: Path, cap: int, *, budget: bool) -> bytes:
    """``placed`` with the outer list on ``path`` holding :data:`SPREAD` copies of its item and
    the placeholder replaced by as many ``{}`` as fit in all (``budget``: as the object limit
    allows, the rest of the size in ints)."""
    outer = path[:-1].index(0)
    node: Any = placed
    for step in path[:outer]:
        node = node[step]
    inner: Any = node[0]
    for step in path[outer + 1 : -1]:
        inner = inner[step]
    inner[path[-1]] = []
    node[:] = [node[0]] * SPREAD
    empty = json.dumps(placed, ensure_ascii=False, separators=(",", ":")).encode()
    if budget:
        share = (MAX_JSON_OBJECTS - empty.count(b"{")) // SPREAD
        inner[path[-1]] = [{}] * max(1, share)
        placed["hostilePadding"] = [1] * max(0, (cap - len(empty) - 3 * SPREAD * share) // 2 - 20)
    else:
        inner[path[-1]] = [{}] * max(1, (cap - len(empty)) // SPREAD // 3)
    return json.dumps(placed, ensure_ascii=False, separators=(",", ":")).encode()


def _body(vendor: str, payload: dict[str, Any], path: Path, shape: str, cap: int) -> bytes:
    if vendor == "identomat":
        payload = {**payload, "callbackApiKey": KEY}
    if not path:
        return filler(shape, cap)
    placed = _place(payload, path)
    if shape in ("spread", "budget"):
        return _spread(placed, path, cap, budget=shape == "budget")
    text = json.dumps(placed, ensure_ascii=False, separators=(",", ":")).encode()
    quoted = json.dumps(_PLACEHOLDER).encode()
    return text.replace(quoted, filler(shape, cap - len(text) + len(quoted)), 1)


def models(vendor: str) -> list[tuple[str, type[KycModel]]]:
    """``(event type, model)`` for each distinct model of ``vendor``, most containers first."""
    module = importlib.import_module(f"kyc_webhooks.{vendor}.models")
    seen: dict[type[KycModel], str] = {}
    for event_type, model in module.EVENT_MODELS.items():
        seen.setdefault(model, event_type)
    pairs = [(event_type, model) for model, event_type in seen.items()]
    return sorted(pairs, key=lambda pair: -len(containers(pair[1])))


def _sample_type(vendor: str, event_type: str) -> str:
    if vendor != "complycube":
        return event_type
    from kyc_webhooks.testing import event_types

    return next((t for t in event_types(vendor) if t.startswith(event_type)), event_type)


def cases(
    vendors: tuple[str, ...] = VENDORS,
    *,
    shapes: tuple[str, ...] = SHAPES,
    per_vendor: int | None = None,
    cap: int = DEFAULT_MAX_BODY_SIZE,
) -> Iterator[Case]:
    """Every hostile case: ``per_vendor`` limits each vendor to its most complex models."""
    for vendor in vendors:
        for event_type, model in models(vendor)[:per_vendor]:
            payload = sample_payload(vendor, _sample_type(vendor, event_type))
            paths: list[Path] = [(), ("hostileExtra",), *containers(model)]
            for path in paths:
                for shape in shapes:
                    if shape in ("spread", "budget") and 0 not in path[:-1]:
                        continue  # only for a list inside a list's item
                    body = _body(vendor, payload, path, shape, cap)
                    yield Case(
                        vendor=vendor,
                        event_type=event_type,
                        model=model.__name__,
                        where=".".join(map(str, path)) or ".",
                        shape=shape,
                        body=body,
                        headers=_signed(vendor, event_type, body),
                    )


def receiver(*, read: bool = False) -> kw.Receiver:
    """A receiver for all four vendors with one handler (``read``: it validates every section),
    prepared."""
    result = kw.Receiver(*make_vendors(dict.fromkeys(VENDORS, KEY)))

    @result.on()
    def handler(event: kw.WebhookEvent) -> None:
        if read:
            event.validate_sections()

    result.prepare()
    return result


# ---- measuring -------------------------------------------------------------------------------


def measure(rx: kw.Receiver, case: Case, rounds: int = 3) -> dict[str, Any]:
    best = float("inf")
    status = 0
    for _ in range(rounds):
        start = time.perf_counter()
        outcome = rx.handle(case.body, case.headers)
        best = min(best, time.perf_counter() - start)
        status = outcome.status_code
    tracemalloc.start()
    try:
        rx.handle(case.body, case.headers)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return {
        "vendor": case.vendor,
        "model": case.model,
        "where": case.where,
        "shape": case.shape,
        "bytes": len(case.body),
        "status": status,
        "seconds": best,
        "peak_mib": peak / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="most complex model per vendor")
    parser.add_argument("--read", action="store_true", help="handler validates every section")
    parser.add_argument("--json", action="store_true", help="one JSON object per case")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("kyc_webhooks").setLevel(logging.ERROR)  # one warning per refused body
    rx = receiver(read=args.read)
    rows = []
    for case in cases(per_vendor=1 if args.quick else None):
        row = measure(rx, case, rounds=max(1, args.rounds))
        rows.append(row)
        if args.json:
            print(json.dumps(row), flush=True)
        else:
            print(
                f"{row['vendor']:<10} {row['model'][:28]:<28} {row['where'][:40]:<40} "
                f"{row['shape']:<8} {row['status']} {row['seconds'] * 1000:8.1f} ms "
                f"{row['peak_mib']:7.1f} MiB",
                flush=True,
            )
    if args.json or not rows:
        return
    print(f"\n{len(rows)} cases, handler {'reads every section' if args.read else 'no-op'}")
    print(f"{'shape':<8} {'worst ms':>9} {'worst MiB':>10}  where (worst time)")
    for shape in SHAPES:
        mine = [r for r in rows if r["shape"] == shape]
        slow = max(mine, key=lambda r: r["seconds"])
        fat = max(r["peak_mib"] for r in mine)
        print(
            f"{shape:<8} {slow['seconds'] * 1000:9.1f} {fat:10.1f}  "
            f"{slow['vendor']} {slow['model']} {slow['where']}"
        )
    print(f"python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
