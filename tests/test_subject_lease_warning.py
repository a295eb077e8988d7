"""Handlers that outrun the decision ledger's subject lease are logged (review R21): while they
run past ``lease_timeout``, another delivery of the same verification can take the subject and
run its own decision handlers alongside -- the serialisation the ledger promises is gone, and
nothing said so (the delivery's own claim was not taken over, so ``complete`` succeeded)."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

import kyc_webhooks as kw
from _stores import STORES, FakeClock
from kyc_webhooks.testing import signed_delivery

KEY = "subject-lease-key"
WARNING = "outran the decision ledger's subject lease"


def _delivery(scan_ref: str) -> tuple[bytes, dict[str, str]]:
    return signed_delivery(
        "idenfy",
        "IDENTIFICATION_MANUAL_FINISHED",
        KEY,
        scanRef=scan_ref,
        final=True,
        status__overall="APPROVED",
    )


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@pytest.mark.parametrize("entry", ["handle", "handle_async"])
def test_a_handler_slower_than_the_lease_is_logged_and_a_fast_one_is_not(
    kind: str, entry: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = STORES[kind](tmp_path, FakeClock())
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store, lease_timeout=0.8)
    slow = {"scan-slow"}

    @receiver.on_decision()
    def on_decision(decision: kw.Decision) -> None:
        if decision.subject in slow:
            time.sleep(1.0)

    def deliver(scan_ref: str) -> kw.Outcome:
        if entry == "handle":
            return receiver.handle(*_delivery(scan_ref))
        return asyncio.run(receiver.handle_async(*_delivery(scan_ref)))

    caplog.set_level(logging.WARNING, logger="kyc_webhooks")
    assert deliver("scan-fast").status_code == 200
    assert WARNING not in caplog.text
    outcome = deliver("scan-slow")
    assert outcome.status_code == 200
    (line,) = [r.getMessage() for r in caplog.records if WARNING in r.getMessage()]
    assert f"delivery_id={outcome.delivery_id}" in line
    assert "lease_timeout=0.8s" in line
    store.close()
