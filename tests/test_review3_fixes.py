"""Review findings (2026-11-30): an iDenfy event-type header that only its stored, escaped form
makes usable; free text among decision reasons; criminal-offence values in ``repr()``; numbers
too large for a float dumped back as ``null``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import kyc_webhooks as kw
from _lossless import assert_lossless
from kyc_webhooks.idenfy._aml import CriminalOffense
from kyc_webhooks.testing import sample_payload, sign, signed_delivery


def _identification_with_header(event_type: str) -> tuple[bytes, dict[str, str]]:
    payload = sample_payload("idenfy", "IDENTIFICATION")
    body, headers = sign("idenfy", json.dumps(payload).encode(), "k", event_type="IDENTIFICATION")
    headers["Idenfy-Event-Type"] = event_type
    return body, headers


def test_a_header_ignored_on_arrival_is_ignored_when_the_stored_delivery_is_parsed_again(
    tmp_path: Path,
) -> None:
    # A header that is not ASCII (a byte decoded with surrogateescape) is ignored on arrival; the
    # store keeps it in an escaped ASCII form, which must read as ignored too.
    store = kw.SQLiteStore(tmp_path / "inbox.sqlite3")
    deferring = kw.Receiver(kw.Idenfy(signing_key="k"), store=store, defer=True)
    seen: list[str] = []
    deferring.on("*")(lambda event: seen.append(event.event_type))
    outcome = deferring.handle(*_identification_with_header("IDENT\udcffX"))
    assert outcome.status_code == 202
    summary = deferring.process_pending()
    assert [o.status_code for o in summary.outcomes] == [200]
    assert seen == ["IDENTIFICATION"]
    assert outcome.delivery_id is not None
    assert deferring.replay(outcome.delivery_id).status_code == 200
    store.close()


@pytest.mark.parametrize("value", ["IDENT\\udcffX", "IDENTIFICATION AUTO", "X" * 65, "A/B"])
def test_header_values_outside_the_type_name_charset_count_as_absent(value: str) -> None:
    receiver = kw.Receiver(kw.Idenfy(signing_key="k"))
    event = receiver.parse(*_identification_with_header(value))
    assert event.event_type == "IDENTIFICATION"  # inferred from the body, as without the header


def test_company_review_reasons_never_hold_the_free_text_deny_reason() -> None:
    free_text = "Director Jurate Zemaite on PEP list"
    body, headers = signed_delivery(
        "idenfy", "COMPANY_REVIEW", "k", approvalStatus="DENIED", denyReason=free_text
    )
    event = kw.Receiver(kw.Idenfy(signing_key="k")).parse(body, headers)
    assert getattr(event, "deny_reason", None) == free_text  # still on the event
    decision = event.decision
    assert decision is not None
    assert decision.status is kw.DecisionStatus.DECLINED
    assert free_text not in decision.reasons
    assert free_text not in repr(decision)


def test_a_criminal_offence_masks_every_value_in_repr() -> None:
    values = {
        "offense": "Fraud",
        "offenseClass": "Felony",
        "offenseDescription": "Obtained property by deception",
        "offenseLevel": "Serious",
        "sentenceDate": "2015-03-02",
        "courtName": "Vilnius District Court",
        "courtCaseNumber": "1-2231-645/2015",
        "releaseDate": "2017-03-02",
    }
    offense = CriminalOffense.model_validate(values)
    text = repr(offense)
    for value in values.values():
        assert value not in text
    assert_lossless(offense, values)


@pytest.mark.parametrize("number", [b"1e400", b"-1e400"])
def test_a_number_too_large_for_a_float_is_not_dumped_back_as_null(number: bytes) -> None:
    body, headers = signed_delivery("complycube", "client.created", "s")
    body = body[:-1] + b',"huge":' + number + b"}"
    body, headers = sign("complycube", body, "s")
    event = kw.Receiver(kw.ComplyCube(secret="s")).parse(body, headers)
    dumped = event.model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert dumped == json.loads(body)
    assert dumped["huge"] is not None


# -- review 4: readable parts of delivery keys, log lines ------------------------------------------


@pytest.mark.parametrize(
    "session_id", ["s1\nWARNING kyc_webhooks forged", "x" * 3000, "sess-\u00e9"]
)
def test_a_yoti_session_id_that_is_no_readable_id_is_left_out_of_the_key(session_id: str) -> None:
    receiver = kw.Receiver(kw.Yoti(auth_token="user:pass"))
    body, headers = sign(
        "yoti", {"session_id": session_id, "topic": "session_completion"}, "user:pass"
    )
    key = receiver.parse(body, headers).delivery_key
    assert key.startswith("yoti:-:session_completion:")
    assert len(key) < 100


def test_a_normal_yoti_session_id_stays_readable_in_the_key() -> None:
    receiver = kw.Receiver(kw.Yoti(auth_token="user:pass"))
    body, headers = sign(
        "yoti", {"session_id": "a1b2-c3", "topic": "session_completion"}, "user:pass"
    )
    assert receiver.parse(body, headers).delivery_key.startswith("yoti:a1b2-c3:session_completion:")


def test_an_identomat_type_that_is_no_readable_id_is_left_out_of_the_key() -> None:
    receiver = kw.Receiver(kw.Identomat(api_key="k3"))
    body, headers = sign("identomat", {"type": "new-type\nINFO forged", "sessionId": "s"}, "k3")
    event = receiver.parse(body, headers)
    assert event.event_type == "new-type\nINFO forged"  # routing keeps the vendor's own text
    assert event.delivery_key.startswith("identomat:-:")


def test_log_lines_escape_line_breaks_of_event_types(caplog: pytest.LogCaptureFixture) -> None:
    receiver = kw.Receiver(kw.Identomat(api_key="k3"))
    body, headers = sign(
        "identomat", {"type": "new-type\nINFO forged line", "sessionId": "s"}, "k3"
    )
    with caplog.at_level("INFO", logger="kyc_webhooks"):
        assert receiver.handle(body, headers).status_code == 200
    lines = caplog.text.splitlines()
    assert not any(line.startswith("INFO forged line") for line in lines)
    assert any("event_type=new-type\\nINFO forged line" in line for line in lines)
