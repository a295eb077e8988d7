"""The one loader of the byte-exact vectors under ``tests/vectors/<vendor>/<name>/`` and the small
per-vendor adapters that say how each vendor authenticates a delivery.

Each vector folder holds ``body`` (the exact bytes), ``headers.json`` and ``expected.json`` (written
by ``tests/vectors/_expected.py`` from the vendors' rules, then reviewed; see that script for the
keys). :func:`vectors` returns them all; :func:`vector_params` gives readable pytest ids
(``idenfy/real_legacy_video_call``).

The adapters are independent of the library's verification code (plain :mod:`hmac` and
:mod:`base64`), so that a bug there cannot hide behind the same bug here.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import kyc_webhooks as kw

VECTORS_DIR = Path(__file__).resolve().parent / "vectors"
#: ``../shared/samples`` of the checkout: the real published bodies the vectors copy byte for byte.
SHARED_SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
VENDORS = ("idenfy", "complycube", "yoti", "identomat")
VECTOR_FILES = ("body", "expected.json", "headers.json")

HeaderPairs = list[tuple[str | bytes, str | bytes]]


@dataclass(frozen=True)
class SampleRef:
    """A file of ``../shared/samples`` held by a vector. ``relation``: ``body`` (the body is the
    file), ``fragment`` (the file, stripped, is inside the body), ``object_members`` (the members of
    the file's outer JSON object are inside the body), ``signature_vector`` (the file's body, header
    and key are the vector's)."""

    file: str
    relation: str


@dataclass(frozen=True)
class Expected:
    status: int
    event_type: str
    model: str
    delivery_key: str | None
    delivery_key_pattern: str | None
    samples: tuple[SampleRef, ...]


@dataclass(frozen=True)
class Vector:
    vendor: str
    name: str
    body: bytes
    headers: dict[str, str]
    #: Keyword arguments of the vendor class that accept this vector.
    vendor_config: dict[str, Any]
    expected: Expected

    @property
    def id(self) -> str:
        return f"{self.vendor}/{self.name}"

    @property
    def path(self) -> Path:
        return VECTORS_DIR / self.vendor / self.name

    def wire(self) -> Any:
        """The body as plain JSON (what a lossless dump must give back)."""
        return json.loads(self.body)

    def make_vendor(self, **overrides: Any) -> kw.Vendor:
        return VENDOR_CLASSES[self.vendor](**{**self.vendor_config, **overrides})

    def receiver(self, **overrides: Any) -> kw.Receiver:
        """A receiver configured with the credentials this vector was signed with."""
        return kw.Receiver(self.make_vendor(**overrides))

    def adapter(self) -> VendorAdapter:
        if self.vendor == "yoti":
            return ADAPTERS[f"yoti-{self.vendor_config['auth_type']}"]
        return ADAPTERS[self.vendor]

    def key(self) -> str:
        """The secret this vector was signed with."""
        value = self.vendor_config[self.adapter().config_name]
        assert isinstance(value, str)
        return value


VENDOR_CLASSES: dict[str, type[kw.Vendor]] = {
    "idenfy": kw.Idenfy,
    "complycube": kw.ComplyCube,
    "yoti": kw.Yoti,
    "identomat": kw.Identomat,
}


def _load(vendor: str, name: str) -> Vector:
    folder = VECTORS_DIR / vendor / name
    headers: dict[str, str] = json.loads((folder / "headers.json").read_text(encoding="utf-8"))
    raw: dict[str, Any] = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    expected = Expected(
        status=raw["status"],
        event_type=raw["event_type"],
        model=raw["model"],
        delivery_key=raw.get("delivery_key"),
        delivery_key_pattern=raw.get("delivery_key_pattern"),
        samples=tuple(SampleRef(**item) for item in raw["samples"]),
    )
    return Vector(
        vendor=vendor,
        name=name,
        body=(folder / "body").read_bytes(),
        headers=headers,
        vendor_config=raw["vendor_config"],
        expected=expected,
    )


def vector_names(vendor: str) -> list[str]:
    """The vector folders of ``vendor`` (helper scripts such as ``_make.py`` are not folders)."""
    return sorted(p.name for p in (VECTORS_DIR / vendor).iterdir() if p.is_dir())


@functools.cache
def _all() -> tuple[Vector, ...]:
    return tuple(_load(vendor, name) for vendor in VENDORS for name in vector_names(vendor))


def vectors(vendor: str | None = None) -> list[Vector]:
    return [v for v in _all() if vendor is None or v.vendor == vendor]


def vector(vendor: str, name: str) -> Vector:
    (found,) = [v for v in _all() if v.vendor == vendor and v.name == name]
    return found


def load(vendor: str, name: str) -> tuple[bytes, dict[str, str]]:
    """``(body, headers)`` of one vector, as a delivery."""
    found = vector(vendor, name)
    return found.body, dict(found.headers)


def vector_params(vendor: str | None = None) -> list[Any]:
    return [pytest.param(v, id=v.id) for v in vectors(vendor)]


# -- adapters: how each vendor authenticates a delivery -------------------------------------------


def _hmac_hex(key: str, body: bytes) -> str:
    return hmac.new(key.encode("utf-8"), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class VendorAdapter:
    """How one vendor (one Yoti scheme) authenticates: what credential a genuine sender presents
    for a body, and where it goes.

    * ``header``: the header carrying the credential, or ``None`` when it travels in the body
      (Identomat's ``callbackApiKey``, which is then ``field``).
    * ``body_bound``: the credential depends on the body (an HMAC), so any change to the body is
      detected. Yoti and Identomat present a shared secret: it authenticates the sender, not the
      bytes.
    """

    id: str
    vendor: str
    config_name: str
    header: str | None
    field: str | None = None
    scheme: str | None = None
    extra_headers: tuple[tuple[str, str], ...] = ()
    body_bound: bool = True

    @property
    def credential_name(self) -> str:
        """The header or field named by authentication errors."""
        name = self.header or self.field
        assert name is not None
        return name

    def make_vendor(self, key: str | Sequence[str]) -> kw.Vendor:
        kwargs: dict[str, Any] = {self.config_name: key}
        if self.scheme is not None:
            kwargs["auth_type"] = self.scheme
        return VENDOR_CLASSES[self.vendor](**kwargs)

    def present(self, body: bytes, key: str) -> str:
        """The credential a genuine sender holding ``key`` presents with ``body``."""
        if self.scheme == "basic":
            return "Basic " + base64.b64encode(key.encode("utf-8")).decode("ascii")
        if self.scheme == "bearer":
            return f"Bearer {key}"
        if self.header is None:
            return key
        return _hmac_hex(key, body)

    def presented(self, body: bytes, headers: dict[str, str]) -> list[str]:
        """The credentials a delivery carries (header values, or the body field)."""
        if self.header is None:
            assert self.field is not None
            data = json.loads(body)
            return [data[self.field]] if self.field in data else []
        return [v for k, v in headers.items() if k.lower() == self.header.lower()]

    def attach(self, body: bytes, credentials: Sequence[str | bytes]) -> tuple[bytes, HeaderPairs]:
        """A delivery of ``body`` carrying each of ``credentials`` (none, one, or a duplicate).

        For a body field, the members are written in front of the body's own (a body that is not
        a JSON object is left as it is): JSON keeps the last of duplicate keys.
        """
        headers: HeaderPairs = [("Content-Type", "application/json"), *self.extra_headers]
        if self.header is None:
            if not body.startswith(b"{"):
                return body, headers
            members = b"".join(
                b'"' + str(self.field).encode() + b'":' + json.dumps(c).encode() + b","
                for c in credentials
                if isinstance(c, str)
            )
            return b"{" + members + body[1:], headers
        return body, [*headers, *((self.header, c) for c in credentials)]

    def sign(self, body: bytes, key: str) -> tuple[bytes, HeaderPairs]:
        """A genuine delivery of ``body`` (for a body field: ``body`` without it)."""
        return self.attach(body, [self.present(body, key)])


ADAPTERS: dict[str, VendorAdapter] = {
    # https://documentation.idenfy.com/security/callback-signing
    "idenfy": VendorAdapter(
        "idenfy",
        "idenfy",
        "signing_key",
        header="Idenfy-Signature",
        extra_headers=(("Idenfy-Event-Type", "IDENTIFICATION_MANUAL_FINISHED"),),
    ),
    # https://docs.complycube.com/documentation/api-reference/other-resources/webhooks
    "complycube": VendorAdapter(
        "complycube", "complycube", "secret", header="ComplyCube-Signature"
    ),
    # https://developers.yoti.com/identity-verification/notifications
    "yoti-basic": VendorAdapter(
        "yoti-basic", "yoti", "auth_token", header="Authorization", scheme="basic", body_bound=False
    ),
    "yoti-bearer": VendorAdapter(
        "yoti-bearer",
        "yoti",
        "auth_token",
        header="Authorization",
        scheme="bearer",
        body_bound=False,
    ),
    # https://docs.identomat.com/developer-tools/callbacks
    "identomat": VendorAdapter(
        "identomat", "identomat", "api_key", header=None, field="callbackApiKey", body_bound=False
    ),
}


def check_delivery_key(expected: Expected, key: str) -> None:
    if expected.delivery_key is not None:
        assert key == expected.delivery_key
    else:
        assert expected.delivery_key_pattern is not None
        assert re.fullmatch(expected.delivery_key_pattern, key), key
