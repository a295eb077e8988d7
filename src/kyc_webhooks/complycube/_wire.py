"""ComplyCube: the header name on the wire (facts:
https://docs.complycube.com/documentation/api-reference/other-resources/webhooks). A leaf of the
package, read by ``_auth``; the package exports it."""

# Vendor documentation cited below as [name]:
# [webhooks] https://docs.complycube.com/documentation/api-reference/other-resources/webhooks

__all__ = ["SIGNATURE_HEADER"]

# [webhooks]: lower-case hex HMAC-SHA256 of the raw body keyed with the webhook's `secret`. Sources
# spell the name `ComplyCube-Signature` and `Complycube-Signature`; lookup is case-insensitive.
SIGNATURE_HEADER = "ComplyCube-Signature"
