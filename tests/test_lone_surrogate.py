"""A signed body that is valid JSON but holds an escaped lone surrogate (``"\\ud83d"``: what
JavaScript's ``JSON.stringify`` and Python's ``json.dumps`` write for a string cut inside an emoji,
and what ``testing.sign`` sends) is read like ``json.loads`` reads it, by every vendor and every
path that reads a body: arrival, the store's re-parse, Identomat's key check, iDenfy's type
inference, an unlisted type's fallback. Everything else pydantic-core refuses stays refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import kyc_webhooks as kw
from _lossless import assert_lossless
from kyc_webhooks import testing
from kyc_webhooks._validation import decode_json, validate_body
from kyc_webhooks.models import KycModel, Timestamp
from kyc_webhooks.store import Store

SECRETS = {"idenfy": "k", "complycube": "k", "yoti": "u:p", "identomat": "k"}
CUT = "Jo\ud83d"  # "Jo" and the first half of an emoji


def _complycube(payload: dict[str, Any]) -> None:
    payload["payload"]["entityName"] = CUT


def _idenfy(payload: dict[str, Any]) -> None:
    payload["data"]["orgFirstName"] = CUT


def _identomat(payload: dict[str, Any]) -> None:
    payload["text"] = CUT


def _yoti(payload: dict[str, Any]) -> None:
    payload["note"] = CUT


#: vendor -> (event type, put CUT into the body, read it from the event)
CASES: dict[str, tuple[str, Callable[[dict[str, Any]], None], Callable[[Any], object]]] = {
    "complycube": ("client.created", _complycube, lambda event: event.payload.entity_name),
    "idenfy": ("IDENTIFICATION_AUTO_FINISHED", _idenfy, lambda event: event.data.org_first_name),
    "identomat": ("one-time-password-request", _identomat, lambda event: event.text),
    "yoti": ("session_completion", _yoti, lambda event: (event.model_extra or {})["note"]),
}


def _delivery(vendor: str) -> tuple[bytes, dict[str, str]]:
    event_type, cut, _ = CASES[vendor]
    payload = testing.sample_payload(vendor, event_type)
    cut(payload)
    body, headers = testing.sign(vendor, payload, SECRETS[vendor], event_type=event_type)
    assert b"\\ud83d" in body  # the escape, as a vendor's JSON encoder writes it
    return body, headers


def _receiver(**options: Any) -> tuple[kw.Receiver, list[kw.WebhookEvent]]:
    receiver = kw.Receiver(*testing.make_vendors(SECRETS), **options)
    seen: list[kw.WebhookEvent] = []
    receiver.on("*")(seen.append)
    return receiver, seen


@pytest.mark.parametrize("vendor", list(CASES))
def test_a_lone_surrogate_escape_is_read_as_json_loads_reads_it(vendor: str) -> None:
    body, headers = _delivery(vendor)
    receiver, seen = _receiver()
    outcome = receiver.handle(body, headers)
    assert (outcome.status_code, outcome.error, outcome.handled) == (200, None, 1)
    assert seen == [outcome.event]
    assert CASES[vendor][2](seen[0]) == CUT
    assert_lossless(seen[0], json.loads(body))
    # model_dump_json writes the surrogate as its escape: the JSON the vendor sent.
    assert json.loads(seen[0].model_dump_json(by_alias=True, exclude_unset=True)) == json.loads(
        body
    )


@pytest.mark.parametrize("vendor", list(CASES))
def test_a_stored_delivery_with_a_lone_surrogate_is_stored_deduplicated_and_parsed_again(
    vendor: str, store: Store
) -> None:
    body, headers = _delivery(vendor)
    receiver, seen = _receiver(store=store)
    first = receiver.handle(body, headers)
    assert (first.status_code, first.handled, first.duplicate) == (200, 1, False)
    again = receiver.handle(body, headers)
    assert (again.status_code, again.handled, again.duplicate) == (200, 0, True)
    assert again.delivery_id == first.delivery_id
    assert len(seen) == 1
    assert CASES[vendor][2](seen[0]) == CUT


@pytest.mark.parametrize("vendor", list(CASES))
def test_a_deferred_delivery_with_a_lone_surrogate_is_parsed_again_by_process(
    vendor: str, tmp_path: Path
) -> None:
    body, headers = _delivery(vendor)
    store = kw.SQLiteStore(tmp_path / "inbox.sqlite3")
    try:
        deferring, _ = _receiver(store=store, defer=True)
        outcome = deferring.handle(body, headers)
        assert outcome.status_code == 202
        assert outcome.delivery_id is not None
        # Another receiver on the same file, as a queue worker would be.
        worker, seen = _receiver(store=store)
        done = worker.process(outcome.delivery_id)
        assert (done.status_code, done.handled) == (200, 1)
        assert CASES[vendor][2](seen[0]) == CUT
        assert worker.process(outcome.delivery_id).duplicate
        assert len(seen) == 1
    finally:
        store.close()


def test_an_idenfy_body_without_its_type_header_is_still_inferred() -> None:
    body, headers = _delivery("idenfy")
    del headers["Idenfy-Event-Type"]
    event = _receiver()[0].parse(body, headers)
    assert event.event_type == "IDENTIFICATION"  # infer_event_type read the body
    assert CASES["idenfy"][2](event) == CUT


def test_an_unlisted_complycube_type_with_a_lone_surrogate_is_an_unknown_event() -> None:
    payload = testing.sample_payload("complycube", "client.created")
    payload["type"] = "client.renamed"
    payload["payload"]["entityName"] = CUT
    body, headers = testing.sign("complycube", payload, SECRETS["complycube"])
    event = _receiver()[0].parse(body, headers)
    assert isinstance(event, kw.UnknownEvent)
    assert event.event_type == "client.renamed"
    assert_lossless(event, json.loads(body))


def test_identomat_with_a_lone_surrogate_authenticates_and_a_wrong_key_does_not() -> None:
    body, headers = _delivery("identomat")
    assert _receiver()[0].handle(body, headers).status_code == 200
    wrong = body.replace(b'"callbackApiKey":"k"', b'"callbackApiKey":"x"')
    assert wrong != body
    outcome = _receiver()[0].handle(wrong, headers)
    assert (outcome.status_code, type(outcome.error)) == (401, kw.AuthenticationError)


@pytest.mark.parametrize(
    "twice",
    [
        b'"callbackApiKey":"k","callbackApiKey":"k"',  # repeated
        b'"callbackApi\\u004bey":"k"',  # escaped name
    ],
    ids=["repeated", "escaped"],
)
def test_identomat_key_rules_still_hold_with_a_lone_surrogate(twice: bytes) -> None:
    body, headers = _delivery("identomat")
    ambiguous = body.replace(b'"callbackApiKey":"k"', twice)
    assert ambiguous != body
    outcome = _receiver()[0].handle(ambiguous, headers, vendor="identomat")
    assert (outcome.status_code, type(outcome.error)) == (401, kw.AuthenticationError)


def _signed(vendor: str, body: bytes) -> tuple[bytes, dict[str, str]]:
    if vendor == "identomat":  # the key is inside the body: keep the bytes as they are
        return body, {"Content-Type": "application/json"}
    return testing.sign(vendor, body, SECRETS[vendor], event_type=CASES[vendor][0])


#: Bodies pydantic-core refuses for something besides the surrogate: still refused.
_REFUSED = {
    "invalid-utf8": lambda body: body.replace(b'"Jo\\ud83d"', b'"Jo\\ud83d\xff"'),
    "encoded-surrogate": lambda body: body.replace(b'"Jo\\ud83d"', b'"Jo\\ud83d\xed\xa0\xbd"'),
    "utf8-bom": lambda body: b"\xef\xbb\xbf" + body,
    "trailing-comma": lambda body: body[:-1] + b",}",
    "too-deep": lambda body: body[:-1] + b',"deep":' + b"[" * 300 + b"]" * 300 + b"}",
    "escaped-backslash": lambda body: body.replace(b'"Jo\\ud83d"', b'"Jo\\\\ud83d\\"'),
}


@pytest.mark.parametrize("vendor", list(CASES))
@pytest.mark.parametrize("name", list(_REFUSED))
def test_what_pydantic_core_refuses_besides_the_surrogate_is_still_refused(
    vendor: str, name: str
) -> None:
    body, _ = _delivery(vendor)
    broken = _REFUSED[name](body)
    assert broken != body
    outcome = _receiver()[0].handle(*_signed(vendor, broken))
    expected = 401 if vendor == "identomat" else 400
    assert (outcome.status_code, outcome.handled) == (expected, 0)
    with pytest.raises(ValueError, match=r"at line \d+ column \d+"):
        decode_json(broken)


@pytest.mark.parametrize("vendor", list(CASES))
@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_a_non_finite_literal_is_answered_as_without_the_surrogate(
    vendor: str, literal: bytes
) -> None:
    # pydantic-core reads NaN and Infinity (an extension of JSON); the surrogate changes nothing.
    body, _ = _delivery(vendor)
    with_surrogate = body[:-1] + b',"n":' + literal + b"}"
    without = with_surrogate.replace(b'"Jo\\ud83d"', b'"Jo"')
    answers = [
        _receiver()[0].handle(*_signed(vendor, b)).status_code for b in (with_surrogate, without)
    ]
    assert answers[0] == answers[1]


def test_the_surrogate_helpers_read_pairs_and_escaped_backslashes_like_json_loads() -> None:
    body = b'{"a":"\\ud83d\\ude00 \\ud83d","b":"\\\\\\ud83d","c":["\\udfff"]}'
    assert (
        decode_json(body)
        == json.loads(body)
        == {
            "a": "\U0001f600 \ud83d",
            "b": "\\\ud83d",
            "c": ["\udfff"],
        }
    )
    assert decode_json(b'{"x": "\\u00e9"}') == {"x": "é"}  # pydantic-core's own reading
    with pytest.raises(ValueError, match=r"at line \d+ column \d+"):
        decode_json(b'{"a":"\\ud83d",}')


class _Model(KycModel):
    name: str | None = None
    when: Timestamp | None = None


def test_validate_body_gives_the_model_validate_json_would_give() -> None:
    validator = _Model.__pydantic_validator__
    plain = b'{"name":"Jo","when":"2024-03-18T09:41:27Z","x":[1,2.5,null,true]}'
    cut = plain.replace(b'"Jo"', b'"Jo\\ud83d"')
    read = validate_body(validator, cut)
    assert read == _Model.model_validate_json(plain).model_copy(update={"name": CUT})
    assert read.when.wire == "2024-03-18T09:41:27Z"
    assert read.model_dump(mode="json", by_alias=True, exclude_unset=True) == json.loads(cut)


def test_model_dump_json_writes_a_lone_surrogate_as_its_escape() -> None:
    model = _Model.model_validate({"name": CUT, "when": 1710754887, "x": [1, {"k": "\udc00"}]})
    assert model.model_dump_json() == (
        '{"name":"Jo\\ud83d","when":1710754887,"x":[1,{"k":"\\udc00"}]}'
    )
    assert json.loads(model.model_dump_json(indent=2)) == model.model_dump(mode="json")
    assert model.model_dump_json(indent=2).startswith('{\n  "name": "Jo\\ud83d",\n')
    assert json.loads(model.model_dump_json(exclude={"x"})) == {"name": CUT, "when": 1710754887}
    plain = _Model(name="Jo", x=[1e20, "é"])
    assert plain.model_dump_json(indent=1) == BaseModel.model_dump_json(plain, indent=1)


@pytest.mark.parametrize("vendor", list(CASES))
def test_a_lone_surrogate_in_an_object_key_is_refused_as_before(
    vendor: str, tmp_path: Path
) -> None:
    """A key names a field, and nothing can serialise a key holding a lone surrogate (a dump, a
    Yoti delivery key built from one): such a body is a 400, never a 503 on every retry."""
    event_type, _, _ = CASES[vendor]
    payload = testing.sample_payload(vendor, event_type)
    payload["extra"] = {CUT: "value"}  # a nested key, under a field of free-form data
    body, headers = testing.sign(vendor, payload, SECRETS[vendor], event_type=event_type)
    assert b"\\ud83d" in body
    receiver, seen = _receiver(store=kw.SQLiteStore(tmp_path / "keys.sqlite3"))
    outcome = receiver.handle(body, headers)
    assert outcome.status_code == (401 if vendor == "identomat" else 400)
    assert seen == []
    with pytest.raises(ValueError, match="escape"):
        decode_json(body)
