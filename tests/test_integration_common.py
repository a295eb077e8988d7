"""The framework-free reply every adapter sends (headers forwarding is covered per framework by
the 405 ``Allow`` check in _adapter_contract.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

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


def _views() -> dict[str, Any]:
    """Every adapter entry point that takes a pinned ``vendor=``."""
    pytest.importorskip("flask")
    pytest.importorskip("django")
    pytest.importorskip("fastapi")
    from kyc_webhooks.integrations import flask as flask_adapter
    from kyc_webhooks.integrations.django import views as django_views
    from kyc_webhooks.integrations.fastapi import verified_event

    return {
        "flask": flask_adapter.webhook_view,
        "django": django_views.webhook_view,
        "django-async": django_views.async_webhook_view,
        "fastapi-verified-event": verified_event,
    }


def test_a_pinned_vendor_no_delivery_could_pass_is_refused_when_the_view_is_built() -> None:
    """``vendor="IDENFY"`` (or ``"idenfy "``) answered every delivery 404, a vendor the receiver
    is not configured for 401 -- the vendor retried, then gave up, and nothing said why when the
    view was built (review R39)."""
    receiver = kw.Receiver(kw.Idenfy(signing_key="k"))
    for name, build in _views().items():
        for pinned in ("IDENFY", "idenfy ", "sumsub"):
            with pytest.raises(kw.ConfigurationError, match="names are lower case"):
                build(receiver, vendor=pinned)
        with pytest.raises(kw.ConfigurationError, match="'complycube' is not configured"):
            build(receiver, vendor="complycube")
        assert build(receiver, vendor="idenfy") is not None, name
        assert build(receiver) is not None, name
