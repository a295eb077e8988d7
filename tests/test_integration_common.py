"""The framework-free reply every adapter sends (headers forwarding is covered per framework by
the 405 ``Allow`` check in _adapter_contract.py)."""

from __future__ import annotations

import json

import kyc_webhooks as kw
from kyc_webhooks.integrations._common import reply
from kyc_webhooks.testing import sign


def test_in_progress_outcome_carries_retry_after() -> None:
    outcome = kw.Outcome(
        503, "idenfy", error=kw.DeliveryInProgressError("delivery is being handled"), retry_after=7
    )
    answer = reply(outcome)
    assert answer.status == 503
    assert ("Retry-After", "7") in answer.headers
    assert dict(answer.headers)["Content-Type"].startswith("application/json")
    assert json.loads(answer.body)["error"] == "DeliveryInProgressError"


def test_ordinary_outcomes_have_no_retry_after() -> None:
    receiver = kw.Receiver(kw.Idenfy(signing_key="k"))
    body, headers = sign("idenfy", {"scanRef": "s"}, "k", event_type="IDENTIFICATION")
    for outcome in (receiver.handle(body, headers), receiver.handle(body + b" ", headers)):
        answer = reply(outcome)
        assert answer.status == outcome.status_code
        assert all(name != "Retry-After" for name, _ in answer.headers)
