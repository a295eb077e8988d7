"""One realistic payload per documented Identomat callback type ([docs]), valid under
:mod:`kyc_webhooks.identomat.models`. Used by :mod:`kyc_webhooks.testing`.

``callbackApiKey`` is left out on purpose: ``kyc_webhooks.testing.sign("identomat", payload, key)``
inserts it, exactly where Identomat carries it ([docs]). Session ids are 40-character lower-case
alphanumeric tokens like the vendor's samples; phone numbers are Georgian E.164 numbers in the
mobile range; names are in Georgian script. Every value is invented.
"""

# Vendor documentation cited below as [name]:
# [docs] https://docs.identomat.com/developer-tools/callbacks

from __future__ import annotations

from typing import Any

__all__ = ["SAMPLES"]

_SESSION_A = "57eed4xze40hrdutfsgvr7epfznch8btz7wthikq"
_SESSION_B = "8ot4s4q9blmb6wdt2cexegaisb67opnx80gssvtg"
_SESSION_C = "upkx6ct2jusi9fkfvjs2t95ew5ul4cm9qg8me9qu"
_SESSION_D = "31eikf66o3gbfhhsrbpg46tifaq7yq8xwl3gaiz4"
_SESSION_E = "1cinofrkqy6wzp1lkno1ju9nqako7963ipndb539"
_SESSION_F = "g0b192je1zxsozsw926a6d0gitef2i8qg25anad1"


def _link(session_id: str) -> str:
    # [docs]: the link carries the session id as the widget's session_token.
    return f"https://widget.identomat.com/?session_token={session_id}"


SAMPLES: dict[str, dict[str, Any]] = {
    "one-time-password-request": {
        "type": "one-time-password-request",
        "sessionId": _SESSION_A,
        "text": "თქვენი კოდია 604913 / Your code is 604913",
        "phoneNumber": "+995599123456",
    },
    "email-one-time-password-request": {
        "type": "email-one-time-password-request",
        "sessionId": _SESSION_B,
        "address": "nino.beridze@example.ge",
        "subject": "ვერიფიკაციის კოდი",
        "content": "გამარჯობა ნინო, თქვენი ერთჯერადი კოდია 381207.",
    },
    "share-session-link-via-sms": {
        "type": "share-session-link-via-sms",
        "sessionId": _SESSION_C,
        "text": "გამარჯობა გიორგი, გთხოვთ დაასრულოთ ვერიფიკაცია ბმულით.",
        "phoneNumber": "+995577654321",
        "sessionLink": _link(_SESSION_C),
        "createdBy": "operator.tamar@example.ge",
    },
    "share-session-link-via-email": {
        "type": "share-session-link-via-email",
        "sessionId": _SESSION_D,
        "address": "giorgi.kapanadze@example.ge",
        "subject": "დაასრულეთ ვერიფიკაცია",
        "content": "გამარჯობა გიორგი, გთხოვთ დაასრულოთ ვერიფიკაცია ქვემოთ მოცემული ბმულით.",
        "cc": "compliance@example.ge",
        "sessionLink": _link(_SESSION_D),
        "createdBy": "operator.tamar@example.ge",
    },
    "session-change": {
        "type": "session-change",
        "sessionId": _SESSION_E,
        "result": "APPROVED",
    },
    "video-call-status-update": {
        "type": "video-call-status-update",
        "sessionId": _SESSION_F,
        "roomId": "RM5c1e0a7d9b2f4e8a6c3d1b0f9e8d7c6b",
        "roomStatus": "ended",
        "compositionStatus": "available",
        "videoFileStatus": "available",
        # The id format is not documented ([docs]); an opaque token.
        "videoFileId": "CJ0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b",
    },
}
