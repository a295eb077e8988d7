"""``manage.py kyc_webhooks forget``: the Django command's erasure request, as ``kyc-webhooks inbox
forget`` (docs/security.md, "Retention and erasure"): a person's decisions leave the app's ledger
(``DecisionRecord``) and the bodies of the deliveries they came from are erased."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from kyc_webhooks.integrations.django.conf import project_receiver
from kyc_webhooks.integrations.django.models import DecisionRecord, Delivery
from kyc_webhooks.testing import signed_delivery

pytestmark = pytest.mark.django_db(transaction=True)
KEY = "idenfy-test-key"


def _deliver(client: str, scan_ref: str) -> str:
    body, headers = signed_delivery(
        "idenfy", "IDENTIFICATION_MANUAL_FINISHED", KEY, clientId=client, scanRef=scan_ref
    )
    outcome = project_receiver().handle(body, headers)
    assert outcome.status_code == 200
    assert outcome.delivery_id is not None
    return outcome.delivery_id


def _forget(*args: str) -> str:
    out = io.StringIO()
    call_command("kyc_webhooks", "forget", *args, stdout=out)
    return out.getvalue()


def test_forget_removes_the_decisions_and_erases_their_bodies() -> None:
    ada, bob = _deliver("ada", "scan-a"), _deliver("bob", "scan-b")
    assert _forget("--client-ref", "ada", "--dry-run") == (
        "would forget 1 decision and erase the bodies of the person's 1 delivery\n"
    )
    assert DecisionRecord.objects.filter(delivery_id=ada).exists()

    assert _forget("--client-ref", "ada") == (
        "forgot 1 decision and erased the bodies of the person's 1 delivery (handled or not, "
        "with a verdict or without)\n"
    )

    assert not DecisionRecord.objects.filter(delivery_id=ada).exists()
    assert Delivery.objects.get(id=ada).body is None
    assert DecisionRecord.objects.filter(delivery_id=bob).exists()
    assert Delivery.objects.get(id=bob).body is not None
    assert _forget("--vendor", "idenfy", "--subject", "scan-b") == (
        "forgot 1 decision and erased the bodies of the person's 1 delivery (handled or not, "
        "with a verdict or without)\n"
    )
    assert not DecisionRecord.objects.exists()


def test_forget_older_than_is_the_ledger_retention() -> None:
    ada = _deliver("ada", "scan-a")
    assert _forget("--older-than", "0s", "--dry-run").startswith(
        "would forget the decisions of deliveries received before "
    )
    assert DecisionRecord.objects.exists()
    assert _forget("--older-than", "0s") == "forgot 1 decision\n"
    assert not DecisionRecord.objects.exists()
    assert Delivery.objects.get(id=ada).body is not None  # bodies: `erase-bodies`


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("--vendor", "idenfy"),
        ("--client-ref", "ada", "--subject", "scan-a"),
        ("--client-ref", "ada", "--older-than", "1d"),
    ],
    ids=["nothing", "vendor-only", "client-and-subject", "client-and-age"],
)
def test_forget_takes_one_selector(args: tuple[str, ...]) -> None:
    _deliver("ada", "scan-a")
    with pytest.raises(CommandError, match="--client-ref REF"):
        _forget(*args)
    assert DecisionRecord.objects.exists()


@pytest.mark.parametrize("vendor", ["idenfyy", "iDenfy"])
def test_forget_refuses_a_vendor_it_does_not_know(vendor: str) -> None:
    """A typo in ``--vendor`` forgot nothing and exited 0 (review 14): an erasure request was
    recorded as done while the person's verdict and body stayed. A usage error now (exit 2), as
    ``kyc-webhooks inbox forget``."""
    ada = _deliver("ada", "scan-a")
    # call_command raises the parser's error (manage.py on the command line exits 2 with it).
    with pytest.raises(CommandError, match="argument --vendor: invalid choice"):
        _forget("--vendor", vendor, "--subject", "scan-a")
    assert DecisionRecord.objects.filter(delivery_id=ada).exists()


def test_forget_of_a_verification_being_handled_is_exit_code_3() -> None:
    """While a delivery of the verification holds its subject lease nothing is removed, and the
    exit code is the CLI's "run it again" (3), not "a delivery failed" (1) (review 14)."""
    from kyc_webhooks.decisions import Decision, DecisionStatus, ledger_entry

    store = project_receiver().store
    assert store is not None
    ada = _deliver("ada", "scan-a")
    record = store.get(ada)
    assert record is not None
    claim = store.claim(ada, lease=60.0, replay=True)
    assert claim is not None
    decision = Decision(
        status=DecisionStatus.APPROVED,
        final=True,
        vendor="idenfy",
        event_type=record.event_type,
        subject="scan-a",
        client_ref="ada",
    )
    ticket = store.begin_decision(claim, ledger_entry(decision, record), lease=60.0)
    assert ticket is not None
    with pytest.raises(CommandError) as info:
        _forget("--client-ref", "ada")
    assert info.value.returncode == 3
    assert DecisionRecord.objects.filter(subject="scan-a").exists()
