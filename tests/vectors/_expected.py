"""Write ``expected.json`` next to every vector in this directory (run by hand, then review the
diff; the tests only read the files):

    .venv/bin/python tests/vectors/_expected.py

The expectations are derived from the vendors' published rules and the vector's own bytes, written
out below by hand -- this script imports nothing from ``kyc_webhooks``, so a wrong mapping in the
library fails the tests instead of being copied into the expectations.

``expected.json`` holds:

* ``vendor_config``: keyword arguments of the vendor class that accept the vector (test keys only);
* ``status``: the HTTP status ``Receiver.handle`` must answer;
* ``event_type``: what ``event.event_type`` and ``Outcome.event_type`` must be;
* ``model``: the class name of the parsed event;
* ``delivery_key`` (exact) or ``delivery_key_pattern`` (a regular expression for its shape);
* ``samples``: the files of ``../shared/samples`` this vector holds byte for byte, and how.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

# -- iDenfy ---------------------------------------------------------------------------------------
# https://documentation.idenfy.com/security/callback-signing: hex HMAC-SHA256 of the raw body.
# https://documentation.idenfy.com/kyc/webhooks: `Idenfy-Event-Type` names the event.
IDENFY_KEY = "idenfy-vector-signing-key-Ž7"  # the key of idenfy/_make.py
GO_IDENFY_KEY = "TestingKey"  # github.com/gboddin/go-idenfy Client_test.go
#: Bodies delivered without `Idenfy-Event-Type` (the legacy ones predate it:
#: github.com/idenfy/Documentation pages/ResultCallback.md and pages/VideoCall.md; the go-idenfy
#: test data carries no headers): a result callback is the legacy `IDENTIFICATION` catch-all, the
#: legacy video-call callback is what `VIDEO_CALL_FINISHED` now names.
IDENFY_LEGACY_TYPES = {
    "real_go_idenfy_testdata": "IDENTIFICATION",
    "real_legacy_2018_12_lowercase_aml_lid": "IDENTIFICATION",
    "real_legacy_2019_04_float_timestamps": "IDENTIFICATION",
    "real_legacy_2021_01_aml_lid_objects": "IDENTIFICATION",
    "real_legacy_2021_resultcallback": "IDENTIFICATION",
    "real_legacy_video_call": "VIDEO_CALL_FINISHED",
}
#: Event type -> model, from the "Body schema" column of the vendor's event list
#: (https://documentation.idenfy.com/kyc/webhooks and the OpenAPI `webhooks:` blocks).
IDENFY_MODELS = {
    **dict.fromkeys(
        [
            "IDENTIFICATION",
            "IDENTIFICATION_AUTO_FINISHED",
            "IDENTIFICATION_MANUAL_FINISHED",
            "IDENTIFICATION_RESUBMITTED",
            "IDENTIFICATION_CANCELLED",
            "IDENTIFICATION_EXPIRED",
        ],
        "IdentificationEvent",
    ),
    "DOCUMENT_EXPIRATION": "DocumentExpirationEvent",
    "VIDEO_CALL_FINISHED": "VideoCallFinishedEvent",
    "FACIAL_AUTHENTICATION": "FacialAuthenticationEvent",
    "AGE_ESTIMATION": "AgeEstimationEvent",
    "AML_MONITORING": "AmlMonitoringEvent",
    "AML_MONITORING_EXPIRATION": "AmlMonitoringExpirationEvent",
    "COMPANY_REVIEW": "CompanyReviewEvent",
    "COMPANY_DELETE": "CompanyDeleteEvent",
    "COMPANY_AML_REVIEW": "CompanyAmlReviewEvent",
    "COMPANY_INFO_REQUEST": "CompanyInfoRequestEvent",
    "COMPANY_EXPIRATION": "CompanyExpirationEvent",
    "COMPANY_SUBMIT": "CompanySubmitEvent",
    "GOV_ORDERED_DOCUMENT": "GovOrderedDocumentEvent",
    "SOS_REPORT": "SosReportEvent",
    "BANK_VERIFICATION": "BankVerificationEvent",
    "ACCOUNT_CHECK": "AccountCheckEvent",
    "BANK_CARD_VERIFICATION_COMPLETED": "BankCardVerificationCompletedEvent",
}
#: iDenfy sends no event id (same pages): a key must tell two events apart by the body, so it ends
#: with a hex digest of it. Only the shape is pinned: which id and event type go in front is the
#: library's choice and may change.
IDENFY_KEY_PATTERN = r"^idenfy:(\S+:)?[0-9a-f]{32,64}$"
#: Vector -> (sample file, relation): see ../shared/samples/README.md.
IDENFY_SAMPLES = {
    "real_go_idenfy_testdata": [
        ("idenfy/identification_thirdparty_go_idenfy_testdata.json", "body"),
        ("idenfy/signature_vector_go_idenfy_testdata.json", "signature_vector"),
    ],
    "real_legacy_2018_12_lowercase_aml_lid": [
        ("idenfy/identification_legacy_2018_12_github_lowercase_aml_lid.json", "body")
    ],
    "real_legacy_2019_04_float_timestamps": [
        ("idenfy/identification_legacy_2019_04_github_float_timestamps.json", "body")
    ],
    "real_legacy_2021_01_aml_lid_objects": [
        ("idenfy/identification_legacy_2021_01_github_aml_lid_objects.json", "body")
    ],
    "real_legacy_2021_resultcallback": [
        ("idenfy/identification_legacy_github_resultcallback.json", "body")
    ],
    "real_legacy_video_call": [("idenfy/video_call_legacy_github.json", "body")],
    "real_fragment_aml_name_check": [("idenfy/fragment_aml_name_check_item.json", "fragment")],
    "real_fragment_aml_company_check": [
        ("idenfy/fragment_aml_company_check_item.json", "fragment")
    ],
    "real_fragment_lid_item": [("idenfy/fragment_lid_item.json", "fragment")],
    "real_fragment_aml_negative_news": [
        ("idenfy/fragment_aml_negative_news_wrapper.json", "object_members")
    ],
}

# -- ComplyCube -----------------------------------------------------------------------------------
# https://docs.complycube.com/documentation/api-reference/other-resources/webhooks: hex HMAC-SHA256
# in `ComplyCube-Signature`; the Event `id` is stable across re-sends ("use it to skip events
# already processed"); `type` names the event. The secret is the PHP SDK unit test's.
COMPLYCUBE_SECRET = "a_webhook_signature"
#: Current type -> model (one model per resource and action; every check outcome type is a status
#: change of a check, `check.updated` carries changed fields).
COMPLYCUBE_MODELS = {
    **dict.fromkeys(
        [
            "workflow.session.started",
            "workflow.session.cancelled",
            "workflow.session.processing",
            "workflow.session.completed",
            "workflow.session.updated",
        ],
        "WorkflowSessionEvent",
    ),
    **dict.fromkeys(
        [
            "check.pending",
            "check.completed",
            "check.completed.clear",
            "check.completed.attention",
            "check.completed.rejected",
            "check.completed.match_confirmed",
            "check.monitoring.attention",
            "check.failed",
        ],
        "CheckStatusEvent",
    ),
    "check.updated": "CheckUpdatedEvent",
    "client.created": "ClientCreatedEvent",
    "client.updated": "ClientUpdatedEvent",
    "client.deleted": "ClientDeletedEvent",
    "document.created": "DocumentCreatedEvent",
    "document.updated": "DocumentUpdatedEvent",
    "document.updated.image_uploaded": "DocumentUpdatedEvent",
    "document.updated.image_deleted": "DocumentUpdatedEvent",
    "document.deleted": "DocumentDeletedEvent",
    "address.created": "AddressCreatedEvent",
    "address.updated": "AddressUpdatedEvent",
    "address.deleted": "AddressDeletedEvent",
}
COMPLYCUBE_SAMPLES = {
    "php_sdk_unit_test_vector": [
        ("complycube/signature_vector_php_sdk_unit_test.json", "signature_vector")
    ],
}


def complycube_event_type(wire: object) -> str:
    """The v1.7.2 pages (https://docs.complycube.com/api-reference/v.1.7.2/other-resources/webhooks)
    spell `check.complete*`; current pages `check.completed*`: the same events. A body without a
    usable `type` has no event type: the library calls that `UNKNOWN`."""
    if not isinstance(wire, str) or not wire:
        return "UNKNOWN"
    if wire == "check.complete" or wire.startswith("check.complete."):
        return "check.completed" + wire[len("check.complete") :]
    return wire


# -- Yoti -----------------------------------------------------------------------------------------
# https://developers.yoti.com/identity-verification/notifications: `Authorization: Basic
# base64(auth_token)` or `Bearer auth_token`; body `{session_id, topic, <task|check|resource>_id}`,
# topics lower case in the body, upper case as subscriptions; no event id: deduplicate on
# (session_id, topic, *_id).
YOTI_BASIC_TOKEN = "yoti-hooks:6Q2vN8sLx4"
YOTI_BEARER_TOKEN = "yb_live_3kT9pWq7ZrM2xVc8"
YOTI_MODELS = {
    "resource_update": "ResourceUpdateEvent",
    "task_completion": "TaskCompletionEvent",
    "check_completion": "CheckCompletionEvent",
    "session_completion": "SessionCompletionEvent",
    "client_session_token_deleted": "ClientSessionTokenDeletedEvent",
    "new_pdf_supplied": "NewPdfSuppliedEvent",
    "instructions_email_requested": "InstructionsEmailRequestedEvent",
    "thank_you_email_requested": "ThankYouEmailRequestedEvent",
    "first_branch_visit": "FirstBranchVisitEvent",
}

# -- Identomat ------------------------------------------------------------------------------------
# https://docs.identomat.com/developer-tools/callbacks: no signature, `callbackApiKey` in the body;
# `type` names the callback; no event id, and `sessionId` is the widget's session token (kept out
# of keys, which get logged): a key is the type plus a digest of the body.
IDENTOMAT_KEY = "idm-cb-7Qm2vX9pL4tR8wZ1nB6yH3sD5fJ0kC"
IDENTOMAT_MODELS = {
    "one-time-password-request": "OneTimePasswordRequestEvent",
    "email-one-time-password-request": "EmailOneTimePasswordRequestEvent",
    "share-session-link-via-sms": "ShareSessionLinkViaSmsEvent",
    "share-session-link-via-email": "ShareSessionLinkViaEmailEvent",
    "session-change": "SessionChangeEvent",
    "video-call-status-update": "VideoCallStatusUpdateEvent",
}


def _hmac_hex(key: str, body: bytes) -> str:
    return hmac.new(key.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:32]


def _header(headers: dict[str, str], name: str) -> str | None:
    found = [value for key, value in headers.items() if key.lower() == name.lower()]
    assert len(found) <= 1, name
    return found[0] if found else None


def idenfy(case: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    key = GO_IDENFY_KEY if case == "real_go_idenfy_testdata" else IDENFY_KEY
    assert _header(headers, "Idenfy-Signature") == _hmac_hex(key, body), case
    event_type = _header(headers, "Idenfy-Event-Type") or IDENFY_LEGACY_TYPES[case]
    return {
        "vendor_config": {"signing_key": key},
        "status": 200,
        "event_type": event_type,
        "model": IDENFY_MODELS[event_type],
        "delivery_key_pattern": IDENFY_KEY_PATTERN,
        "samples": IDENFY_SAMPLES.get(case, []),
    }


def complycube(case: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    assert _header(headers, "ComplyCube-Signature") == _hmac_hex(COMPLYCUBE_SECRET, body), case
    wire = json.loads(body)
    event_type = complycube_event_type(wire.get("type"))
    return {
        "vendor_config": {"secret": COMPLYCUBE_SECRET},
        "status": 200,
        "event_type": event_type,
        "model": COMPLYCUBE_MODELS.get(event_type, "ComplyCubeUnknownEvent"),
        "delivery_key": f"complycube:{wire['id']}",
        "samples": COMPLYCUBE_SAMPLES.get(case, []),
    }


def yoti(case: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    authorization = _header(headers, "Authorization")
    assert authorization is not None, case
    scheme = authorization.split()[0].lower()
    token = YOTI_BASIC_TOKEN if scheme == "basic" else YOTI_BEARER_TOKEN
    credentials = base64.b64encode(token.encode()).decode() if scheme == "basic" else token
    assert authorization == f"{scheme.title()} {credentials}", case
    wire = json.loads(body)
    event_type = wire["topic"].lower()
    ids = [
        str(wire[name]) for name in sorted(wire) if name.endswith("_id") and name != "session_id"
    ]
    return {
        "vendor_config": {"auth_token": token, "auth_type": scheme},
        "status": 200,
        "event_type": event_type,
        "model": YOTI_MODELS.get(event_type, "YotiUnknownEvent"),
        "delivery_key": f"yoti:{wire['session_id']}:{event_type}:{','.join(ids) or '-'}",
        "samples": [],
    }


def identomat(case: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    wire = json.loads(body)
    assert wire["callbackApiKey"] == IDENTOMAT_KEY, case
    return {
        "vendor_config": {"api_key": IDENTOMAT_KEY},
        "status": 200,
        "event_type": wire["type"],
        "model": IDENTOMAT_MODELS.get(wire["type"], "IdentomatUnknownEvent"),
        "delivery_key": f"identomat:{wire['type']}:{_digest(body)}",
        "samples": [],
    }


DERIVE = {"idenfy": idenfy, "complycube": complycube, "yoti": yoti, "identomat": identomat}


def main() -> None:
    for vendor, derive in DERIVE.items():
        for folder in sorted(p for p in (HERE / vendor).iterdir() if p.is_dir()):
            if folder.name.startswith(("_", ".")):
                continue
            body = (folder / "body").read_bytes()
            headers = json.loads((folder / "headers.json").read_text(encoding="utf-8"))
            expected = derive(folder.name, body, headers)
            expected["samples"] = [{"file": f, "relation": r} for f, r in expected["samples"]]
            if "delivery_key_pattern" in expected:
                re.compile(expected["delivery_key_pattern"])
            text = json.dumps(expected, indent=2, ensure_ascii=False) + "\n"
            (folder / "expected.json").write_bytes(text.encode("utf-8"))


if __name__ == "__main__":
    main()
