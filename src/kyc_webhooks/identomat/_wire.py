"""Identomat: the body field on the wire that carries the credential (facts:
https://docs.identomat.com/developer-tools/callbacks). A leaf of the package: ``_auth``
(authentication, redaction) and ``models`` (redaction) both read it, and the package exports it."""

# Vendor documentation cited below as [name]:
# [docs] https://docs.identomat.com/developer-tools/callbacks

__all__ = ["API_KEY_FIELD"]

# [docs]: the key travels in the JSON body under this name.
API_KEY_FIELD = "callbackApiKey"
