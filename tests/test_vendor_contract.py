"""The vendor contract: one table of hostile mutations, run against every vendor (and both Yoti
schemes) through the small adapters of _vectors.py, with the exact outcome each vendor must give.

Where vendors differ the table says so per vendor: an HMAC (iDenfy, ComplyCube) binds the credential
to the body bytes, so any change to the body is a 401; Yoti's ``Authorization`` token and
Identomat's ``callbackApiKey`` authenticate the sender only, so a body changed in transit still
authenticates (and then parses, or fails as a 400 -- Identomat must read the body to find its key,
so an unreadable body is a 401 there). Every rejection runs no handler, raises the same error from
``parse``, names the header or field, and shows no key, credential or payload value in the error,
the response body or the logs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

import kyc_webhooks as kw
from _vectors import ADAPTERS, HeaderPairs, VendorAdapter, vector

Delivery = tuple[bytes, HeaderPairs]


@dataclass(frozen=True)
class Case:
    """One vendor's genuine delivery, to be mutated."""

    adapter: VendorAdapter
    key: str
    #: The body without credentials (Identomat's key goes in when signing).
    payload: bytes
    #: The wire value of a field outside the credential, whose bytes a row flips.
    needle: bytes
    model: str
    event_type: str

    def signed(self, body: bytes | None = None, key: str | None = None) -> Delivery:
        return self.adapter.sign(self.payload if body is None else body, key or self.key)

    @property
    def credential(self) -> str:
        return self.adapter.present(self.payload, self.key)

    def with_credentials(self, *values: str | bytes) -> Delivery:
        return self.adapter.attach(self.payload, list(values))

    def forbidden(self) -> list[str]:
        """Values that must never appear in an error, a response body or a log record."""
        secrets = [self.key, OTHER_KEY, self.credential, self.credential.upper()]
        secrets += [self.credential[:16], self.credential[-16:]]
        if self.adapter.scheme == "basic":
            secrets.append(self.credential.split()[1])
        leaves: list[str] = []

        def walk(node: object) -> None:
            if isinstance(node, dict):
                for item in node.values():
                    walk(item)
            elif isinstance(node, list):
                for item in node:
                    walk(item)
            elif isinstance(node, str) and len(node) >= 6 and node.lower() != self.event_type:
                leaves.append(node)

        walk(json.loads(self.payload))
        return secrets + leaves


def _case(adapter_id: str, key: str, vendor: str, name: str, needle_field: str) -> Case:
    found = vector(vendor, name)
    adapter = ADAPTERS[adapter_id]
    payload = found.body
    if adapter.field is not None:
        data = found.wire()
        del data[adapter.field]
        payload = json.dumps(data, ensure_ascii=False).encode("utf-8")
    needle = json.dumps(found.wire()[needle_field], ensure_ascii=False).encode("utf-8")[1:-1]
    assert payload.count(needle) == 1
    return Case(adapter, key, payload, needle, found.expected.model, found.expected.event_type)


CASES: dict[str, Case] = {
    case.adapter.id: case
    for case in [
        _case(
            "idenfy",
            "contract-idenfy-key-Ž9",
            "idenfy",
            "event_identification_manual_finished",
            "scanRef",
        ),
        _case("complycube", "whsec_contract_5f1e9a7b", "complycube", "check.completed.clear", "id"),
        _case(
            "yoti-basic",
            "contract-user:Pa55:word",
            "yoti",
            "session_completion_basic",
            "session_id",
        ),
        _case(
            "yoti-bearer",
            "ContractBearer_7Hq2Lm9Zx",
            "yoti",
            "session_completion_bearer",
            "session_id",
        ),
        _case(
            "identomat",
            "idm-Contract-Key-Zr8Kq1Lm5N",
            "identomat",
            "one_time_password_request",
            "phoneNumber",
        ),
    ]
}
OTHER_KEY = "attacker-guess-Zr8Kq1Lm5Np9Tx3Vb7"


def flip_byte(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def flip_char(text: str, index: int) -> str:
    index %= len(text)
    return text[:index] + ("0" if text[index] != "0" else "1") + text[index + 1 :]


def map_body(change: Callable[[bytes], bytes]) -> Callable[[Case], Delivery]:
    def build(case: Case) -> Delivery:
        body, headers = case.signed()
        return change(body), headers

    return build


def flip_needle(case: Case) -> Delivery:
    body, headers = case.signed()
    return flip_byte(body, body.index(case.needle)), headers


def non_utf8_signed(case: Case) -> Delivery:
    at = case.payload.index(case.needle)
    return case.signed(case.payload[:at] + b"\xff" + case.payload[at + 1 :])


def credential(change: Callable[[str], str | bytes]) -> Callable[[Case], Delivery]:
    return lambda case: case.with_credentials(change(case.credential))


def rename_header(change: Callable[[str], str | bytes]) -> Callable[[Case], Delivery]:
    def build(case: Case) -> Delivery:
        body, headers = case.signed()
        name = case.adapter.header
        return body, [(change(k) if k == name else k, v) for k, v in headers]

    return build


def as_bytes(case: Case) -> Delivery:
    body, headers = case.signed()
    return body, [(str(k).encode("latin-1"), str(v).encode("latin-1")) for k, v in headers]


def hmac_digest(case: Case) -> bytes:
    return hmac.new(case.key.encode("utf-8"), case.payload, hashlib.sha256).digest()


HMAC = ("idenfy", "complycube")
HEADERS = (*HMAC, "yoti-basic", "yoti-bearer")
ALL = (*HEADERS, "identomat")


def every(status: int, vendors: tuple[str, ...] = ALL) -> dict[str, int]:
    return dict.fromkeys(vendors, status)


def by_kind(hmac_: int, shared_secret: int, identomat: int) -> dict[str, int]:
    """HMAC vendors / Yoti (a header token) / Identomat (a key read from the body)."""
    return {
        **every(hmac_, HMAC),
        **every(shared_secret, ("yoti-basic", "yoti-bearer")),
        "identomat": identomat,
    }


#: (id, build the delivery from the vendor's case, expected status per adapter). A vendor missing
#: from a row has nothing to mutate there (a header row for Identomat, an HMAC row for Yoti).
TAMPER: list[tuple[str, Callable[[Case], Delivery], dict[str, int]]] = [
    ("intact", Case.signed, every(200)),
    # -- the body ----------------------------------------------------------------------------------
    ("flipped-body-byte", flip_needle, by_kind(401, 200, 200)),
    ("flipped-last-body-byte", map_body(lambda b: flip_byte(b, -1)), by_kind(401, 400, 401)),
    ("truncated-body", map_body(lambda b: b[:-1]), by_kind(401, 400, 401)),
    ("extra-trailing-newline", map_body(lambda b: b + b"\n"), by_kind(401, 200, 200)),
    ("extra-trailing-space", map_body(lambda b: b + b" "), by_kind(401, 200, 200)),
    ("extra-trailing-brace", map_body(lambda b: b + b"}"), by_kind(401, 400, 401)),
    ("empty-body", map_body(lambda b: b""), by_kind(401, 400, 401)),
    # Authentication before validation: a genuine empty body is a 400, not a 401.
    ("empty-body-signed", lambda c: c.signed(b""), by_kind(400, 400, 401)),
    ("empty-credential", credential(lambda _: ""), every(401)),
    (
        "signature-of-empty-body",
        lambda c: c.with_credentials(c.adapter.present(b"", c.key)),
        by_kind(401, 200, 200),
    ),
    ("non-utf8-body-signed", non_utf8_signed, by_kind(400, 400, 401)),
    # -- the key -----------------------------------------------------------------------------------
    ("wrong-key", lambda c: c.signed(key=OTHER_KEY), every(401)),
    (
        "key-with-trailing-space",
        lambda c: c.signed(key=c.key + " "),
        # HTTP drops whitespace around a field value (RFC 9110 §5.5): a Bearer token is unchanged.
        {**every(401), "yoti-bearer": 200},
    ),
    # -- the credential ----------------------------------------------------------------------------
    ("missing-credential", lambda c: c.with_credentials(), every(401)),
    # A repeated credential is ambiguous (which one counts?): refused, header or body field.
    ("duplicated-credential", lambda c: c.with_credentials(c.credential, c.credential), every(401)),
    ("duplicated-credential-wrong-first",
     lambda c: c.with_credentials(flip_char(c.credential, 9), c.credential), every(401)),
    ("duplicated-credential-wrong-last",
     lambda c: c.with_credentials(c.credential, flip_char(c.credential, 9)), every(401)),
    ("flipped-first-credential-char", credential(lambda s: flip_char(s, 0)), every(401)),
    ("flipped-middle-credential-char", credential(lambda s: flip_char(s, len(s) // 2)),
     every(401)),
    ("flipped-last-credential-char", credential(lambda s: flip_char(s, -1)), every(401)),
    ("truncated-credential", credential(lambda s: s[:-1]), every(401)),
    ("halved-credential", credential(lambda s: s[: len(s) // 2]), every(401)),
    ("credential-one-char-longer", credential(lambda s: s + "0"), every(401)),
    ("doubled-credential", credential(lambda s: s + s), every(401)),
    ("credential-with-prefix", credential(lambda s: "sha256=" + s), every(401)),
    ("credential-all-z", credential(lambda s: "z" * len(s)), every(401)),
    ("credential-last-char-g", credential(lambda s: s[:-1] + "g"), every(401)),
    # Upper-case hex carries the same digest; a token or key is case-sensitive.
    ("upper-case-credential", credential(str.upper), by_kind(200, 401, 401)),
    ("lower-case-credential", credential(str.lower), by_kind(200, 401, 401)),
    ("credential-with-surrounding-spaces", credential(lambda s: f"  {s} "),
     by_kind(200, 200, 401)),
    ("non-ascii-credential", credential(lambda s: s[:-1] + "é"), every(401)),
    ("lone-surrogate-in-credential", credential(lambda s: s + "\ud800"), every(401)),
    ("latin1-bytes-credential", credential(lambda s: b"\xff" * len(s)), every(401, HEADERS)),
    # -- the header --------------------------------------------------------------------------------
    ("lower-case-header-name", rename_header(str.lower), every(200, HEADERS)),
    ("upper-case-header-name", rename_header(str.upper), every(200, HEADERS)),
    ("mixed-case-header-name", rename_header(lambda n: n[0].lower() + n[1:].swapcase()),
     every(200, HEADERS)),
    ("headers-as-bytes", as_bytes, every(200, HEADERS)),
    ("lone-surrogate-in-another-header",
     lambda c: (c.signed()[0], [*c.signed()[1], ("X-Note", "\ud800")]), every(200)),
    ("credential-under-another-header", rename_header(lambda n: "X-" + n), every(401, HEADERS)),
    # -- HMAC only ---------------------------------------------------------------------------------
    ("base64-signature", lambda c: c.with_credentials(base64.b64encode(hmac_digest(c)).decode()),
     every(401, HMAC)),
    ("sha256-without-key",
     lambda c: c.with_credentials(hashlib.sha256(c.payload).hexdigest()), every(401, HMAC)),
]  # fmt: skip

ERRORS: dict[int, type[kw.DeliveryError]] = {400: kw.PayloadError, 401: kw.AuthenticationError}


def _tamper_params() -> list[Any]:
    return [
        pytest.param(CASES[adapter_id], build, status, id=f"{adapter_id}-{name}")
        for name, build, expected in TAMPER
        for adapter_id, status in expected.items()
    ]


def test_table_ids_are_unique_and_every_vendor_has_rows() -> None:
    names = [name for name, _, _ in TAMPER]
    assert len(names) == len(set(names))
    assert {a for _, _, expected in TAMPER for a in expected} == set(CASES) == set(ADAPTERS)


@pytest.mark.parametrize(("case", "build", "status"), _tamper_params())
def test_tampered_delivery(
    case: Case,
    build: Callable[[Case], Delivery],
    status: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    body, headers = build(case)
    vendor = case.adapter.vendor
    receiver = kw.Receiver(case.adapter.make_vendor(case.key))
    seen: list[kw.WebhookEvent] = []
    receiver.on("*")(seen.append)
    with caplog.at_level(logging.DEBUG, logger="kyc_webhooks"):
        outcome = receiver.handle(body, headers, vendor=vendor)

    assert outcome.status_code == status, outcome.response_body()
    assert outcome.vendor == vendor
    if status == 200:
        assert outcome.error is None
        assert outcome.event is not None
        assert seen == [outcome.event]
        assert type(outcome.event).__name__ == case.model
        return
    error = ERRORS[status]
    assert type(outcome.error) is error
    assert outcome.response_body()["error"] == error.__name__
    assert outcome.event is None
    assert seen == []
    with pytest.raises(error):
        receiver.parse(body, headers, vendor=vendor)
    if status == 401:
        assert case.adapter.credential_name in outcome.error.message
    texts = [
        str(outcome.error),
        repr(outcome.error),
        json.dumps(outcome.response_body(), ensure_ascii=False),
        caplog.text,
    ]
    for text in texts:
        for value in case.forbidden():
            assert value not in text


# -- detection: the same deliveries, no vendor pinned ---------------------------------------------

#: A vendor read from its header (HMAC) cannot be told without it; Yoti is told by the body shape,
#: Identomat by its key field.
DETECTION: list[tuple[str, Callable[[Case], Delivery], dict[str, type[kw.WebhookError] | None]]] = [
    ("intact", Case.signed, dict.fromkeys(ALL)),
    ("wrong-key", lambda c: c.signed(key=OTHER_KEY), dict.fromkeys(ALL, kw.AuthenticationError)),
    (
        "missing-credential",
        lambda c: c.with_credentials(),
        {
            "idenfy": kw.AuthenticationError,  # still told apart by its Idenfy-Event-Type header
            "complycube": kw.UndetectableVendorError,
            "yoti-basic": kw.AuthenticationError,
            "yoti-bearer": kw.AuthenticationError,
            "identomat": kw.UndetectableVendorError,
        },
    ),
    (
        "no-vendor-header-at-all",
        lambda c: (c.signed()[0], [("Content-Type", "application/json")]),
        {
            "idenfy": kw.UndetectableVendorError,
            "complycube": kw.UndetectableVendorError,
            "yoti-basic": kw.AuthenticationError,
            "yoti-bearer": kw.AuthenticationError,
            "identomat": None,  # the key travels in the body
        },
    ),
]


@pytest.mark.parametrize(
    ("case", "build", "error"),
    [
        pytest.param(CASES[adapter_id], build, error, id=f"{adapter_id}-{name}")
        for name, build, expected in DETECTION
        for adapter_id, error in expected.items()
    ],
)
def test_detection_without_pinning(
    case: Case, build: Callable[[Case], Delivery], error: type[kw.WebhookError] | None
) -> None:
    outcome = kw.Receiver(case.adapter.make_vendor(case.key)).handle(*build(case))
    if error is None:
        assert outcome.status_code == 200, outcome.response_body()
        assert outcome.vendor == case.adapter.vendor
        return
    assert type(outcome.error) is error
    assert outcome.status_code == (400 if error is kw.UndetectableVendorError else 401)
    assert outcome.event is None


# -- the vendor object's own parse: the size cap comes first ---------------------------------------


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_vendor_parse_caps_the_body_before_authenticating(case: Case) -> None:
    """``Vendor.parse`` (an application's own endpoint) refuses a body over its limit with a 413
    before it authenticates anything -- a forged oversized body is a 413, not an HMAC over it
    and a 401 -- and takes a body of exactly the limit. Before, it had no limit at all."""
    vendor = case.adapter.make_vendor(case.key)
    body, headers = case.signed()
    assert type(vendor.parse(body, headers, max_body_size=len(body))).__name__ == case.model
    with pytest.raises(kw.PayloadTooLargeError) as raised:
        vendor.parse(body, headers, max_body_size=len(body) - 1)
    assert raised.value.status_code == 413
    forged = b" " * (kw.DEFAULT_MAX_BODY_SIZE + 1)
    _, wrong = case.signed(key=OTHER_KEY)
    with pytest.raises(kw.PayloadTooLargeError):
        vendor.parse(forged, wrong)  # the default limit, the receiver's
    with pytest.raises(kw.AuthenticationError):
        vendor.parse(forged, wrong, max_body_size=None)  # no limit: then authentication
    for bad in (0, -1, True, 1.5, "10"):
        with pytest.raises(kw.UsageError, match="max_body_size"):
            vendor.parse(body, headers, max_body_size=bad)  # type: ignore[arg-type]
