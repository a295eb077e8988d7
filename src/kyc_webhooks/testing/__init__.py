"""Testing toolkit: sign deliveries exactly as each vendor does, build realistic sample payloads,
and (through the pytest plugin) fixtures that make a handler test three lines long.

    from kyc_webhooks import testing

    testing.event_types("complycube")               # every documented event type
    payload = testing.sample_payload("identomat", "session-change", result="REJECTED")
    body, headers = testing.sign("identomat", payload, api_key)
    body, headers = testing.signed_delivery("yoti", "session_completion", token)  # both at once

    tester = testing.WebhookTester()        # a Receiver for all four vendors + throwaway secrets
    outcome = tester.deliver("identomat", "session-change", result="REJECTED")

The signing code is independent of the verification code on purpose, so that a bug in one cannot
hide behind the same bug in the other. Nothing here is imported by ``import kyc_webhooks``.
"""

from __future__ import annotations

from ._payloads import REMOVE, deep_update, event_types, sample_payload, set_path
from ._signing import dumps, sign
from ._tester import (
    Delivery,
    WebhookTester,
    generate_secrets,
    make_vendors,
    signed_delivery,
    tamper,
)

__all__ = [
    "REMOVE",
    "Delivery",
    "WebhookTester",
    "deep_update",
    "dumps",
    "event_types",
    "generate_secrets",
    "make_vendors",
    "sample_payload",
    "set_path",
    "sign",
    "signed_delivery",
    "tamper",
]
