from __future__ import annotations

import pytest

from kyc_webhooks import Headers, UsageError


@pytest.mark.parametrize(
    "source",
    [
        pytest.param({"Idenfy-Signature": "abc"}, id="dict"),
        pytest.param({"X-Other": "1", b"Idenfy-Signature": b"abc"}, id="dict-mixed-bytes"),
        pytest.param({"X-Other": "1", b"Idenfy-Signature": "abc"}, id="dict-bytes-name"),
        pytest.param([("IDENFY-SIGNATURE", "abc")], id="pairs-upper"),
        pytest.param([(b"idenfy-signature", b"abc")], id="asgi-bytes-pairs"),
        pytest.param(Headers({"idenfy-signature": "abc"}), id="headers-instance"),
    ],
)
def test_lookup_is_case_insensitive_for_every_input_shape(source: object) -> None:
    headers = Headers(source)  # type: ignore[arg-type]
    assert headers["Idenfy-Signature"] == "abc"
    assert headers.get("idenfy-SIGNATURE") == "abc"
    assert "IDENFY-signature" in headers
    assert "idenfy-signature" in list(headers)
    assert headers.get_all("idenfy-signature") == ["abc"]


def test_repeated_names_keep_every_value_in_order() -> None:
    headers = Headers([("X-A", "1"), ("x-a", "2")])
    assert headers["x-a"] == "1"
    assert headers.get_all("X-A") == ["1", "2"]
    assert headers.multi_items() == [("x-a", "1"), ("x-a", "2")]


def test_a_dict_with_names_differing_only_in_case_keeps_both_values() -> None:
    # A dict cannot repeat a name, but it can hold two spellings of one: both are kept, so that a
    # signature header sent twice is still seen twice (and refused) by the verifiers.
    headers = Headers({"Idenfy-Signature": "a", "idenfy-signature": "b"})
    assert headers.get_all("IDENFY-SIGNATURE") == ["a", "b"]
    assert len(headers) == 1


def test_bytes_values_decode_as_latin1_without_failing() -> None:
    headers = Headers([(b"x-sig", b"\xff\xfe")])
    assert headers["x-sig"] == "\xff\xfe"


def test_missing_header() -> None:
    headers = Headers({})
    assert headers.get("a") is None
    assert headers.get_all("a") == []
    assert 42 not in headers  # type: ignore[comparison-overlap]
    with pytest.raises(KeyError):
        headers["a"]


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("Idenfy-Signature: x", id="str"),
        pytest.param(b"raw", id="bytes"),
        pytest.param([("only-name",)], id="short-pair"),
        pytest.param([(1, "x")], id="int-name"),
        pytest.param(42, id="int"),
    ],
)
def test_wrong_shapes_are_usage_errors(bad: object) -> None:
    with pytest.raises(UsageError):
        Headers(bad)  # type: ignore[arg-type]


def test_repr_shows_names_not_values() -> None:
    text = repr(Headers({"Authorization": "Bearer s3cr3t"}))
    assert "authorization" in text
    assert "s3cr3t" not in text
