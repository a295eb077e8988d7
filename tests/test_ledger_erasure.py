"""``receiver.decisions.forget``: an erasure request removes a person's verdicts from the decision
ledger and erases the bodies of the deliveries they came from (docs/security.md, "Retention and
erasure"); a store written before ``forget_decisions``/``purge_decisions`` existed still works
with a receiver, and only the erasure says that it cannot."""

from __future__ import annotations

from typing import Any

import pytest

import kyc_webhooks as kw
from kyc_webhooks.store import MemoryStore
from kyc_webhooks.testing import signed_delivery

IDENFY_KEY = "idenfy-key"
IDENTOMAT_KEY = "identomat-key"


class Outdated:
    """A third-party store of the protocol as it was before ``count()`` and the ledger's erasure:
    every member of MemoryStore but the methods added since."""

    def __init__(self) -> None:
        self._inner = MemoryStore()

    def __getattr__(self, name: str) -> Any:
        if name in ("count", "forget_decisions", "purge_decisions"):
            raise AttributeError(name)
        return getattr(self._inner, name)


def receiver_with(store: object) -> kw.Receiver:
    return kw.Receiver(
        kw.Idenfy(signing_key=IDENFY_KEY),
        kw.Identomat(api_key=IDENTOMAT_KEY),
        store=store,  # type: ignore[arg-type]
    )


def test_forget_erases_the_verdicts_and_the_bodies_they_name() -> None:
    store = MemoryStore()
    receiver = receiver_with(store)
    ada = signed_delivery(
        "idenfy", "IDENTIFICATION_MANUAL_FINISHED", IDENFY_KEY, clientId="ada", scanRef="scan-a"
    )
    bob = signed_delivery(
        "idenfy", "IDENTIFICATION_MANUAL_FINISHED", IDENFY_KEY, clientId="bob", scanRef="scan-b"
    )
    ada_id, bob_id = (receiver.handle(*d).delivery_id for d in (ada, bob))
    assert ada_id is not None
    assert bob_id is not None

    assert receiver.decisions.forget(client_ref="ada") == [ada_id]

    assert receiver.decisions.for_client("ada") == []
    assert receiver.decisions.latest("idenfy", "scan-a") is None
    erased = store.get(ada_id)
    assert erased is not None
    assert erased.body is None
    kept = store.get(bob_id)
    assert kept is not None
    assert kept.body is not None
    assert [d.subject for d in receiver.decisions.for_client("bob")] == ["scan-b"]
    assert receiver.decisions.forget(client_ref="ada") == []


def test_forget_finds_a_secret_subject_by_the_vendors_reference() -> None:
    """Identomat's session id is kept as its digest (ledger_subject): forget takes the session
    id, as latest() does."""
    store = MemoryStore()
    receiver = receiver_with(store)
    delivery = signed_delivery("identomat", "session-change", IDENTOMAT_KEY, result="APPROVED")
    decision = receiver.parse(*delivery).decision
    assert decision is not None
    delivery_id = receiver.handle(*delivery).delivery_id
    assert receiver.decisions.latest("identomat", decision.subject) is not None

    assert receiver.decisions.forget(vendor="identomat", subject=decision.subject) == [delivery_id]
    assert receiver.decisions.latest("identomat", decision.subject) is None


def test_a_store_without_the_later_methods_still_serves_a_receiver() -> None:
    receiver = receiver_with(Outdated())
    delivery = signed_delivery(
        "idenfy", "IDENTIFICATION_MANUAL_FINISHED", IDENFY_KEY, clientId="ada", scanRef="scan-a"
    )
    assert receiver.handle(*delivery).status_code == 200
    assert [d.subject for d in receiver.decisions.for_client("ada")] == ["scan-a"]
    with pytest.raises(kw.UsageError, match="forget_decisions"):
        receiver.decisions.forget(client_ref="ada")
    # Nothing was erased on the way to that refusal.
    assert [d.subject for d in receiver.decisions.for_client("ada")] == ["scan-a"]
