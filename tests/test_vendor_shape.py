"""The four vendor packages share one inner shape (CONTRIBUTING.md, "Vendor package shape").

Each ``<vendor>.models`` has ``EVENT_MODELS`` (a plain dict) and ``parse_event(body, headers)``;
each package exports the header and field names its authentication reads (defined in its ``_wire``
leaf, which ``_auth`` and ``models`` import); the model is chosen by
:class:`~kyc_webhooks.models.EventModels` (ComplyCube, Yoti, Identomat: a body field) or by the
``Idenfy-Event-Type`` header (iDenfy), and an unknown type gets the vendor's unknown model.
"""

from __future__ import annotations

import importlib
import inspect
import json
from typing import Any

import pytest

import kyc_webhooks as kw
from kyc_webhooks.complycube.models import (
    CheckStatusEvent,
    ClientCreatedEvent,
    ComplyCubeUnknownEvent,
)
from kyc_webhooks.models import EventModels, UnknownEvent, WebhookEvent
from kyc_webhooks.testing import sign

VENDORS = ("idenfy", "complycube", "yoti", "identomat")

#: The header and body-field names each vendor's authentication reads ([vendor docs]).
CONSTANTS = {
    "idenfy": {"SIGNATURE_HEADER", "EVENT_TYPE_HEADER", "AUTHORIZATION_HEADER"},
    "complycube": {"SIGNATURE_HEADER"},
    "yoti": {"AUTHORIZATION_HEADER"},
    "identomat": {"API_KEY_FIELD"},
}


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_models_module_has_the_same_entry_points(vendor: str) -> None:
    models = importlib.import_module(f"kyc_webhooks.{vendor}.models")
    assert list(inspect.signature(models.parse_event).parameters) == ["body", "headers"]
    assert type(models.EVENT_MODELS) is dict
    assert tuple(models.EVENT_MODELS) == models.EVENT_TYPES[: len(models.EVENT_MODELS)]


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_package_exports_its_header_and_field_names(vendor: str) -> None:
    package = importlib.import_module(f"kyc_webhooks.{vendor}")
    auth = importlib.import_module(f"kyc_webhooks.{vendor}._auth")
    wire = importlib.import_module(f"kyc_webhooks.{vendor}._wire")  # the leaf that defines them
    defined = {
        name
        for name, value in vars(wire).items()
        if name.isupper() and not name.startswith("_") and isinstance(value, str)
    }
    assert defined == CONSTANTS[vendor]
    assert defined <= set(package.__all__)
    assert defined <= set(auth.__all__)
    for name in defined:
        assert getattr(package, name) == getattr(auth, name) == getattr(wire, name)


def test_idenfy_public_names_come_from_one_list() -> None:
    # __all__ is the list: every public class of the private model modules is in it (publish()
    # names the facade as their module), and every name in it resolves.
    from kyc_webhooks.idenfy import models

    for module in ("_aml", "_base", "_enums", "_events", "_identification", "_sections"):
        namespace = vars(importlib.import_module(f"kyc_webhooks.idenfy.{module}"))
        public = {
            name
            for name, value in namespace.items()
            if isinstance(value, type)
            and value.__module__ == "kyc_webhooks.idenfy.models"
            and not name.startswith("_")
        }
        assert public <= set(models.__all__), (module, public - set(models.__all__))
    package = importlib.import_module("kyc_webhooks.idenfy")
    for name in models.__all__:
        assert getattr(models, name) is getattr(package, name), name


def _parse(vendor: str, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    models = importlib.import_module(f"kyc_webhooks.{vendor}.models")
    return models.parse_event(json.dumps(payload).encode(), kw.Headers(headers))


def test_complycube_chooses_every_spelling_in_one_table_and_open_outcomes_by_rule() -> None:
    base = {"id": "5f0f5e8f3e6d0f0008d3e6b1", "payload": {"id": "c"}}
    for wire, current in (
        ("check.complete.clear", "check.completed.clear"),
        ("check.completed.clear", "check.completed.clear"),
        ("check.complete", "check.completed"),
    ):
        event = _parse("complycube", {**base, "type": wire})
        assert type(event) is CheckStatusEvent
        assert event.type == wire  # the wire value is kept
        assert event.event_type == current
    for wire in ("check.completed.escalated", "check.complete.escalated", "check.monitoring.x"):
        event = _parse("complycube", {**base, "type": wire})
        assert type(event) is CheckStatusEvent, wire
    for payload, event_type in (
        ({**base, "type": "check.completed.a.b"}, "check.completed.a.b"),
        ({**base, "type": "thing.happened"}, "thing.happened"),
        ({**base, "type": ""}, "UNKNOWN"),
        ({**base, "type": 5}, "UNKNOWN"),
        (base, "UNKNOWN"),
    ):
        event = _parse("complycube", payload)
        assert type(event) is ComplyCubeUnknownEvent
        assert event.event_type == event_type
    assert type(_parse("complycube", {**base, "type": "client.created"})) is ClientCreatedEvent


def test_a_documented_type_with_a_bad_field_is_a_400_naming_type_and_field() -> None:
    payload = {"id": "i", "type": "check.completed.clear", "payload": {"status": 3}}
    with pytest.raises(kw.PayloadError) as caught:
        _parse("complycube", payload)
    message = str(caught.value)
    assert message.startswith("ComplyCube body failed validation (check.completed.clear.payload")
    assert "3" not in message.replace("check", "")


@pytest.mark.parametrize("body", [b"[1]", b'"x"', b"3"])
@pytest.mark.parametrize("vendor", ["complycube", "yoti", "identomat"])
def test_a_body_that_is_not_an_object_is_a_400(vendor: str, body: bytes) -> None:
    models = importlib.import_module(f"kyc_webhooks.{vendor}.models")
    with pytest.raises(kw.PayloadError, match="body must be a JSON object"):
        models.parse_event(body, kw.Headers())


def test_yoti_takes_the_subscription_spelling_as_the_same_topic() -> None:
    event = _parse("yoti", {"session_id": "s", "topic": "SESSION_COMPLETION"})
    assert type(event).__name__ == "SessionCompletionEvent"
    assert event.event_type == "session_completion"
    assert event.topic == "SESSION_COMPLETION"
    with pytest.raises(kw.PayloadError, match=r"\(topic: missing\)"):
        _parse("yoti", {"session_id": "s"})


class _Base(WebhookEvent):
    kind: str


class _A(_Base):
    a: int = 0


class _Unknown(UnknownEvent, _Base):
    pass


def test_event_models_asks_the_fallback_only_for_values_it_does_not_list() -> None:
    asked: list[Any] = []

    def fallback(body: dict[str, Any]) -> type[_Base] | None:
        asked.append(body.get("kind"))
        return _A if body.get("kind") == "A-LEGACY" else None

    chooser = EventModels({"A": _A}, _Unknown, field="kind", fallback=fallback)
    assert type(chooser.validate(b'{"kind":"A","a":1}', what="T")) is _A
    assert asked == []
    assert type(chooser.validate(b'{"kind":"A-LEGACY","a":1}', what="T")) is _A
    assert type(chooser.validate(b'{"kind":"B"}', what="T")) is _Unknown
    assert asked == ["A-LEGACY", "B"]
    with pytest.raises(kw.PayloadError, match=r"^T body failed validation \(A\.a: int_parsing\)$"):
        chooser.validate(b'{"kind":"A","a":"x"}', what="T")
    with pytest.raises(kw.PayloadError, match=r"\(kind: missing\)"):
        chooser.validate(b"{}", what="T")
    with pytest.raises(kw.PayloadError, match="not valid UTF-8 JSON"):
        chooser.validate(b'{"kind":', what="T")


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": "i", "type": "foo.bar", "type": "check.completed", "payload": {"id": "c"}}',
        b'{"id": "i", "type": "check.completed", "type": "foo.bar", "payload": {"id": "c"}}',
        # the tag as the first key: pydantic 2.7's union then reads the last copy, the field the
        # first
        b'{"type": "foo.bar", "type": "check.completed", "id": "i", "payload": {"id": "c"}}',
        b'{"type": "check.completed", "type": "foo.bar", "id": "i", "payload": {"id": "c"}}',
        b'{"type": "client.created", "type": "check.completed", "id": "i", "payload": {"id": "c"}}',
    ],
)
def test_a_repeated_type_never_gives_a_model_that_disagrees_with_the_event_type(
    body: bytes,
) -> None:
    # JSON readers disagree on which copy of a repeated key counts (pydantic 2.7's tagged union
    # reads the first, the rest the last). Whatever the reader: a 400, or one copy throughout.
    models = importlib.import_module("kyc_webhooks.complycube.models")
    try:
        event = models.parse_event(body, kw.Headers())
    except kw.PayloadError as exc:
        message = str(exc)
    else:
        message = ""
    if message:
        assert "more than once" in message
        return
    expected = {
        "check.completed": CheckStatusEvent,
        "client.created": ClientCreatedEvent,
        "foo.bar": ComplyCubeUnknownEvent,
    }
    assert type(event) is expected[event.event_type]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 300 + b"]" * 300, "(recursion limit exceeded at line 1 column "),
        (b'{"id":' + b"9" * 5000 + b"}", "(number out of range at line 1 column "),
        (b'{"id": "a"', "(EOF while parsing an object at line 1 column "),
    ],
    ids=["too-deep", "huge-integer", "truncated"],
)
def test_a_body_the_parser_refuses_says_why_without_quoting_it(body: bytes, reason: str) -> None:
    # "not valid UTF-8 JSON" alone sent integrators looking at encodings for a body nested too
    # deep or holding an integer of thousands of digits (review R28): the parser's reason and
    # its position, never the body's text.
    receiver = kw.Receiver(kw.ComplyCube(secret="k"))
    outcome = receiver.handle(*sign("complycube", body, "k"))
    assert outcome.status_code == 400
    assert outcome.error is not None
    message = outcome.error.message
    assert message.startswith("ComplyCube body is not valid UTF-8 JSON ")
    assert reason in message
    assert "999" not in message
