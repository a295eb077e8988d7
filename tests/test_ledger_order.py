"""The order rules of the decision ledger against realistic delivery sequences, per vendor and in
both orders, through the real receiver on every store (docs/decisions.md, "The ledger").

Each case is a sequence of steps -- a delivery, a delivery whose decision handlers fail (500), a
vendor's redelivery of the same bytes, an operator's replay, a ``forget`` -- and the ledger entry
and the exact list of announcements (decision handler calls) it must end with. A delivery is
named; the announcements and the ledger entry are checked by name, status and finality."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import kyc_webhooks as kw
from _stores import FakeClock
from kyc_webhooks.decisions import ledger_subject
from kyc_webhooks.store import Store
from kyc_webhooks.testing import make_vendors, sample_payload, set_path, sign

S = kw.DecisionStatus
SECRETS = {"idenfy": "order-i", "complycube": "order-c", "yoti": "order-y", "identomat": "order-m"}
#: (vendor, payload, Idenfy-Event-Type header or None)
Payload = tuple[str, dict[str, Any], str | None]
#: (name, status, final)
Seen = tuple[str, S, bool]


@dataclass(frozen=True)
class Case:
    """``steps``: ``"name"`` delivers it (answered 200), ``"!name"`` delivers it with its decision
    handlers failing (500), ``"replay:name"`` replays its stored delivery, ``"worker"`` runs
    ``process_pending`` once the back-offs are over, ``"forget"`` forgets the verification.
    ``latest``: the ledger entry at the end (the delivery's name, status, finality) or ``None``;
    ``announced``: every decision handler call, in order."""

    id: str
    payloads: Callable[[str], dict[str, Payload]]
    steps: tuple[str, ...]
    latest: Seen | None
    announced: tuple[Seen, ...]


# -- payloads: each case gets its own subject (``tag``), so that cases never share one ----------


def idenfy(
    tag: str, event_type: str, overall: str, final: bool | None, finish: int | None
) -> Payload:
    payload = sample_payload("idenfy", event_type)
    payload["scanRef"] = f"scan-{tag}"
    payload["status"]["overall"] = overall
    if final is None:
        payload.pop("final", None)
    else:
        payload["final"] = final
    if finish is None:
        payload.pop("finishTime", None)
    else:
        payload["finishTime"] = finish
    return ("idenfy", payload, event_type)


T = 1795420934  # an iDenfy finishTime


def idenfy_auto_manual(
    auto_finish: int | None, manual_finish: int | None
) -> Callable[[str], dict[str, Payload]]:
    def make(tag: str) -> dict[str, Payload]:
        return {
            "auto": idenfy(tag, "IDENTIFICATION_AUTO_FINISHED", "SUSPECTED", False, auto_finish),
            "manual": idenfy(tag, "IDENTIFICATION_MANUAL_FINISHED", "DENIED", True, manual_finish),
        }

    return make


def idenfy_lifecycle(tag: str) -> dict[str, Payload]:
    return {
        "auto": idenfy(tag, "IDENTIFICATION_AUTO_FINISHED", "SUSPECTED", False, T),
        "manual": idenfy(tag, "IDENTIFICATION_MANUAL_FINISHED", "DENIED", True, T + 1200),
        # more information requested and sent: a manual review of it follows
        "resubmitted": idenfy(tag, "IDENTIFICATION_RESUBMITTED", "REVIEWING", False, T + 86400),
        "resubmitted_final": idenfy(tag, "IDENTIFICATION_RESUBMITTED", "APPROVED", True, T + 86400),
        "archived": idenfy(tag, "IDENTIFICATION_MANUAL_FINISHED", "ARCHIVED", True, T + 99999),
        # a body of the verification that carries an older verdict, resent under another label
        "cancelled_old": idenfy(tag, "IDENTIFICATION_CANCELLED", "APPROVED", True, T + 600),
        "expired_active": idenfy(tag, "IDENTIFICATION_EXPIRED", "ACTIVE", False, T + 90000),
        "legacy_auto": idenfy(tag, "IDENTIFICATION_AUTO_FINISHED", "APPROVED", None, T),
        "legacy_manual": idenfy(tag, "IDENTIFICATION_MANUAL_FINISHED", "DENIED", None, T + 1200),
    }


def idenfy_same_body_relabelled(tag: str) -> dict[str, Payload]:
    vendor, payload, _ = idenfy(tag, "IDENTIFICATION_MANUAL_FINISHED", "DENIED", True, T)
    return {
        "manual": (vendor, payload, "IDENTIFICATION_MANUAL_FINISHED"),
        "relabelled": (vendor, payload, "IDENTIFICATION_CANCELLED"),
    }


def complycube(
    tag: str,
    name: str,
    event_type: str,
    created: str | None,
    outcome: str | None,
    *,
    status: str | None = "complete",
    updated: str | None = None,
) -> Payload:
    payload = sample_payload("complycube", event_type)
    payload["id"] = f"{tag}-{name}"
    if created is None:
        payload.pop("createdAt", None)
    else:
        payload["createdAt"] = created
    set_path(payload, "payload__id", f"check-{tag}")
    body = payload["payload"]
    for key, value in (("outcome", outcome), ("status", status), ("updatedAt", updated)):
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return ("complycube", payload, None)


def complycube_check(tag: str) -> dict[str, Payload]:
    def c(name: str, event_type: str, created: str | None, outcome: str | None, **kw: Any) -> Any:
        return complycube(tag, name, event_type, created, outcome, **kw)

    done = "2024-03-18T09:43:05.913Z"
    return {
        "pending": c(
            "pending", "check.pending", "2024-03-18T09:41:27.400Z", None, status="pending"
        ),
        "completed": c("completed", "check.completed", done, "rejected"),
        "completed_bare": c("completed_bare", "check.completed", done, None),
        "rejected": c("rejected", "check.completed.rejected", done, "rejected"),
        "clear": c("clear", "check.completed.clear", done, "clear"),
        "clear_early": c(
            "clear_early", "check.completed.clear", "2024-03-18T09:40:00.000Z", "clear"
        ),
        "validated": c("validated", "check.updated", "2024-03-18T14:20:09.583Z", "rejected"),
        "confirmed": c("confirmed", "check.updated", "2024-03-18T14:20:09.583Z", "confirmed"),
        # a manual validation event without the envelope's createdAt: the check's updatedAt
        "validated_untimed": c(
            "validated_untimed",
            "check.updated",
            None,
            "rejected",
            status=None,
            updated="2024-03-18T14:20:09.517Z",
        ),
        "validated_same_time": c("validated_same_time", "check.updated", done, "rejected"),
        "revalidated": c("revalidated", "check.updated", "2024-03-19T08:00:00.000Z", "clear"),
        "rejected_again": c(
            "rejected_again", "check.updated", "2024-03-20T08:00:00.000Z", "rejected"
        ),
        "rescreen": c(
            "rescreen", "check.monitoring.attention", "2024-04-02T03:00:11.251Z", "attention"
        ),
    }


def complycube_session(tag: str) -> dict[str, Payload]:
    def s(name: str, event_type: str, created: str, outcome: str | None, status: str) -> Payload:
        return complycube(tag, name, event_type, created, outcome, status=status)

    return {
        "started": s(
            "started", "workflow.session.started", "2024-03-18T09:40:00.000Z", None, "started"
        ),
        "processing": s(
            "processing",
            "workflow.session.processing",
            "2024-03-18T09:42:00.000Z",
            None,
            "processing",
        ),
        "completed": s(
            "completed",
            "workflow.session.completed",
            "2024-03-18T09:46:00.000Z",
            "clear",
            "complete",
        ),
        "updated": s(
            "updated",
            "workflow.session.updated",
            "2024-03-18T11:02:00.000Z",
            "rejected",
            "complete",
        ),
    }


def yoti(tag: str) -> dict[str, Payload]:
    session = hashlib.sha256(tag.encode()).hexdigest()
    session_id = f"{session[:8]}-{session[8:12]}-{session[12:16]}-{session[16:20]}-{session[20:32]}"
    return {
        topic: ("yoti", {"session_id": session_id, "topic": topic}, None)
        for topic in ("client_session_token_deleted", "session_completion")
    }


def identomat(tag: str) -> dict[str, Payload]:
    session_id = hashlib.sha256(tag.encode()).hexdigest()[:40]
    made: dict[str, Payload] = {}
    for result in ("MANUAL_CHECK", "ADDITIONAL_INFORMATION_REQUESTED", "APPROVED", "REJECTED"):
        payload = sample_payload("identomat", "session-change")
        payload["sessionId"], payload["result"] = session_id, result
        made[result.lower()] = ("identomat", payload, None)
    return made


# -- the cases -----------------------------------------------------------------------------------

REVIEW_NF = S.REVIEW, False
AUTO: Seen = ("auto", S.REVIEW, False)
MANUAL: Seen = ("manual", S.DECLINED, True)


def both(
    id: str,
    payloads: Callable[[str], dict[str, Payload]],
    steps: tuple[str, ...],
    latest: Seen,
    forward: tuple[Seen, ...],
    backward: tuple[Seen, ...],
    latest_reversed: Seen | None = None,
) -> list[Case]:
    """The case in the order given and in the reverse order (``latest_reversed``: the entry
    then, where it differs: a tie of the vendor's times, broken by the order received)."""
    return [
        Case(f"{id}[in order]", payloads, steps, latest, forward),
        Case(
            f"{id}[reversed]",
            payloads,
            tuple(reversed(steps)),
            latest if latest_reversed is None else latest_reversed,
            backward,
        ),
    ]


CASES: list[Case] = [
    # iDenfy: the automatic result (not final) and the manual one (final), either order; the same
    # finishTime, or none at all: finality decides.
    *both(
        "idenfy auto+manual",
        idenfy_auto_manual(T, T + 1200),
        ("auto", "manual"),
        MANUAL,
        (AUTO, MANUAL),
        (MANUAL,),
    ),
    *both(
        "idenfy auto+manual equal finishTime",
        idenfy_auto_manual(T, T),
        ("auto", "manual"),
        MANUAL,
        (AUTO, MANUAL),
        (MANUAL,),
    ),
    *both(
        "idenfy auto+manual manual older",
        idenfy_auto_manual(T + 50, T),
        ("auto", "manual"),
        MANUAL,
        (AUTO, MANUAL),
        (MANUAL,),
    ),
    *both(
        "idenfy auto+manual no finishTime",
        idenfy_auto_manual(None, None),
        ("auto", "manual"),
        MANUAL,
        (AUTO, MANUAL),
        (MANUAL,),
    ),
    *both(
        "idenfy legacy bodies without final",
        idenfy_lifecycle,
        ("legacy_auto", "legacy_manual"),
        ("legacy_manual", S.DECLINED, True),
        (("legacy_auto", S.APPROVED, False), ("legacy_manual", S.DECLINED, True)),
        (("legacy_manual", S.DECLINED, True),),
    ),
    # A redelivery (the same bytes) of the older verdict after the newer one: a duplicate.
    Case(
        "idenfy auto redelivered after manual",
        idenfy_lifecycle,
        ("auto", "manual", "auto"),
        MANUAL,
        (AUTO, MANUAL),
    ),
    # Resubmitted material: its preliminary result never replaces the final one; its final one,
    # later, does.
    *both(
        "idenfy resubmitted (not final) after manual",
        idenfy_lifecycle,
        ("manual", "resubmitted"),
        MANUAL,
        (MANUAL,),
        (("resubmitted", S.PENDING, False), MANUAL),
    ),
    *both(
        "idenfy resubmitted (final) after manual",
        idenfy_lifecycle,
        ("manual", "resubmitted_final"),
        ("resubmitted_final", S.APPROVED, True),
        (MANUAL, ("resubmitted_final", S.APPROVED, True)),
        (("resubmitted_final", S.APPROVED, True),),
    ),
    *both(
        "idenfy expired (ACTIVE) after manual",
        idenfy_lifecycle,
        ("manual", "expired_active"),
        MANUAL,
        (MANUAL,),
        (("expired_active", S.PENDING, False), MANUAL),
    ),
    *both(
        "idenfy ARCHIVED after manual",
        idenfy_lifecycle,
        ("manual", "archived"),
        MANUAL,
        (MANUAL,),
        (("archived", S.UNKNOWN, False), MANUAL),
    ),
    *both(
        "idenfy older verdict under the cancelled label",
        idenfy_lifecycle,
        ("cancelled_old", "manual"),
        MANUAL,
        (("cancelled_old", S.APPROVED, True), MANUAL),
        (MANUAL,),
    ),
    Case(
        "idenfy same body under another label",
        idenfy_same_body_relabelled,
        ("manual", "relabelled"),
        MANUAL,
        (MANUAL,),
    ),
    Case(
        "idenfy whole lifecycle",
        idenfy_lifecycle,
        ("auto", "manual", "resubmitted", "auto", "resubmitted_final", "manual"),
        ("resubmitted_final", S.APPROVED, True),
        (AUTO, MANUAL, ("resubmitted_final", S.APPROVED, True)),
    ),
    # Handlers that fail (docs/decisions.md: an older verdict before the retry runs none; the
    # retry runs them once, unless a newer one came meanwhile).
    Case(
        "idenfy manual fails, auto, manual retried",
        idenfy_lifecycle,
        ("!manual", "auto", "manual"),
        MANUAL,
        (MANUAL,),
    ),
    Case(
        "idenfy auto fails, manual, auto retried",
        idenfy_lifecycle,
        ("!auto", "manual", "auto"),
        MANUAL,
        (MANUAL,),
    ),
    Case(
        "idenfy manual fails, manual replayed",
        idenfy_lifecycle,
        ("auto", "!manual", "replay:manual", "manual"),
        MANUAL,
        (AUTO, MANUAL),
    ),
    Case(
        "idenfy replay of the older verdict",
        idenfy_lifecycle,
        ("auto", "manual", "replay:auto"),
        MANUAL,
        (AUTO, MANUAL),
    ),
    Case(
        "idenfy manual fails, auto, the worker retries manual",
        idenfy_lifecycle,
        ("!manual", "auto", "worker"),
        MANUAL,
        (MANUAL,),
    ),
    Case(
        "idenfy forget after a failed verdict, then its redelivery",
        idenfy_lifecycle,
        ("auto", "!manual", "forget", "manual", "worker"),
        None,
        (AUTO,),
    ),
    Case(
        "idenfy forget, then a redelivery",
        idenfy_lifecycle,
        ("manual", "forget", "manual"),
        None,
        (MANUAL,),
    ),
    # ComplyCube: check.completed and check.completed.<outcome> of one outcome: told once.
    *both(
        "complycube completed + completed.rejected, same createdAt",
        complycube_check,
        ("completed", "rejected"),
        ("rejected", S.DECLINED, True),
        (("completed", S.DECLINED, True),),
        (("rejected", S.DECLINED, True),),
        ("completed", S.DECLINED, True),
    ),
    *both(
        "complycube bare completed + completed.rejected",
        complycube_check,
        ("completed_bare", "rejected"),
        ("rejected", S.DECLINED, True),
        (("completed_bare", S.UNKNOWN, False), ("rejected", S.DECLINED, True)),
        (("rejected", S.DECLINED, True),),
    ),
    *both(
        "complycube pending + clear",
        complycube_check,
        ("pending", "clear"),
        ("clear", S.APPROVED, True),
        (("pending", S.PENDING, False), ("clear", S.APPROVED, True)),
        (("clear", S.APPROVED, True),),
    ),
    *both(
        "complycube clear + manual validation",
        complycube_check,
        ("clear", "validated"),
        ("validated", S.DECLINED, True),
        (("clear", S.APPROVED, True), ("validated", S.DECLINED, True)),
        (("validated", S.DECLINED, True),),
    ),
    # Should ComplyCube keep one createdAt for the events of a check: a tie, the one received
    # later wins.
    *both(
        "complycube clear + manual validation, same createdAt",
        complycube_check,
        ("clear", "validated_same_time"),
        ("validated_same_time", S.DECLINED, True),
        (("clear", S.APPROVED, True), ("validated_same_time", S.DECLINED, True)),
        (("validated_same_time", S.DECLINED, True), ("clear", S.APPROVED, True)),
        ("clear", S.APPROVED, True),
    ),
    *both(
        "complycube clear + manual validation without createdAt",
        complycube_check,
        ("clear", "validated_untimed"),
        ("validated_untimed", S.DECLINED, True),
        (("clear", S.APPROVED, True), ("validated_untimed", S.DECLINED, True)),
        (("validated_untimed", S.DECLINED, True),),
    ),
    *both(
        "complycube clear + validation input 'confirmed'",
        complycube_check,
        ("clear", "confirmed"),
        ("clear", S.APPROVED, True),
        (("clear", S.APPROVED, True),),
        (("confirmed", S.UNKNOWN, False), ("clear", S.APPROVED, True)),
    ),
    *both(
        "complycube clear + re-screen",
        complycube_check,
        ("clear", "rescreen"),
        ("rescreen", S.REVIEW, True),
        (("clear", S.APPROVED, True), ("rescreen", S.REVIEW, True)),
        (("rescreen", S.REVIEW, True),),
    ),
    *both(
        "complycube workflow session",
        complycube_session,
        ("started", "processing", "completed", "updated"),
        ("updated", S.DECLINED, True),
        (
            ("started", S.PENDING, False),
            ("completed", S.APPROVED, True),
            ("updated", S.DECLINED, True),
        ),
        (("updated", S.DECLINED, True),),
    ),
    # R52 F1: APPROVED told, DECLINED failed, a newer APPROVED, the DECLINED retried.
    Case(
        "complycube failed verdict overtaken by the told one",
        complycube_check,
        ("clear", "!validated", "revalidated", "validated"),
        ("revalidated", S.APPROVED, True),
        (("clear", S.APPROVED, True),),
    ),
    Case(
        "complycube older verdict before a failed one's retry",
        complycube_check,
        ("clear", "!validated", "clear_early", "validated"),
        ("validated", S.DECLINED, True),
        (("clear", S.APPROVED, True), ("validated", S.DECLINED, True)),
    ),
    Case(
        "complycube failed verdict overtaken, the worker retries it",
        complycube_check,
        ("clear", "!validated", "revalidated", "worker"),
        ("revalidated", S.APPROVED, True),
        (("clear", S.APPROVED, True),),
    ),
    Case(
        "complycube two failed verdicts retried newest first",
        complycube_check,
        ("clear", "!validated", "!rejected_again", "rejected_again", "validated"),
        ("rejected_again", S.DECLINED, True),
        (("clear", S.APPROVED, True), ("rejected_again", S.DECLINED, True)),
    ),
    Case(
        "complycube replays of told verdicts",
        complycube_check,
        ("clear", "validated", "revalidated", "replay:validated", "replay:clear"),
        ("revalidated", S.APPROVED, True),
        (
            ("clear", S.APPROVED, True),
            ("validated", S.DECLINED, True),
            ("revalidated", S.APPROVED, True),
        ),
    ),
    # Yoti and Identomat carry no time: the order received, finality first.
    *both(
        "yoti token deleted + completion",
        yoti,
        ("client_session_token_deleted", "session_completion"),
        ("session_completion", S.UNKNOWN, True),
        (
            ("client_session_token_deleted", S.PENDING, False),
            ("session_completion", S.UNKNOWN, True),
        ),
        (("session_completion", S.UNKNOWN, True),),
    ),
    *both(
        "identomat manual check + approved",
        identomat,
        ("manual_check", "approved"),
        ("approved", S.APPROVED, True),
        (("manual_check", S.REVIEW, False), ("approved", S.APPROVED, True)),
        (("approved", S.APPROVED, True),),
    ),
    Case(
        "identomat rejected, more information, approved",
        identomat,
        ("rejected", "additional_information_requested", "approved"),
        ("approved", S.APPROVED, True),
        (("rejected", S.DECLINED, True), ("approved", S.APPROVED, True)),
    ),
]


# -- the runner ----------------------------------------------------------------------------------


class Run:
    def __init__(self, store: Store, clock: FakeClock, payloads: dict[str, Payload]) -> None:
        self.store, self.clock, self.payloads = store, clock, payloads
        self.receiver = kw.Receiver(*make_vendors(SECRETS), store=store)
        self.by_key: dict[str, str] = {}
        for name, (vendor, payload, event_type) in payloads.items():
            event = self.receiver.parse(
                *sign(vendor, payload, SECRETS[vendor], event_type=event_type)
            )
            self.by_key.setdefault(event.delivery_key, name)
        self.failing: set[str] = set()
        self.seen: list[Seen] = []

        @self.receiver.on_decision()
        def told(decision: kw.Decision) -> None:
            assert decision.event is not None
            name = self.by_key[decision.event.delivery_key]
            if name in self.failing:
                raise RuntimeError("the decision handler failed")
            self.seen.append((name, decision.status, decision.final))

    def step(self, step: str) -> None:
        self.clock.advance(1)
        if step == "worker":  # the worker's sweep, once every back-off is over
            self.clock.advance(86400)
            self.receiver.process_pending()
            return
        if step == "forget":
            vendor, decision = self._decision(next(iter(self.payloads)))
            self.receiver.decisions.forget(vendor=vendor, subject=decision.subject)
            return
        if step.startswith("replay:"):
            record = self.store.get_by_key(self._key(step.removeprefix("replay:")))
            assert record is not None
            assert self.receiver.replay(record.id).status_code == 200
            return
        name = step.removeprefix("!")
        self.failing = {name} if step.startswith("!") else set()
        vendor, payload, event_type = self.payloads[name]
        outcome = self.receiver.handle(
            *sign(vendor, payload, SECRETS[vendor], event_type=event_type)
        )
        assert outcome.status_code == (500 if step.startswith("!") else 200), (step, outcome.error)
        self.failing = set()

    def _key(self, name: str) -> str:
        return next(key for key, known in self.by_key.items() if known == name)

    def _decision(self, name: str) -> tuple[str, kw.Decision]:
        vendor, payload, event_type = self.payloads[name]
        event = self.receiver.parse(*sign(vendor, payload, SECRETS[vendor], event_type=event_type))
        assert event.decision is not None
        return vendor, event.decision

    def latest(self) -> Seen | None:
        vendor, decision = self._decision(next(iter(self.payloads)))
        entry = self.store.effective_decision(vendor, ledger_subject(vendor, decision.subject))
        if entry is None:
            return None
        record = self.store.get(entry.delivery_id)
        assert record is not None
        return (self.by_key[record.delivery_key], S(entry.status), entry.final)


@pytest.fixture
def quiet() -> Iterator[None]:
    """The failing handlers are logged with a traceback each: not wanted in the output."""
    logging.disable(logging.ERROR)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
@pytest.mark.usefixtures("quiet")
def test_the_ledger_orders_the_vendors_deliveries(
    case: Case, any_store: Store, clock: FakeClock
) -> None:
    tag = hashlib.sha256(case.id.encode()).hexdigest()[:12]
    run = Run(any_store, clock, case.payloads(tag))
    for step in case.steps:
        run.step(step)
    assert run.latest() == case.latest
    assert tuple(run.seen) == case.announced
