"""Yoti: the header name on the wire (facts:
https://developers.yoti.com/identity-verification/notifications). A leaf of the package, read by
``_auth``; the package exports it."""

# Vendor documentation cited below as [name]:
# [docs] https://developers.yoti.com/identity-verification/notifications

__all__ = ["AUTHORIZATION_HEADER"]

# [docs]: docs prose says "Authorisation", the documented example header is `Authorization`.
AUTHORIZATION_HEADER = "Authorization"
