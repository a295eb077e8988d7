"""Regenerate the iDenfy test vectors in this directory (run by hand; the tests only read them).

    .venv/bin/python tests/vectors/idenfy/_make.py
    .venv/bin/python tests/vectors/_expected.py    # then the expectations beside each vector

* ``real_*``: the real published bodies from ``../shared/samples/idenfy/`` copied byte for byte; the
  four fragments are inserted byte for byte into a full identification body (the text around them
  is ours). Legacy bodies get no ``Idenfy-Event-Type`` header (they predate it, sheet §5.8). The
  go-idenfy body carries its published signature (key ``TestingKey``); the others are signed with
  ``VECTOR_KEY``.
* ``event_*``: one body per ``Idenfy-Event-Type`` (sheet §3) from ``kyc_webhooks.idenfy._samples``,
  serialised in three styles in turn (Python's default ``json.dumps`` with ``\\u`` escapes, compact
  UTF-8, indented UTF-8) so that the byte form matters in the tests.
* ``variant_*``: not written here -- an ``event_*`` body edited by hand (e.g. integers sent as
  integral floats, ``34.0``) and signed with ``VECTOR_KEY``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from kyc_webhooks.idenfy._samples import SAMPLES

HERE = Path(__file__).resolve().parent
SAMPLES_DIR = HERE.parents[3] / "shared" / "samples" / "idenfy"
VECTOR_KEY = "idenfy-vector-signing-key-Ž7"
GO_IDENFY_KEY = "TestingKey"
CONTENT_TYPE = "application/json; charset=utf-8"

# The full identification body the fragments are inserted into (``@FRAGMENT@`` marks the spot).
_FRAGMENT_HOST_HEAD = """{
  "final": true,
  "platform": "PC",
  "scanRef": "5b0e7c3a-91d2-4f6e-8a47-c2d9e1f03b68",
  "clientId": "client-60231",
  "startTime": 1795300000,
  "finishTime": 1795300095,
  "status": {
    "overall": "SUSPECTED",
    "fraudTags": ["AML_SUSPECTION"],
    "mismatchTags": [],
    "autoFace": "FACE_MATCH",
    "manualFace": null,
    "autoDocument": "DOC_VALIDATED",
    "manualDocument": null,
    "additionalSteps": null
  },
  "data": {
    "docFirstName": "GIEDRĖ",
    "docLastName": "ŠIMKŪNAITĖ",
    "docNumber": "38811220",
    "docType": "ID_CARD",
    "docSex": "FEMALE",
    "docNationality": "LT",
    "docIssuingCountry": "LT",
    "selectedCountry": "LT"
  },
  "fileUrls": {},
"""


def _hmac_hex(key: str, body: bytes) -> str:
    return hmac.new(key.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _write(case: str, body: bytes, headers: dict[str, str]) -> None:
    target = HERE / case
    target.mkdir(exist_ok=True)
    (target / "body").write_bytes(body)
    text = json.dumps(headers, indent=2, ensure_ascii=False) + "\n"
    (target / "headers.json").write_bytes(text.encode("utf-8"))


def _signed(body: bytes, event_type: str | None, key: str = VECTOR_KEY) -> dict[str, str]:
    headers = {"Content-Type": CONTENT_TYPE}
    if event_type is not None:
        headers["Idenfy-Event-Type"] = event_type
    headers["Idenfy-Signature"] = _hmac_hex(key, body)
    return headers


def _sample(name: str) -> bytes:
    return (SAMPLES_DIR / name).read_bytes()


def _host(members: bytes) -> bytes:
    return _FRAGMENT_HOST_HEAD.encode("utf-8") + members + b"\n}\n"


def _real_vectors() -> None:
    legacy = {
        "real_legacy_2018_12_lowercase_aml_lid": (
            "identification_legacy_2018_12_github_lowercase_aml_lid.json"
        ),
        "real_legacy_2019_04_float_timestamps": (
            "identification_legacy_2019_04_github_float_timestamps.json"
        ),
        "real_legacy_2021_01_aml_lid_objects": (
            "identification_legacy_2021_01_github_aml_lid_objects.json"
        ),
        "real_legacy_2021_resultcallback": "identification_legacy_github_resultcallback.json",
        "real_legacy_video_call": "video_call_legacy_github.json",
    }
    for case, name in legacy.items():
        body = _sample(name)
        _write(case, body, _signed(body, None))

    vector = json.loads(_sample("signature_vector_go_idenfy_testdata.json"))
    body = _sample(vector["body_file"])
    assert hashlib.sha256(body).hexdigest() == vector["body_sha256"]
    assert _hmac_hex(GO_IDENFY_KEY, body) == vector["header_value"]
    _write(
        "real_go_idenfy_testdata",
        body,
        {"Content-Type": CONTENT_TYPE, vector["header_name"]: vector["header_value"]},
    )

    # Fragments: one array element each, or (negative news) the members of a ``{"AML": [...]}``.
    items = {
        "real_fragment_aml_name_check": (b'  "AML": [', "fragment_aml_name_check_item.json"),
        "real_fragment_aml_company_check": (
            b'  "AML": [',
            "fragment_aml_company_check_item.json",
        ),
        "real_fragment_lid_item": (b'  "LID": [', "fragment_lid_item.json"),
    }
    for case, (opening, name) in items.items():
        body = _host(opening + b"\n" + _sample(name).rstrip(b"\n") + b"\n  ]")
        _write(case, body, _signed(body, "IDENTIFICATION_AUTO_FINISHED"))
    wrapper = _sample("fragment_aml_negative_news_wrapper.json").strip()
    assert wrapper.startswith(b"{")
    assert wrapper.endswith(b"}")
    body = _host(wrapper[1:-1].strip(b"\n"))
    _write("real_fragment_aml_negative_news", body, _signed(body, "IDENTIFICATION_AUTO_FINISHED"))


def _serialise(payload: dict[str, Any], style: int) -> bytes:
    if style == 0:
        return json.dumps(payload).encode("ascii")
    if style == 1:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return (json.dumps(payload, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _event_vectors() -> None:
    for index, (event_type, payload) in enumerate(SAMPLES.items()):
        body = _serialise(payload, index % 3)
        _write(f"event_{event_type.lower()}", body, _signed(body, event_type))


if __name__ == "__main__":
    _real_vectors()
    _event_vectors()
