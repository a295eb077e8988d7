"""The project's webhook handlers, registered on the receiver the app builds from
``settings.KYC_WEBHOOKS`` (imported by ``apps.ExampleConfig.ready``).

What a real backend does with each vendor's deliveries, with the side effects stubbed out as
functions that log (replace them with your model updates and SMS calls). Nothing here logs
personal data: ids, event types and decisions only.
"""

from __future__ import annotations

import logging

import kyc_webhooks as kw
from kyc_webhooks.complycube import CheckOutcome, CheckStatusEvent
from kyc_webhooks.idenfy import IdentificationEvent, OverallStatus
from kyc_webhooks.identomat import OneTimePasswordRequestEvent
from kyc_webhooks.integrations.django import receiver
from kyc_webhooks.yoti import SessionCompletionEvent

log = logging.getLogger("kyc_example")

receiver.prepare()  # build every vendor's models at start-up, not in each worker's first request


# -- side effects of a real backend (stubs) ---------------------------------------------------


def record_decision(vendor: str, reference: str, decision: str) -> None:
    """Store the verification decision for the customer (e.g. update your Customer model)."""
    log.info("decision vendor=%s reference=%s decision=%s", vendor, reference, decision)


def send_sms(phone_number: str, text: str) -> None:
    """Deliver an SMS through your provider. The text holds a one-time code: never log it."""
    log.info("sms queued (%d characters)", len(text))


# -- handlers (they run in registration order; the catch-all is last) -------------------------


@receiver.on_event(IdentificationEvent)
def idenfy_result(event: IdentificationEvent) -> None:
    # `final: false` means a manual review follows and a later ..._MANUAL_FINISHED carries the
    # verdict: acting now could approve someone the reviewer denies.
    if not event.is_final:
        log.info("idenfy scan_ref=%s: not final, waiting for the review", event.scan_ref)
        return
    if event.overall == OverallStatus.APPROVED:
        decision = "approved"
    elif event.overall == OverallStatus.DENIED:
        decision = "denied"
    else:  # SUSPECTED, EXPIRED, or a status added after this version: a human looks at it
        decision = "manual-review"
    record_decision("idenfy", event.client_id or event.scan_ref, decision)


# "check.completed.*" is every outcome-specific event (clear, attention, rejected,
# match_confirmed, and any future one); plain "check.completed" is a separate subscription.
@receiver.on("complycube", "check.completed.*")
def complycube_check_completed(event: kw.WebhookEvent) -> None:
    if not isinstance(event, CheckStatusEvent):
        # Another event under this pattern (check.completed.clear.v2 and the like) parses as an
        # unknown event; an outcome newer than this version is a CheckStatusEvent whose outcome
        # is a plain string, handled below. Answering 200 matters:
        # a failing handler makes ComplyCube retry, and after 10 failures disable the webhook.
        record_decision("complycube", event.delivery_key, "manual-review")
        return
    if event.outcome == CheckOutcome.CLEAR:
        decision = "approved"
    elif event.outcome == CheckOutcome.REJECTED:
        decision = "denied"
    else:  # attention, match_confirmed, or an outcome added after this version
        decision = "manual-review"
    check_id = event.payload.id if event.payload is not None else None
    record_decision("complycube", check_id or event.id, decision)


@receiver.on_event(SessionCompletionEvent)
def yoti_session_completed(event: SessionCompletionEvent) -> None:
    # Yoti's notification carries no result: fetch the session from Yoti's API here.
    log.info("yoti session complete: fetch its result from the Yoti API")


@receiver.on_event(OneTimePasswordRequestEvent)
def identomat_send_otp(event: OneTimePasswordRequestEvent) -> None:
    # Sent only when the company uses its own SMS provider: Identomat waits for us to deliver.
    if event.phone_number is None or event.text is None:
        log.warning("identomat OTP request without phone number or text; nothing to send")
        return
    send_sms(event.phone_number, event.text)


@receiver.on()
def log_every_event(event: kw.WebhookEvent) -> None:
    # Vendor and event type only: the body holds personal data.
    log.info("webhook vendor=%s event_type=%s", event.vendor, event.event_type)
