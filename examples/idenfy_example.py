"""Handle one signed iDenfy delivery end to end, without any web framework.

Run:  python examples/idenfy_example.py

It signs a realistic identification result exactly as iDenfy does (``Idenfy-Signature``: hex
HMAC-SHA256 of the raw body), passes the raw bytes and headers to a Receiver, and shows what a
handler sees -- then shows that a tampered copy is refused with 401. Exits non-zero if anything
is not as expected.
"""

from __future__ import annotations

import logging
import sys

import kyc_webhooks as kw
from kyc_webhooks.idenfy import IdentificationEvent
from kyc_webhooks.testing import sign

SIGNING_KEY = "example-signing-key"  # in production: the notification's signing key, from config

receiver = kw.Receiver(kw.Idenfy(signing_key=SIGNING_KEY))
approved: list[str] = []


@receiver.on_event(IdentificationEvent)
def on_identification(event: IdentificationEvent) -> None:
    # Act only on final results: `final: false` means a manual review will follow.
    if event.final is False:
        print(f"  preliminary result for {event.scan_ref}; waiting for manual review")
        return
    print(f"  final result for {event.scan_ref} (client {event.client_id})")
    approved.append(event.scan_ref)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="  log: %(message)s")
    payload = {
        "final": True,
        "platform": "MOBILE_APP",
        "scanRef": "3b3a5e2e-6c6f-4b8e-9f1e-0d7c2f4a9b11",
        "clientId": "customer-42",
        "startTime": 1732350000,
        "finishTime": 1732350093,
        "status": {"overall": "APPROVED", "fraudTags": [], "mismatchTags": []},
        "data": {"docFirstName": "Jūratė", "docLastName": "Žemaitė", "docType": "ID_CARD"},
    }
    body, headers = sign("idenfy", payload, SIGNING_KEY, event_type="IDENTIFICATION_AUTO_FINISHED")

    print("1. a genuine delivery")
    outcome = receiver.handle(body, headers)
    print(f"  -> HTTP {outcome.status_code}; event: {outcome.event!r}")

    print("2. the same body with one byte changed")
    tampered = body.replace(b"APPROVED", b"APPROVEd")
    rejected = receiver.handle(tampered, headers)
    print(f"  -> HTTP {rejected.status_code}; {type(rejected.error).__name__}: {rejected.error}")

    ok = outcome.status_code == 200 and rejected.status_code == 401 and len(approved) == 1
    print("OK" if ok else "UNEXPECTED OUTCOME")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
