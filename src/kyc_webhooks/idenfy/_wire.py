"""iDenfy: the header names on the wire (facts: https://documentation.idenfy.com/kyc/webhooks). A
leaf of the package: ``_auth`` (authentication, detection) and ``models`` (the event type) both read
them, and the package exports them."""

# Vendor documentation cited below as [name]:
# [signing] https://documentation.idenfy.com/security/callback-signing
# [notifications] https://documentation.idenfy.com/guides/dashboard/settings/system-notifications-webhooks-emails
# [spec] https://documentation.idenfy.com/api-reference/webhooks

__all__ = ["AUTHORIZATION_HEADER", "EVENT_TYPE_HEADER", "SIGNATURE_HEADER"]

# [signing]: hex HMAC-SHA256 of the raw body, keyed with the notification's signing key (older
# docs: the account API secret -- either works here, both are "a key").
# https://documentation.idenfy.com/security/callback-signing
SIGNATURE_HEADER = "Idenfy-Signature"
# [spec]: the event name, required by the spec on every webhook; absent on legacy deliveries.
EVENT_TYPE_HEADER = "Idenfy-Event-Type"
# [notifications]: a notification may instead (or also) carry custom headers or an OAuth bearer
# token, both configured per notification in the dashboard (Settings -> System notifications).
# https://documentation.idenfy.com/guides/dashboard/settings/system-notifications-webhooks-emails
AUTHORIZATION_HEADER = "Authorization"

#: Other spellings of documented types -> the documented one: reported as ``event_type``, and what
#: a routing pattern naming one is read as. The dashboard labels the identification events "ID
#: VERIFICATION ..." -- "ID VERIFICATION (Legacy)", "... AUTO FINISHED", "... MANUAL FINISHED", "...
#: RESUBMITTED", "... CANCELED" (one L), "... EXPIRED" -- and iDenfy's legacy description names the
#: cancelled event ``ID_VERIFICATION_CANCELLED``
#: (https://documentation.idenfy.com/guides/dashboard/settings/system-notifications-webhooks-emails,
#: https://documentation.idenfy.com/kyc/webhooks). No delivery with these headers has been seen,
#: but should the header follow the dashboard or the legacy description, it is the same event, in
#: both spellings of "cancelled".
SPELLINGS: dict[str, str] = {
    "IDENTIFICATION_CANCELED": "IDENTIFICATION_CANCELLED",
    "ID_VERIFICATION": "IDENTIFICATION",
    "ID_VERIFICATION_AUTO_FINISHED": "IDENTIFICATION_AUTO_FINISHED",
    "ID_VERIFICATION_MANUAL_FINISHED": "IDENTIFICATION_MANUAL_FINISHED",
    "ID_VERIFICATION_RESUBMITTED": "IDENTIFICATION_RESUBMITTED",
    "ID_VERIFICATION_CANCELLED": "IDENTIFICATION_CANCELLED",
    "ID_VERIFICATION_CANCELED": "IDENTIFICATION_CANCELLED",
    "ID_VERIFICATION_EXPIRED": "IDENTIFICATION_EXPIRED",
}
