"""Hostile bodies up to the size cap cost little, for every vendor and event type (#10, item 9).

A signed 1 MiB body used to cost 8-11 s and ~2 GiB: ~350,000 ``{}`` in iDenfy ``status.fraudTags``
gave two validation errors each, and the error list was then built twice. Three things bound it:

* every typed list and map of every model is :data:`~kyc_webhooks.models.BOUNDED` (at most
  ``MAX_ITEMS`` items, checked first; validation stops at the first invalid item) -- checked here
  on the validators themselves, sections' types included, so a new field cannot forget it;
* ``kyc_webhooks._validation`` builds pydantic's error list at most once, and not at all above
  ``MAX_LISTED_ERRORS`` errors;
* the bodies of ``bench/bench_hostile.py`` (every hostile shape at every list and map of each
  vendor's richest models) produce few errors and stay far below the memory target.

No timers: work is bounded by counting errors and measuring peak memory (tracemalloc). Time is
measured by the benchmark (docs/performance.md)."""

from __future__ import annotations

import ast
import functools
import importlib.util
import json
import sys
import tracemalloc
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

import kyc_webhooks
from kyc_webhooks import Headers
from kyc_webhooks._validation import (
    MAX_DESCRIBED_ERRORS,
    MAX_JSON_OBJECTS,
    MAX_LISTED_ERRORS,
    describe_validation_error,
    payload_error,
    pydantic_at_least,
)
from kyc_webhooks.errors import AuthenticationError, PayloadError, UndetectableVendorError
from kyc_webhooks.models import MAX_ITEMS, KycModel, read_section, section_names, section_type
from kyc_webhooks.receiver import DEFAULT_MAX_BODY_SIZE
from kyc_webhooks.testing import sign

BENCH = Path(__file__).resolve().parent.parent / "bench" / "bench_hostile.py"
MiB = 2**20
#: The issue's target is 200 MiB of extra memory per delivery; Python allocations stay far below.
MEMORY_BOUND = 200 * MiB
#: What one validation may report. An item of an open-enum list gives two errors, a model a
#: handful per field: a few dozen at worst once lists stop at their first invalid item.
ERROR_BOUND = 50


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_hostile", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


bench = _bench()


def _all_models() -> list[type[KycModel]]:
    found: list[type[KycModel]] = []
    for vendor in bench.VENDORS:
        module = importlib.import_module(f"kyc_webhooks.{vendor}.models")
        found.extend(dict.fromkeys(module.EVENT_MODELS.values()))
    return found


# ---- every typed list and map is bounded -------------------------------------------------------

_SIZED = {"list", "dict", "set", "frozenset", "tuple"}


def _nodes(label: str, schema: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every dict inside a core schema with the model field it belongs to (bounded by the
    schema's size; shared nodes visited once)."""
    pending: list[tuple[str, Any]] = [(label, schema)]
    seen: set[int] = set()
    while pending:
        label, node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, dict):
            yield label, node
            if node.get("type") == "model" and isinstance(node.get("cls"), type):
                label = node["cls"].__name__
            for key, value in node.items():
                if key == "fields" and node.get("type") == "model-fields":
                    pending.extend((f"{label}.{name}", field) for name, field in value.items())
                else:
                    pending.append((label, value))
        elif isinstance(node, (list, tuple)):
            pending.extend((label, item) for item in node)


#: Where pydantic has ``fail_fast`` (lists from 2.8, maps from 2.14), every bound carries it;
#: before, the length cap alone bounds the work (.ci/run runs this module on pydantic 2.13 too).
_FAIL_FAST_LISTS = pydantic_at_least(2, 8)
_FAIL_FAST_MAPS = pydantic_at_least(2, 14)


def _takes_anything(schema: Any) -> bool:
    return schema is None or (isinstance(schema, dict) and schema.get("type") == "any")


def _core_schema(annotation: Any) -> Any:
    """The built core schema (models use ``defer_build``: a placeholder until first use)."""
    return dict(TypeAdapter(annotation).core_schema)


def _unbounded(model: type[KycModel]) -> list[str]:
    """The typed lists and maps reachable from ``model`` (sections' types too) that lack the
    bound or fail_fast, named by their model and the item schema's type."""
    problems: list[str] = []
    pending: list[tuple[str, Any]] = [(model.__name__, _core_schema(model))]
    done: set[Any] = set()
    while pending:
        where, schema = pending.pop()
        for field, node in _nodes(where, schema):
            kind = node.get("type")
            if not isinstance(kind, str):  # a field named "type" in metadata, say
                continue
            if kind == "model" and isinstance(node.get("cls"), type):
                cls = node["cls"]
                for name in section_names(cls):
                    if (cls, name) not in done:
                        done.add((cls, name))
                        resolved = _core_schema(section_type(cls, name))
                        pending.append((f"{cls.__name__}.{name}", resolved))
            if kind not in _SIZED:
                continue
            items = node.get("values_schema") if kind == "dict" else node.get("items_schema")
            if kind == "tuple":
                continue  # fixed-length tuples only (none variadic in the models)
            if _takes_anything(items):
                continue
            fail_fast = _FAIL_FAST_MAPS if kind == "dict" else _FAIL_FAST_LISTS
            if node.get("max_length", MAX_ITEMS + 1) > MAX_ITEMS or (
                fail_fast and not node.get("fail_fast")
            ):
                item_type = items.get("type") if isinstance(items, dict) else items
                problems.append(f"{field}: {kind} of {item_type}")
    return sorted(set(problems))


@pytest.mark.parametrize("model", _all_models(), ids=lambda m: f"{m.__module__}.{m.__name__}")
def test_every_typed_list_and_map_is_bounded(model: type[KycModel]) -> None:
    assert _unbounded(model) == []


def test_the_bound_check_sees_unbounded_lists() -> None:
    class Leaf(KycModel):
        n: int | None = None

    class Loose(KycModel):
        leaves: list[Leaf] | None = None
        anything: list[Any] | None = None
        names: dict[str, Any] | None = None

    assert _unbounded(Loose) == ["Loose.leaves: list of model"]

    class WithSection(KycModel):
        leaves_raw: list[Any] | None = None  # a list of anything: needs no bound

        @cached_property
        def leaves(self) -> list[Leaf] | None:
            value: list[Leaf] | None = read_section(self, "leaves", list[Leaf] | None)
            return value

    assert _unbounded(WithSection) == ["WithSection.leaves: list of model"]


def _bound_misuses(source: str, where: str) -> list[str]:
    """``Annotated[dict[...] ..., BOUNDED]`` and ``Annotated[list[...] ..., BOUNDED_MAP]`` in
    ``source``: each Annotated type's container (``| None`` stripped) against its bound."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if not (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id == "Annotated"
            and isinstance(node.slice, ast.Tuple)
        ):
            continue
        kind, *metadata = node.slice.elts
        while isinstance(kind, ast.BinOp):  # X | None
            kind = kind.left
        container = (
            kind.value.id
            if isinstance(kind, ast.Subscript) and isinstance(kind.value, ast.Name)
            else None
        )
        names = {m.id for m in metadata if isinstance(m, ast.Name)}
        if "BOUNDED" in names and container == "dict":
            found.append(f"{where}:{node.lineno}: a map bounded with BOUNDED")
        if "BOUNDED_MAP" in names and container != "dict":
            found.append(f"{where}:{node.lineno}: BOUNDED_MAP on a {container}")
    return found


def test_every_map_is_bounded_with_bounded_map() -> None:
    """``fail_fast`` on a map needs pydantic 2.14: ``BOUNDED`` (fail_fast from 2.8) on a map made
    every model holding one fail to build on pydantic 2.8-2.13 -- a ``RuntimeError`` out of
    ``handle()`` for every iDenfy delivery. The main run's pydantic accepts both, so the rule is
    checked on the source (and .ci/run runs the core tests on pydantic 2.13 too)."""
    src = Path(kyc_webhooks.__file__).parent
    problems = [
        problem
        for path in sorted(src.rglob("*.py"))
        for problem in _bound_misuses(path.read_text(encoding="utf-8"), path.name)
    ]
    assert problems == []
    misused = "x: Annotated[dict[str, Leaf] | None, PERSONAL, BOUNDED]\n"
    misused += "y: Annotated[list[Leaf] | None, BOUNDED_MAP]\n"
    assert _bound_misuses(misused, "m.py") == [
        "m.py:1: a map bounded with BOUNDED",
        "m.py:2: BOUNDED_MAP on a list",
    ]


# ---- describing errors is bounded --------------------------------------------------------------


def _many_errors(count: int) -> ValidationError:
    try:
        TypeAdapter(list[int]).validate_json(b"[" + b",".join([b'"x"'] * count) + b"]")
    except ValidationError as exc:
        return exc
    raise AssertionError("expected a ValidationError")


def test_describing_many_errors_never_builds_the_error_list() -> None:
    exc = _many_errors(200_000)
    tracemalloc.start()
    try:
        message = describe_validation_error(exc)
        error = payload_error(exc, what="Test")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # exc.errors() would build 200,000 dicts (tens of MiB); a bounded summary costs nothing.
    assert peak < 1 * MiB
    assert message == "200000 errors"
    assert str(error) == "Test body failed validation (200000 errors)"


def test_a_few_errors_are_described_with_their_locations() -> None:
    exc = _many_errors(MAX_LISTED_ERRORS)
    message = describe_validation_error(exc, prefix="items")
    assert message.startswith("items.0: int_parsing; items.1: int_parsing")
    assert message.count("int_parsing") == MAX_DESCRIBED_ERRORS
    assert message.endswith(f"and {MAX_LISTED_ERRORS - MAX_DESCRIBED_ERRORS} more")
    assert "x" not in message.replace("items", "")


# ---- the hostile bodies of bench/bench_hostile.py ----------------------------------------------


def _validation_errors(case: Any) -> int:
    """How many errors the model of ``case`` reports for its body (0 when it validates)."""
    module = importlib.import_module(f"kyc_webhooks.{case.vendor}.models")
    model = module.EVENT_MODELS[case.event_type]
    try:
        model.__pydantic_validator__.validate_json(case.body)
    except ValidationError as exc:
        return int(exc.error_count())
    return 0


@functools.cache
def _cases(shapes: tuple[str, ...], cap: int = DEFAULT_MAX_BODY_SIZE) -> list[Any]:
    # Each vendor's richest model (iDenfy: the identification, 46 lists and maps, sections
    # included), every list and map in it; the benchmark runs every model and shape.
    return list(bench.cases(shapes=shapes, per_vendor=1, cap=cap))


def test_the_cases_cover_every_vendor_and_the_known_hostile_body() -> None:
    cases = _cases(("objects", "ints", "spread"))
    assert {c.vendor for c in cases} == set(bench.VENDORS)
    wheres = {(c.vendor, c.where, c.shape) for c in cases}
    assert ("idenfy", "status.fraudTags", "objects") in wheres
    assert ("idenfy", "AML.0.data", "spread") in wheres  # sections, nested lists
    assert all(len(c.body) <= DEFAULT_MAX_BODY_SIZE for c in cases)
    assert max(len(c.body) for c in cases) > DEFAULT_MAX_BODY_SIZE - 100


def test_hostile_bodies_report_few_errors() -> None:
    # The model's own validator, without the receiver's refusal of bodies with too many objects.
    # 64 KiB bodies: lists of ~20,000 items, well past every bound (the count of errors does not
    # grow with the size any more; before the bounds it grew with every item).
    cases = _cases(("objects", "ints"), 64 * 1024)
    counts = {f"{c.vendor} {c.model} {c.where} {c.shape}": _validation_errors(c) for c in cases}
    worst = max(counts.items(), key=lambda item: item[1])
    assert worst[1] <= ERROR_BOUND, worst


@pytest.mark.parametrize("read", [False, True], ids=["no-op-handler", "handler-reads-all"])
def test_hostile_bodies_are_answered_within_the_memory_bound(read: bool) -> None:
    receiver = bench.receiver(read=read)
    worst = (0, "")
    statuses: set[int] = set()
    for case in _cases(("objects", "ints", "spread")):
        tracemalloc.start()
        try:
            outcome = receiver.handle(case.body, case.headers)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        if case.vendor == "identomat" and case.body.count(b"{") > MAX_JSON_OBJECTS:
            # Its key is inside the body: one too big to read is not authenticated (401), or
            # its vendor not told (400) -- never "the authenticated body is malformed".
            assert isinstance(outcome.error, (AuthenticationError, UndetectableVendorError))
        else:
            statuses.add(outcome.status_code)
        assert len(json.dumps(outcome.response_body())) < 2000
        worst = max(worst, (peak, f"{case.vendor} {case.model} {case.where} {case.shape}"))
    assert statuses <= {200, 400}
    assert worst[0] < MEMORY_BOUND, worst


def test_the_most_models_a_body_can_make_stay_within_the_memory_bound() -> None:
    # Just under the object limit, spread over nested lists (100 AML results x ~200 hits), the
    # handler reading every section: the most models one delivery can build.
    receiver = bench.receiver(read=True)
    (case,) = [c for c in _cases(("budget",)) if c.where == "AML.0.data"]
    assert MAX_JSON_OBJECTS - 200 < case.body.count(b"{") <= MAX_JSON_OBJECTS
    tracemalloc.start()
    try:
        outcome = receiver.handle(case.body, case.headers)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert outcome.status_code == 200
    assert peak < MEMORY_BOUND


def test_a_body_with_too_many_objects_is_refused_before_validation() -> None:
    receiver = bench.receiver()
    payload = {"scanRef": "s", "clientId": "c", "final": True, "status": {"overall": "APPROVED"}}
    for count, status in ((MAX_JSON_OBJECTS - 10, 200), (MAX_JSON_OBJECTS + 1, 400)):
        body, headers = sign(
            "idenfy", {**payload, "x": [{}] * count}, bench.KEY, event_type="IDENTIFICATION"
        )
        outcome = receiver.handle(body, headers)
        assert outcome.status_code == status
    assert f"more than {MAX_JSON_OBJECTS} JSON objects" in str(outcome.error)
    for vendor in ("complycube", "yoti", "identomat"):
        module = importlib.import_module(f"kyc_webhooks.{vendor}.models")
        with pytest.raises(PayloadError, match="JSON objects"):
            module.parse_event(b'{"x":[' + b"{}," * MAX_JSON_OBJECTS + b"{}]}", Headers())
