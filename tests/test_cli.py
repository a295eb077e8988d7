"""The ``kyc-webhooks`` command line, called as ``main(argv)``: sign, verify, send, inbox, help and
errors (one line, no traceback, the documented exit code, never a secret in the output)."""

from __future__ import annotations

import codecs
import contextlib
import datetime as _dt
import hashlib
import hmac
import http.server
import io
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kyc_webhooks as kw
from kyc_webhooks import cli, testing
from kyc_webhooks.store import SQLiteStore

ENV_VARS = (
    *("IDENFY_SIGNING_KEY", "COMPLYCUBE_SECRET", "YOTI_AUTH_TOKEN", "YOTI_AUTH_TYPE"),
    *("IDENTOMAT_API_KEY", "KYC_WEBHOOKS_CONFIG", "KYC_WEBHOOKS_INBOX"),
)
SECRET = "cli-test-secret-4f1e"
PII = ("JŪRATĖ", "ŽEMAITĖ", "LT4815162", "203.0.113.42", "+995599123456", "604913")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err: str, *, contains: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("kyc-webhooks: error: "), err
    assert contains in lines[0], err
    assert "Traceback" not in err


def write_delivery(tmp_path: Path, vendor: str, event_type: str, secret: str = SECRET) -> Path:
    body, headers = testing.signed_delivery(vendor, event_type, secret)
    (tmp_path / "body.json").write_bytes(body)
    (tmp_path / "headers.json").write_text(json.dumps(headers))
    return tmp_path / "body.json"


# -- help, version, usage ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["sign"],
        ["verify"],
        ["send"],
        ["serve"],
        ["inbox"],
        ["inbox", "list"],
        ["inbox", "purge"],
        ["demo"],
    ],
    ids=["top", "sign", "verify", "send", "serve", "inbox", "inbox-list", "inbox-purge", "demo"],
)
def test_help_with_examples(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, _ = run(capsys, *argv, "--help")
    assert code == cli.EXIT_OK
    assert "usage: kyc-webhooks" in out
    if argv in ([], ["sign"], ["verify"], ["send"], ["serve"], ["inbox"], ["demo"]):
        assert "examples:" in out
        assert "exit codes: 0 success, 1 check failed, 2 usage" in out


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys)
    assert code == cli.EXIT_USAGE
    assert "COMMAND" in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out.strip() == f"kyc-webhooks {kw.__version__}"


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "sign", "--frobnicate")
    assert code == cli.EXIT_USAGE
    assert "unrecognized arguments" in err or "required" in err


# -- sign -----------------------------------------------------------------------------------


def test_sign_prints_the_vendor_headers(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("IDENFY_SIGNING_KEY", SECRET)
    body = b'{"scanRef": "abc", "name": "\xc5\xbd"}'
    (tmp_path / "b.json").write_bytes(body)
    code, out, err = run(capsys, "sign", "idenfy", "b.json", "--event-type", "IDENTIFICATION")
    assert code == 0, err
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert f"Idenfy-Signature: {expected}" in out.splitlines()
    assert "Idenfy-Event-Type: IDENTIFICATION" in out.splitlines()
    assert SECRET not in out + err


def test_sign_json_output_and_secret_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "b.json").write_bytes(b'{"id":"value"}')
    (tmp_path / "secret").write_text("a_webhook_signature\n")
    code, out, _ = run(capsys, "sign", "complycube", "b.json", "--secret-file", "secret", "--json")
    assert code == 0
    # The ComplyCube PHP SDK's unit-test vector.
    assert json.loads(out)["ComplyCube-Signature"] == (
        "bc00414fa4d54277a3ed01e5ee258d9800a918a7791c7cda16d38b82f38f2150"
    )


@pytest.mark.parametrize(
    "content",
    [
        f"{SECRET}".encode(),
        f"{SECRET}\n".encode(),
        f"{SECRET}\r\n# rotated 2026-01-01\r\n".encode(),
        f"{SECRET}\nsecond-key-that-is-not-the-secret\n".encode(),
        f"{SECRET}\rold-mac-line-ending\r".encode(),
        b"\xef\xbb\xbf" + f"{SECRET}\n".encode(),
    ],
    ids=["no-newline", "newline", "crlf-and-comment", "second-line", "cr", "utf8-bom"],
)
def test_secret_file_uses_the_first_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes
) -> None:
    body = b'{"id":"value"}'
    (tmp_path / "b.json").write_bytes(body)
    (tmp_path / "secret").write_bytes(content)
    code, out, err = run(
        capsys, "sign", "complycube", "b.json", "--secret-file", "secret", "--json"
    )
    assert code == 0, err
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert json.loads(out)["ComplyCube-Signature"] == expected


@pytest.mark.parametrize(
    "content",
    [b"", b"\n", b"\r\n", b"  \t\n", f"\n{SECRET}\n".encode()],
    ids=["empty-file", "empty-line", "empty-crlf-line", "blank-line", "secret-on-line-2"],
)
def test_secret_file_with_an_empty_first_line_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes
) -> None:
    (tmp_path / "b.json").write_bytes(b"{}")
    (tmp_path / "secret").write_bytes(content)
    code, out, err = run(capsys, "sign", "complycube", "b.json", "--secret-file", "secret")
    assert code == cli.EXIT_USAGE
    assert out == ""
    assert_one_line_error(err, contains="secret file secret has no secret: its first line is empty")
    assert SECRET not in err


def test_sign_reads_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YOTI_TOKEN_FOR_TEST", "username:password")
    stdin = io.TextIOWrapper(io.BytesIO(b'{"session_id":"s","topic":"t"}'))
    monkeypatch.setattr(sys, "stdin", stdin)
    code, out, _ = run(capsys, "sign", "yoti", "-", "--secret-env", "YOTI_TOKEN_FOR_TEST")
    assert code == 0
    assert "Authorization: Basic dXNlcm5hbWU6cGFzc3dvcmQ=" in out


def test_sign_yoti_bearer(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "b.json").write_bytes(b"{}")
    code, out, _ = run(capsys, "sign", "yoti", "b.json", "--secret", "tok", "--auth-type", "bearer")
    assert code == 0
    assert "Authorization: Bearer tok" in out


def test_sign_identomat_writes_the_signed_body(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("IDENTOMAT_API_KEY", SECRET)
    (tmp_path / "b.json").write_bytes(b'{"type":"session-change","sessionId":"x"}')
    code, _, err = run(capsys, "sign", "identomat", "b.json")
    assert code == 0
    assert "--output" in err  # the key travels in the body: say how to get it
    code, _, _ = run(capsys, "sign", "identomat", "b.json", "-o", "signed.json")
    assert code == 0
    assert json.loads((tmp_path / "signed.json").read_bytes())["callbackApiKey"] == SECRET


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (
            ["sign", "idenfy", "missing.json", "--event-type", "X"],
            {"IDENFY_SIGNING_KEY": "k"},
            "body file not found: missing.json",
        ),
        (["sign", "idenfy", "b.json"], {"IDENFY_SIGNING_KEY": "k"}, "need --event-type"),
        (
            ["sign", "idenfy", "b.json", "--event-type", "X"],
            {"IDENFY_SIGNING_KEY": ""},
            "signing_key must not be empty",
        ),
        (
            ["sign", "complycube", "b.json"],
            {},
            "no credentials for complycube: set COMPLYCUBE_SECRET",
        ),
        (
            ["sign", "complycube", "b.json", "--secret-env", "NOPE_VAR"],
            {},
            "NOPE_VAR (--secret-env) is not set",
        ),
        (["sign", "complycube", "b.json", "--secret-file", "nope"], {}, "secret file not found"),
        (["sign", "identomat", "b.json", "--secret", "k"], {}, "must be a JSON object"),
        (
            ["sign", "yoti", "b.json"],
            {"YOTI_AUTH_TOKEN": "t", "YOTI_AUTH_TYPE": "digest"},
            "auth_type must be 'basic' or 'bearer'",
        ),
        (["sign", "complycube", "."], {"COMPLYCUBE_SECRET": "k"}, "is a directory"),
    ],
    ids=[
        "missing-body",
        "idenfy-without-event-type",
        "empty-secret",
        "no-credentials",
        "unset-secret-env",
        "missing-secret-file",
        "identomat-not-an-object",
        "bad-yoti-auth-type",
        "directory",
    ],
)
def test_sign_errors(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    argv: list[str],
    env: dict[str, str],
    message: str,
) -> None:
    (tmp_path / "b.json").write_bytes(b"[1]")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, _, err = run(capsys, *argv)
    assert code == cli.EXIT_USAGE
    assert_one_line_error(err, contains=message)


# -- verify ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vendor", "event_type", "env"),
    [
        ("idenfy", "IDENTIFICATION_AUTO_FINISHED", "IDENFY_SIGNING_KEY"),
        ("complycube", "check.completed.clear", "COMPLYCUBE_SECRET"),
        ("yoti", "check_completion", "YOTI_AUTH_TOKEN"),
        ("identomat", "one-time-password-request", "IDENTOMAT_API_KEY"),
    ],
    ids=["idenfy", "complycube", "yoti", "identomat"],
)
def test_verify_authentic_delivery(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    vendor: str,
    event_type: str,
    env: str,
) -> None:
    monkeypatch.setenv(env, SECRET)
    write_delivery(tmp_path, vendor, event_type)
    code, out, err = run(capsys, "verify", "body.json", "--headers", "headers.json")
    assert code == cli.EXIT_OK, err
    assert f"authentic: vendor={vendor} event_type={event_type}" in out
    assert "model: kyc_webhooks." in out
    assert "UnknownEvent" not in out
    assert "delivery_key: " in out
    text = out + err
    assert SECRET not in text
    for value in PII:
        assert value not in text


def test_verify_summary_redacts_personal_fields(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("IDENTOMAT_API_KEY", SECRET)
    write_delivery(tmp_path, "identomat", "one-time-password-request")
    code, out, _ = run(capsys, "verify", "body.json", "--headers", "headers.json")
    assert code == 0
    assert "  phone_number: <redacted>" in out
    assert "  type: one-time-password-request" in out


def test_verify_prints_a_line_break_in_the_event_type_escaped(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The signed body's type is the sender's text: "\n" in it forged a line of the output
    # (a script reading `delivery_key: ` would have read the sender's).
    monkeypatch.setenv("COMPLYCUBE_SECRET", SECRET)
    payload = {"id": "evt-1", "type": "client.\ndelivery_key: forged\x1b[2J"}
    body, headers = testing.sign("complycube", payload, SECRET)
    (tmp_path / "body.json").write_bytes(body)
    (tmp_path / "headers.json").write_text(json.dumps(dict(headers)), encoding="utf-8")
    code, out, err = run(capsys, "verify", "body.json", "--headers", "headers.json")
    assert code == cli.EXIT_OK, err
    lines = out.splitlines()
    assert lines[0] == (
        "authentic: vendor=complycube event_type=client.\\ndelivery_key: forged\\x1b[2J"
    )
    assert [line for line in lines if line.startswith("delivery_key: ")] == [
        "delivery_key: complycube:evt-1"
    ]


def test_verify_json_keeps_json_values(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Review R61: booleans and nulls came out as strings ("final": "false").
    monkeypatch.setenv("IDENFY_SIGNING_KEY", SECRET)
    body, headers = testing.signed_delivery(
        "idenfy", "IDENTIFICATION_AUTO_FINISHED", SECRET, final=False, clientId=None
    )
    (tmp_path / "body.json").write_bytes(body)
    (tmp_path / "headers.json").write_text(json.dumps(headers))
    code, out, err = run(capsys, "verify", "body.json", "--headers", "headers.json", "--json")
    assert code == 0, err
    fields = json.loads(out)["fields"]
    assert fields["final"] is False
    assert fields["client_id"] is None
    assert fields["scan_ref"] == json.loads(body)["scanRef"]


def test_verify_with_header_lines_and_options(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    body, headers = testing.signed_delivery("idenfy", "IDENTIFICATION", SECRET)
    (tmp_path / "body.json").write_bytes(body)
    # curl -v style: a request line, then the headers, a blank line, then anything.
    lines = [
        "POST /webhooks HTTP/1.1",
        "Host: example.com",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    (tmp_path / "headers.txt").write_text("\n".join(lines) + "\n\nignored body\n")
    (tmp_path / "key").write_text(SECRET)
    code, out, err = run(
        capsys, "verify", "body.json", "--headers", "headers.txt", "--vendor", "idenfy",
        "--secret-file", "key",
    )  # fmt: skip
    assert code == 0, err
    assert "event_type=IDENTIFICATION" in out
    signature = headers["Idenfy-Signature"]
    code, out, err = run(
        capsys, "verify", "body.json", "--vendor", "idenfy", "--secret", SECRET,
        "-H", f"idenfy-signature: {signature}", "-H", "Idenfy-Event-Type: IDENTIFICATION",
    )  # fmt: skip
    assert code == 0, err
    assert signature not in out


def _curl_trace(headers: dict[str, str], eol: str) -> str:
    """What `curl -v --data-binary @body.json -H ... URL` prints (stderr and stdout together)."""
    lines = [
        "Note: Unnecessary use of -X or --request, POST is already inferred.",
        "*   Trying 127.0.0.1:8000...",
        "* Connected to 127.0.0.1 (127.0.0.1) port 8000",
        "> POST /webhooks/idenfy HTTP/1.1",
        "> Host: 127.0.0.1:8000",
        "> User-Agent: curl/8.5.0",
        "> Accept: */*",
        *(f"> {k}: {v}" for k, v in headers.items()),
        "> ",
        "< HTTP/1.1 200 OK",
        "< content-type: application/json",
        "< ",
        '{"ok":true}',
        "* Connection #0 to host 127.0.0.1 left intact",
    ]
    return eol.join(lines) + eol


@pytest.mark.parametrize(
    "layout",
    ["blank-lines-then-request-line", "blank-lines-then-status-line", "curl-v", "curl-v-crlf"],
)
def test_verify_header_files_as_captured(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, layout: str
) -> None:
    body, headers = testing.signed_delivery("idenfy", "IDENTIFICATION", SECRET)
    (tmp_path / "body.json").write_bytes(body)
    block = "".join(f"{k}: {v}\n" for k, v in headers.items())
    text = {
        "blank-lines-then-request-line": f"\n\n  \nPOST /webhooks HTTP/1.1\n{block}\nbody\n",
        "blank-lines-then-status-line": f"\r\n\r\nHTTP/1.1 200 OK\r\n{block}",
        "curl-v": _curl_trace(headers, "\n"),
        "curl-v-crlf": _curl_trace(headers, "\r\n"),
    }[layout]
    (tmp_path / "headers.txt").write_text(text, newline="")
    code, out, err = run(capsys, "verify", "body.json", "--headers", "headers.txt",
                         "--vendor", "idenfy", "--secret", SECRET)  # fmt: skip
    assert code == 0, err
    assert "authentic: vendor=idenfy event_type=IDENTIFICATION" in out


@pytest.mark.parametrize("where", ["-H", "headers-file"])
@pytest.mark.parametrize("around", ["\u00a0{}", "{}\u00a0", "{}\x85", "\u3000{}"])
def test_verify_answers_as_the_receiver_for_characters_around_a_signature(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, where: str, around: str
) -> None:
    """Only spaces and tabs surround a header value; lines end at LF. `verify` trimmed every
    Unicode blank and cut lines at NEL (byte 0x85 of a Latin-1 file): it said "authentic" for a
    request the receiver answered 401 (review R39)."""
    body, headers = testing.signed_delivery("idenfy", "IDENTIFICATION", SECRET)
    (tmp_path / "body.json").write_bytes(body)
    signature = around.format(headers["Idenfy-Signature"])
    receiver = kw.Receiver(kw.Idenfy(signing_key=SECRET))
    assert receiver.handle(body, {**headers, "Idenfy-Signature": signature}).status_code == 401
    if where == "-H":
        options = ["-H", f"Idenfy-Signature: {signature}"]
        options += ["-H", "Idenfy-Event-Type: IDENTIFICATION"]
    else:
        text = f"Idenfy-Signature: {signature}\nIdenfy-Event-Type: IDENTIFICATION\n"
        # NEL as the single byte 0x85 (a file that is not UTF-8 is read as Latin-1).
        data = text.encode("latin-1") if "\x85" in text else text.encode("utf-8")
        (tmp_path / "headers.txt").write_bytes(data)
        options = ["--headers", "headers.txt"]
    code, out, err = run(
        capsys, "verify", "body.json", *options, "--vendor", "idenfy", "--secret", SECRET
    )
    assert code == cli.EXIT_FAILED, (out, err)
    assert "authentic" not in out


def test_verify_header_file_request_line_only_skipped_before_the_headers(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "body.json").write_bytes(b"{}")
    (tmp_path / "h.txt").write_text("A: b\nPOST /x HTTP/1.1\n")
    code, _, err = run(capsys, "verify", "body.json", "--headers", "h.txt", "--vendor", "idenfy",
                       "--secret", SECRET)  # fmt: skip
    assert code == cli.EXIT_USAGE
    assert_one_line_error(err, contains="headers file h.txt line 2: expected 'Name: value'")


def test_verify_header_pairs_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    body, headers = testing.signed_delivery("complycube", "client.created", SECRET)
    (tmp_path / "body.json").write_bytes(body)
    (tmp_path / "h.json").write_text(json.dumps([[k, v] for k, v in headers.items()]))
    code, _, err = run(capsys, "verify", "body.json", "--headers", "h.json", "--vendor",
                       "complycube", "--secret", SECRET)  # fmt: skip
    assert code == 0, err


@pytest.mark.parametrize("form", ["json", "lines", "curl-v"])
@pytest.mark.parametrize(
    "encoding", ["utf-8-bom", "utf-16", "utf-16-le-bom", "utf-16-be-bom", "utf-32"]
)
def test_verify_headers_file_with_a_byte_order_mark(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    form: str,
    encoding: str,
) -> None:
    # Notepad saves UTF-8 with a BOM, PowerShell's `>` writes UTF-16: the JSON form used to be
    # read as header lines ("NOT authentic"), UTF-16 as a parse error.
    monkeypatch.setenv("COMPLYCUBE_SECRET", SECRET)
    body, headers = testing.signed_delivery("complycube", "check.completed", SECRET)
    (tmp_path / "body.json").write_bytes(body)
    text = {
        "json": json.dumps(headers),
        "lines": "".join(f"{k}: {v}\r\n" for k, v in headers.items()),
        "curl-v": _curl_trace(headers, "\n"),
    }[form]
    raw = {
        "utf-8-bom": codecs.BOM_UTF8 + text.encode("utf-8"),
        "utf-16": text.encode("utf-16"),
        "utf-16-le-bom": codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
        "utf-16-be-bom": codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
        "utf-32": text.encode("utf-32"),
    }[encoding]
    (tmp_path / "headers").write_bytes(raw)
    code, out, err = run(capsys, "verify", "body.json", "--headers", "headers")
    assert code == cli.EXIT_OK, out + err
    assert "authentic: vendor=complycube event_type=check.completed" in out


def test_verify_headers_file_with_a_bom_but_bad_bytes_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "body.json").write_bytes(b"{}")
    (tmp_path / "h").write_bytes(codecs.BOM_UTF16_LE + b"A\x00:")  # an odd number of bytes
    code, _, err = run(capsys, "verify", "body.json", "--headers", "h", "--vendor", "complycube",
                       "--secret", SECRET)  # fmt: skip
    assert code == cli.EXIT_USAGE
    assert_one_line_error(err, contains="starts with a UTF-16 BOM but is not valid UTF-16")


@pytest.mark.parametrize("prefix", [codecs.BOM_UTF8, codecs.BOM_UTF16_LE], ids=["utf-8", "utf-16"])
def test_verify_never_strips_a_bom_from_the_body(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    prefix: bytes,
) -> None:
    # The body is checked byte for byte as it was signed: a BOM signed with it stays (the
    # signature holds; the body is then not valid UTF-8 JSON, as the receiver would say), and a
    # BOM added after signing is a different body.
    monkeypatch.setenv("COMPLYCUBE_SECRET", SECRET)
    plain, _ = testing.signed_delivery("complycube", "check.completed", SECRET)
    signed_body, signed_headers = testing.sign("complycube", prefix + plain, SECRET)
    (tmp_path / "body.json").write_bytes(signed_body)
    (tmp_path / "headers.json").write_bytes(codecs.BOM_UTF8 + json.dumps(signed_headers).encode())
    code, out, err = run(capsys, "verify", "body.json", "--headers", "headers.json")
    assert code == cli.EXIT_FAILED
    assert "authentic but invalid: vendor=complycube status=400 error=PayloadError" in out + err
    _, plain_headers = testing.sign("complycube", plain, SECRET)
    (tmp_path / "headers.json").write_bytes(codecs.BOM_UTF8 + json.dumps(plain_headers).encode())
    code, out, err = run(capsys, "verify", "body.json", "--headers", "headers.json")
    assert code == cli.EXIT_FAILED
    assert "NOT authentic: vendor=complycube status=401" in out + err


def test_verify_refuses_body_and_headers_both_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``verify - --headers -``: the body read stdin to its end, the headers came out empty,
    and the request was "NOT authentic" (exit 1) rather than a usage error."""
    monkeypatch.setenv("COMPLYCUBE_SECRET", SECRET)
    body, _ = testing.signed_delivery("complycube", "check.completed", SECRET)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(body)))
    code, out, err = run(capsys, "verify", "-", "--headers", "-")
    assert code == cli.EXIT_USAGE
    assert out == ""
    assert_one_line_error(err, contains="cannot both be read from stdin")


def test_verify_does_not_call_an_unread_identomat_key_authentic(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A forged Identomat body (wrong key) too big to read: verify said "authentic but invalid"
    (the read's bound was a PayloadError, taken for an error after authentication)."""
    from kyc_webhooks._validation import MAX_JSON_OBJECTS

    monkeypatch.setenv("IDENTOMAT_API_KEY", SECRET)
    filler = b",".join([b"{}"] * (MAX_JSON_OBJECTS + 1))
    (tmp_path / "body.json").write_bytes(b'{"callbackApiKey": "forged", "x": [%s]}' % filler)
    code, out, err = run(capsys, "verify", "body.json", "--vendor", "identomat", "--json")
    assert code == cli.EXIT_FAILED
    assert json.loads(out)["authentic"] is False
    assert "NOT authentic: vendor=identomat status=401 error=AuthenticationError" in err


@pytest.mark.parametrize(
    ("mutate", "verdict"),
    [
        ("wrong-secret", "NOT authentic: vendor=complycube status=401 error=AuthenticationError"),
        ("tampered", "NOT authentic: vendor=complycube status=401"),
        ("no-signature", "missing ComplyCube-Signature header"),
        ("not-json", "authentic but invalid: vendor=complycube status=400 error=PayloadError"),
    ],
    ids=["wrong-secret", "tampered", "no-signature", "not-json"],
)
def test_verify_refusals_exit_1_with_the_reason(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    mutate: str,
    verdict: str,
) -> None:
    monkeypatch.setenv("COMPLYCUBE_SECRET", SECRET)
    delivery = testing.signed_delivery("complycube", "check.completed", SECRET)
    if mutate == "wrong-secret":
        delivery = testing.signed_delivery("complycube", "check.completed", "other")
    elif mutate == "tampered":
        delivery = testing.tamper(delivery)
    elif mutate == "no-signature":
        delivery = testing.Delivery(delivery.body, {"ComplyCube-Signature": ""})
        delivery.headers.pop("ComplyCube-Signature")
        delivery.headers["X-Other"] = "1"
    else:
        delivery = testing.Delivery(b"not json", testing.sign("complycube", b"not json", SECRET)[1])
    (tmp_path / "body.json").write_bytes(delivery.body)
    (tmp_path / "headers.json").write_text(json.dumps(delivery.headers))
    code, out, err = run(capsys, "verify", "body.json", "--headers", "headers.json",
                         "--vendor", "complycube")  # fmt: skip
    assert code == cli.EXIT_FAILED
    assert out == ""
    assert verdict in err
    assert len(err.strip().splitlines()) == 1
    assert SECRET not in err


def test_verify_over_the_size_limit_is_not_called_forged(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("COMPLYCUBE_SECRET", SECRET)
    payload = testing.sample_payload("complycube", "check.pending")
    payload["pad"] = "x" * kw.DEFAULT_MAX_BODY_SIZE
    body, headers = testing.sign("complycube", payload, SECRET)  # validly signed, over 1 MiB
    (tmp_path / "body.json").write_bytes(body)
    (tmp_path / "headers.json").write_text(json.dumps(headers))
    argv = ["verify", "body.json", "--headers", "headers.json"]
    code, out, err = run(capsys, *argv)
    assert code == cli.EXIT_FAILED
    assert out == ""
    assert err.strip() == (
        "too large, not checked: status=413 error=PayloadTooLargeError: body is "
        f"{len(body)} bytes, over the {kw.DEFAULT_MAX_BODY_SIZE}-byte limit (a receiver with "
        f"this max_body_size refuses it unread; pass --max-body-size {len(body)} to check it)"
    )
    code, out, _ = run(capsys, *argv, "--json")
    assert code == cli.EXIT_FAILED
    assert json.loads(out) == {
        "authentic": None,
        "valid": False,
        "vendor": "?",
        "status": 413,
        "error": "PayloadTooLargeError",
    }
    # With the limit raised it is checked: authentic; a limit one byte short refuses it again.
    code, out, err = run(capsys, *argv, "--max-body-size", str(len(body)))
    assert code == cli.EXIT_OK, err
    assert out.startswith("authentic: vendor=complycube event_type=check.pending")
    code, _, err = run(capsys, *argv, "--max-body-size", str(len(body) - 1))
    assert code == cli.EXIT_FAILED
    assert "too large, not checked" in err
    code, _, err = run(capsys, *argv, "--max-body-size", "0")
    assert code == cli.EXIT_USAGE
    assert_one_line_error(err, contains="--max-body-size must be at least 1")


def test_verify_reads_an_endless_body_only_up_to_the_size_limit(tmp_path: Path) -> None:
    # Review R53: the whole file was read before the size cap (a 3 GB file took 3 GB of memory;
    # /dev/zero never ended). It reads the cap plus one byte and says so.
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_SECRET", "_API_KEY"))}
    env["COMPLYCUBE_SECRET"] = SECRET
    argv = [sys.executable, "-m", "kyc_webhooks", "verify", "/dev/zero", "-H", "X-A: b"]
    done = subprocess.run(
        [*argv, "--max-body-size", "1024"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == cli.EXIT_FAILED, done.stderr
    assert done.stderr.strip() == (
        "too large, not checked: status=413 error=PayloadTooLargeError: body is over the "
        "1024-byte limit (a receiver with this max_body_size refuses it unread; pass a larger "
        "--max-body-size to check it)"
    )
    # A limit far over the body (the hint's advice) reads what there is, allocating no more
    # (review R57: read(limit + 1) asked for 100 GB at once: MemoryError).
    body, headers = testing.sign("complycube", {"id": "x-1", "type": "client.created"}, SECRET)
    (tmp_path / "body.json").write_bytes(body)
    flags = [f"-H{name}: {value}" for name, value in headers.items()]
    done = subprocess.run(
        [*argv[:4], str(tmp_path / "body.json"), *flags, "--max-body-size", "100000000000"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == cli.EXIT_OK, done.stderr


def _to_a_closed_pipe(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``python -m kyc_webhooks <argv>`` with its stdout a pipe whose reader has gone (as
    ``| head -c 0`` leaves it)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "kyc_webhooks", *argv],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            timeout=60,
        )
    finally:
        os.close(write_end)


def test_a_reader_gone_from_stdout_keeps_the_commands_own_exit_code(tmp_path: Path) -> None:
    """main() answered every BrokenPipeError 0: ``verify --json | head -c 0`` of a forged
    request was "authentic" to a script with pipefail."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_SECRET", "_API_KEY"))}
    env["COMPLYCUBE_SECRET"] = SECRET
    forged = testing.tamper(testing.signed_delivery("complycube", "check.completed", SECRET))
    (tmp_path / "body.json").write_bytes(forged.body)
    (tmp_path / "headers.json").write_text(json.dumps(forged.headers))
    argv = ["verify", str(tmp_path / "body.json"), "--headers", str(tmp_path / "headers.json")]
    done = _to_a_closed_pipe([*argv, "--json"], env)
    assert done.returncode == cli.EXIT_FAILED, done.stderr
    assert "NOT authentic" in done.stderr
    assert "Traceback" not in done.stderr
    assert "Exception ignored" not in done.stderr
    genuine = testing.signed_delivery("complycube", "check.completed", SECRET)
    (tmp_path / "body.json").write_bytes(genuine.body)
    (tmp_path / "headers.json").write_text(json.dumps(genuine.headers))
    done = _to_a_closed_pipe(argv, env)
    assert (done.returncode, done.stderr) == (cli.EXIT_OK, "")
    done = _to_a_closed_pipe(["--help"], env)
    assert (done.returncode, done.stderr) == (cli.EXIT_OK, "")


def test_ctrl_c_while_the_command_line_is_read_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Ctrl-C in the first fraction of a second (the command's module being imported) was a
    Python traceback; later it was "interrupted", exit 130."""

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    code, out, err = run(capsys, "inbox", "list")
    assert (code, out, err) == (cli.EXIT_INTERRUPTED, "", "kyc-webhooks: interrupted\n")


def test_verify_reports_an_invalid_lazy_section(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("IDENFY_SIGNING_KEY", SECRET)
    payload = testing.sample_payload("idenfy", "IDENTIFICATION_MANUAL_FINISHED")
    payload["LID"][0]["data"] = [{"valid": "maybe", "documentNumber": "LT0000001"}]
    body, headers = testing.sign("idenfy", payload, SECRET, event_type="IDENTIFICATION")
    (tmp_path / "body.json").write_bytes(body)
    (tmp_path / "headers.json").write_text(json.dumps(headers))
    code, out, err = run(capsys, "verify", "body.json", "--headers", "headers.json")
    assert code == cli.EXIT_FAILED
    assert out == ""
    assert "authentic but invalid: vendor=idenfy error=PayloadError" in err
    assert "LID.0.data.0.valid" in err
    assert "LT0000001" not in err
    assert "maybe" not in err


def test_verify_undetectable_vendor(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("COMPLYCUBE_SECRET", SECRET)
    (tmp_path / "body.json").write_bytes(b"{}")
    code, _, err = run(capsys, "verify", "body.json", "-H", "X-A: b")
    assert code == cli.EXIT_FAILED
    assert "UndetectableVendorError" in err


@pytest.mark.parametrize(
    ("argv", "files", "message"),
    [
        (["verify", "nope.json"], {}, "body file not found: nope.json"),
        (["verify", "body.json", "--headers", "nope.txt"], {}, "headers file not found"),
        (["verify", "body.json", "-H", "no colon"], {}, "-H option #1: expected 'Name: value'"),
        (
            ["verify", "body.json", "--headers", "h.txt"],
            {"h.txt": "A: b\nbroken\n"},
            "line 2: expected",
        ),
        (["verify", "body.json", "--headers", "h.txt"], {"h.txt": "{bad json"}, "not valid JSON"),
        (["verify", "body.json", "--headers", "h.txt"], {"h.txt": "[1, 2]"}, "[name, value] pairs"),
        (["verify", "body.json", "--secret", "x"], {}, "need --vendor"),
        (["verify", "body.json"], {}, "no credentials to verify with"),
        (
            ["verify", "body.json", "--config", "c.toml"],
            {"c.toml": "[idenfy]\nsigning_key = 1 2\n"},
            "not valid TOML",
        ),
        (
            ["verify", "body.json", "--config", "c.toml"],
            {"c.toml": "[paypal]\nkey = 'x'\n"},
            "unknown table [paypal]",
        ),
        (
            ["verify", "body.json", "--config", "c.toml"],
            {"c.toml": "[idenfy]\nkey = 'x'\n"},
            "unknown key 'key' in [idenfy]",
        ),
        (
            ["verify", "body.json", "--config", "c.toml"],
            {"c.toml": "[yoti]\nauth_type = 'basic'\n"},
            "[yoti] needs auth_token",
        ),
        (
            ["verify", "body.json", "--config", "c.toml"],
            {"c.toml": "idenfy = 3\n"},
            "[idenfy] must be a table",
        ),
        (
            ["verify", "body.json", "--config", "c.toml"],
            {"c.toml": "[idenfy]\nsigning_key = ''\n"},
            "bad idenfy credentials from c.toml [idenfy]: signing_key must not be empty",
        ),
        (["verify", "body.json", "--config", "c.toml"], {"c.toml": b"\xff"}, "not UTF-8"),
    ],
    ids=[
        "missing-body",
        "missing-headers",
        "bad-H",
        "bad-header-line",
        "bad-json-headers",
        "bad-json-shape",
        "secret-without-vendor",
        "no-credentials",
        "bad-toml",
        "unknown-table",
        "unknown-key",
        "missing-secret-key",
        "not-a-table",
        "empty-secret-in-config",
        "config-not-utf8",
    ],
)
def test_verify_usage_errors(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    argv: list[str],
    files: dict[str, str | bytes],
    message: str,
) -> None:
    (tmp_path / "body.json").write_bytes(b"{}")
    for name, content in files.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    code, out, err = run(capsys, *argv)
    assert code == cli.EXIT_USAGE
    assert out == ""
    assert_one_line_error(err, contains=message)


def test_verify_with_a_toml_config_and_key_rotation(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write_delivery(tmp_path, "yoti", "session_completion", secret="old:token")
    (tmp_path / "c.toml").write_text(
        '[yoti]\nauth_token = ["new:token", "old:token"]\nauth_type = "basic"\n'
    )
    monkeypatch.setenv("KYC_WEBHOOKS_CONFIG", "c.toml")
    code, out, err = run(capsys, "verify", "body.json", "--headers", "headers.json")
    assert code == 0, err
    assert "vendor=yoti" in out
    assert "token" not in out + err


def test_missing_tomllib_is_exit_4(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "body.json").write_bytes(b"{}")
    (tmp_path / "c.toml").write_text("")
    monkeypatch.setitem(sys.modules, "tomllib", None)
    monkeypatch.setitem(sys.modules, "tomli", None)
    code, _, err = run(capsys, "verify", "body.json", "--config", "c.toml")
    assert code == cli.EXIT_MISSING_DEPENDENCY
    assert_one_line_error(err, contains="pip install tomli (the cli extra)")


# -- send -----------------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    receiver: kw.Receiver

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        vendor = self.path.strip("/").rsplit("/", 1)[-1] or None
        outcome = self.receiver.handle(body, list(self.headers.items()), vendor=vendor)
        answer = json.dumps(outcome.response_body()).encode()
        self.send_response(outcome.status_code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def target() -> Iterator[tuple[str, testing.WebhookTester, list[kw.WebhookEvent]]]:
    """A stdlib HTTP server on loopback running a receiver with a MemoryStore."""
    from kyc_webhooks.store import MemoryStore

    secrets = dict.fromkeys(("idenfy", "complycube", "identomat"), SECRET)
    secrets["yoti"] = "user:" + SECRET
    receiver = kw.Receiver(*testing.make_vendors(secrets), store=MemoryStore())
    seen: list[kw.WebhookEvent] = []
    receiver.on("*")(seen.append)
    handler = type("H", (_Handler,), {"receiver": receiver})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        yield f"http://127.0.0.1:{port}", testing.WebhookTester(receiver, secrets=secrets), seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def _set_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENFY_SIGNING_KEY", SECRET)
    monkeypatch.setenv("COMPLYCUBE_SECRET", SECRET)
    monkeypatch.setenv("YOTI_AUTH_TOKEN", "user:" + SECRET)
    monkeypatch.setenv("IDENTOMAT_API_KEY", SECRET)


def test_send_with_count_and_progress(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    target: tuple[str, testing.WebhookTester, list[kw.WebhookEvent]],
) -> None:
    url, _, seen = target
    _set_secrets(monkeypatch)
    code, out, err = run(capsys, "send", "--vendor", "complycube",
                         "--event-type", "check.completed",
                         "--to", url + "/complycube", "--count", "3")  # fmt: skip
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "[1/3] complycube check.completed -> 200 OK"
    assert lines[1] == "[2/3] complycube check.completed -> 200 OK (duplicate)"
    assert lines[3] == "sent 3: 3 accepted, 0 refused"
    assert len(seen) == 1  # the repeats were duplicates
    assert SECRET not in out + err


def test_send_every_event_type_of_every_vendor(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    target: tuple[str, testing.WebhookTester, list[kw.WebhookEvent]],
) -> None:
    url, _, seen = target
    _set_secrets(monkeypatch)
    code, out, _ = run(capsys, "send", "--vendor", "all", "--to", url, "--vendor-path")
    total = sum(len(testing.event_types(v)) for v in ("idenfy", "complycube", "yoti", "identomat"))
    assert code == 0
    assert f"sent {total}: {total} accepted, 0 refused" in out
    assert len(seen) == total


def test_send_overrides_reach_the_handler(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    target: tuple[str, testing.WebhookTester, list[kw.WebhookEvent]],
) -> None:
    url, _, seen = target
    _set_secrets(monkeypatch)
    code, _, err = run(capsys, "send", "--vendor", "identomat", "--event-type", "session-change",
                       "--add", "extra.deep=[1, 2]", "--set", "result=MANUAL_CHECK",
                       "--to", url)  # fmt: skip
    assert code == 0, err
    dumped = seen[0].model_dump(by_alias=True)
    assert dumped["result"] == "MANUAL_CHECK"
    assert dumped["extra"] == {"deep": [1, 2]}


@pytest.mark.parametrize(
    ("vendor_event", "override", "message"),
    [
        (
            "identomat:session-change",
            "reslt=REJECTED",
            "--set: identomat session-change: override 'reslt': the sample has no field 'reslt' "
            "at the top level; fields there, closest first: result, ",
        ),
        (
            "idenfy:IDENTIFICATION",
            "status.overal=DENIED",
            "no field 'overal' in 'status'; fields there, closest first: overall, ",
        ),
        ("identomat:session-change", "extra.deep=1", "no field 'extra' at the top level"),
    ],
    ids=["typo", "nested-typo", "new-field"],
)
def test_send_set_refuses_a_path_not_in_the_sample(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    target: tuple[str, testing.WebhookTester, list[kw.WebhookEvent]],
    vendor_event: str,
    override: str,
    message: str,
) -> None:
    # `--set reslt=REJECTED` used to add a stray field and send the APPROVED sample (exit 0).
    url, _, seen = target
    vendor, event_type = vendor_event.split(":")
    _set_secrets(monkeypatch)
    code, out, err = run(capsys, "send", "--vendor", vendor, "--event-type", event_type,
                         "--set", override, "--to", url)  # fmt: skip
    assert code == cli.EXIT_USAGE
    assert out == ""
    assert_one_line_error(err, contains=message)
    assert "use --add PATH=VALUE" in err
    assert "set_path" not in err
    assert seen == []  # nothing was sent


def test_send_add_expects_path_equals_value(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "send", "--vendor", "identomat", "--secret", SECRET,
                       "--add", "novalue", "--to", "http://127.0.0.1:1/x")  # fmt: skip
    assert code == cli.EXIT_USAGE
    assert_one_line_error(err, contains="--add expects PATH=VALUE, got 'novalue'")


def test_send_refused_deliveries_exit_1(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    target: tuple[str, testing.WebhookTester, list[kw.WebhookEvent]],
) -> None:
    url, _, seen = target
    _set_secrets(monkeypatch)
    code, out, _ = run(capsys, "send", "--vendor", "idenfy", "--event-type", "IDENTIFICATION",
                       "--to", url + "/idenfy", "--tamper")  # fmt: skip
    assert code == cli.EXIT_FAILED
    assert "-> 401 Unauthorized (AuthenticationError: invalid Idenfy-Signature signature)" in out
    assert "sent 1: 0 accepted, 1 refused" in out
    assert seen == []


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (
            ["--to", "http://127.0.0.1:1/x"],  # port 1: nothing listens there
            cli.EXIT_UNAVAILABLE,
            "cannot reach http://127.0.0.1:",
        ),
        (["--to", "ftp://example.com/x"], cli.EXIT_USAGE, "must be an http:// or https:// URL"),
        (["--to", "http://127.0.0.1:1/x", "--count", "0"], cli.EXIT_USAGE, "--count must be"),
        (
            ["--to", "http://127.0.0.1:1/x", "--event-type", "NOPE"],
            cli.EXIT_USAGE,
            "no yoti sample for event type 'NOPE'",
        ),
        (
            ["--to", "http://127.0.0.1:1/x", "--set", "novalue"],
            cli.EXIT_USAGE,
            "--set expects PATH=VALUE",
        ),
        (
            ["--to", "http://127.0.0.1:1/x", "--set", "topic.x=1"],
            cli.EXIT_USAGE,
            "is not an object",
        ),
    ],
    ids=["unreachable", "bad-scheme", "bad-count", "unknown-event", "bad-set", "bad-set-path"],
)
def test_send_errors(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    code: int,
    message: str,
) -> None:
    _set_secrets(monkeypatch)
    got, out, err = run(capsys, "send", "--vendor", "yoti", *argv)
    assert got == code
    assert_one_line_error(err, contains=message)
    assert SECRET not in out + err


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://[::1/", "(Invalid IPv6 URL)"),
        ("http://127.0.0.1:abc/", "Port could not be cast to integer"),
        ("http://127.0.0.1:99999/", "Port out of range"),
        ("http://127.0.0.1:0/", "(port 0)"),
        ("http://127.0.0.1:1/a b", "whitespace or a control character"),
        ("http://127.0.0.1:1/\x7f", "whitespace or a control character"),
        ("http://127.0.0.1:1/\u00e4", "percent-encode the path"),
        ("http://" + "a" * 70 + ".example:1/", "(invalid host name)"),
        ("http://a..example:1/", "(invalid host name)"),
        ("http://:80/", "must be an http:// or https:// URL"),
    ],
    ids=[
        "unclosed-ipv6",
        "port-not-a-number",
        "port-out-of-range",
        "port-0",
        "space",
        "control-char",
        "non-ascii",
        "label-too-long",
        "empty-label",
        "no-host",
    ],
)
def test_send_malformed_url_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str, message: str
) -> None:
    _set_secrets(monkeypatch)
    code, out, err = run(capsys, "send", "--vendor", "complycube", "--to", url, "--timeout", "2")
    assert code == cli.EXIT_USAGE
    assert out == ""
    assert_one_line_error(err, contains=message)


def test_send_url_with_credentials_is_refused_without_echoing_them(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _set_secrets(monkeypatch)
    url = "http://admin:hunter2-pw@127.0.0.1:1/x"
    code, _, err = run(capsys, "send", "--vendor", "complycube", "--to", url, "--timeout", "2")
    assert code == cli.EXIT_USAGE
    assert_one_line_error(err, contains="--to must not contain user:password@")
    assert "hunter2-pw" not in err


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf", "-inf", "1e12", "soon"])
@pytest.mark.parametrize(
    "argv",
    [
        ["send", "--vendor", "complycube", "--to", "http://127.0.0.1:1/"],
        ["demo"],
        ["inbox", "--inbox", "i.sqlite3", "replay", "x", "--to", "http://127.0.0.1:1/"],
    ],
    ids=["send", "demo", "inbox-replay"],
)
def test_timeout_must_be_a_positive_finite_number(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    value: str,
) -> None:
    _set_secrets(monkeypatch)
    code, out, err = run(capsys, *argv, f"--timeout={value}")
    assert code == cli.EXIT_USAGE
    assert out == ""
    assert "error: argument --timeout:" in err
    assert "Traceback" not in err


def test_timeout_accepts_a_fraction(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _set_secrets(monkeypatch)
    url = "http://127.0.0.1:1/x"  # nothing listens on port 1
    code, _, err = run(capsys, "send", "--vendor", "complycube", "--event-type", "check.completed",
                       "--to", url, "--timeout", "2.5")  # fmt: skip
    assert code == cli.EXIT_UNAVAILABLE
    assert_one_line_error(err, contains="cannot reach http://127.0.0.1:")


@pytest.fixture
def raw_server() -> Iterator[tuple[str, list[bytes]]]:
    """A loopback server that reads one HTTP request and answers with the bytes appended to the
    list it yields (one answer, then it closes): a peer that does not speak proper HTTP."""
    answers: list[bytes] = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(20)

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            with conn, conn.makefile("rb") as reader:
                conn.settimeout(20)
                length = 0
                for _ in range(200):  # the request's header lines
                    line = reader.readline(65536)
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                    if line in (b"\r\n", b"\n", b""):
                        break
                reader.read(length)
                conn.sendall(answers[0])
                conn.shutdown(socket.SHUT_WR)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/complycube", answers
    finally:
        listener.close()
        thread.join(20)


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"HELLO\r\n\r\n", "BadStatusLine"),
        (b"HTTP/9.9 200 OK\r\n\r\n", "UnknownProtocol"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "IncompleteRead"),
        (b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "IncompleteRead"),
        (b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n", "LineTooLong"),
    ],
    ids=["bad-status-line", "unknown-protocol", "truncated-2xx", "truncated-5xx", "long-header"],
)
def test_send_broken_http_answer_is_a_network_error(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    raw_server: tuple[str, list[bytes]],
    answer: bytes,
    error: str,
) -> None:
    url, answers = raw_server
    answers.append(answer)
    _set_secrets(monkeypatch)
    code, out, err = run(capsys, "send", "--vendor", "complycube",
                         "--event-type", "check.completed",
                         "--to", url, "--timeout", "10")  # fmt: skip
    assert code == cli.EXIT_UNAVAILABLE
    assert out == ""
    assert_one_line_error(err, contains=f"not a valid HTTP response ({error})")
    assert SECRET not in err


def test_send_an_answer_nested_deeper_than_json_reads_is_a_plain_refusal(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    raw_server: tuple[str, list[bytes]],
) -> None:
    """A receiver's answer body is the peer's: one nested deeper than :mod:`json` reads is an
    answer without details, never a RecursionError traceback."""
    url, answers = raw_server
    deep = b"[" * 60000
    answers.append(b"HTTP/1.1 400 Bad\r\nContent-Length: %d\r\n\r\n%s" % (len(deep), deep))
    _set_secrets(monkeypatch)
    code, out, err = run(capsys, "send", "--vendor", "complycube",
                         "--event-type", "check.completed",
                         "--to", url, "--timeout", "10")  # fmt: skip
    assert code == cli.EXIT_FAILED, err
    assert "400 Bad" in out
    assert "Traceback" not in err + out


def test_send_prints_control_characters_of_an_answer_as_escapes(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    raw_server: tuple[str, list[bytes]],
) -> None:
    """The reason phrase, ``error`` and ``detail`` are the peer's text: a terminal escape sequence
    or a line break in them is printed as an escape, so that an endpoint can neither drive the
    terminal nor forge an output line (review R30)."""
    url, answers = raw_server
    body = json.dumps(
        {"ok": False, "error": "X\x1b]0;TITLE\x07", "detail": "\x1b[2Jfake\r\n[1/1] -> 200 OK"}
    ).encode()
    answers.append(
        b"HTTP/1.1 400 Bad\x1b[31m\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    _set_secrets(monkeypatch)
    code, out, err = run(capsys, "send", "--vendor", "complycube",
                         "--event-type", "check.completed",
                         "--to", url, "--timeout", "10")  # fmt: skip
    assert code == cli.EXIT_FAILED, err
    assert "\x1b" not in out + err
    assert "\r" not in out + err
    assert [line[:8] for line in out.splitlines()] == ["[1/1] co", "sent 1: "], out
    assert "400 Bad\\x1b[31m" in out
    assert "X\\x1b]0;TITLE\\x07: \\x1b[2Jfake\\r\\n[1/1] -> 200 OK" in out


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://127.0.0.1:{port}/hook?token=SUPERSECRET&v=2", cli.EXIT_UNAVAILABLE),
        ("http://127.0.0.1:{port}/hook?SUPERSECRET", cli.EXIT_UNAVAILABLE),
        ("ftp://127.0.0.1/hook?token=SUPERSECRET", cli.EXIT_USAGE),
    ],
)
def test_send_never_prints_the_query_of_the_url(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str, code: int
) -> None:
    """Endpoints take tokens in the query string: an error echoed the whole --to URL (review
    R33); the docs promise that no credential of a URL is ever printed."""
    _set_secrets(monkeypatch)
    given = url.format(port=1)  # port 1: nothing listens there (a port let go could be reused)
    exit_code, out, err = run(capsys, "send", "--vendor", "complycube",
                              "--event-type", "check.completed",
                              "--to", given, "--timeout", "5")  # fmt: skip
    assert exit_code == code, err
    assert "SUPERSECRET" not in out + err
    assert "hook?" in err
    assert "***" in err


def test_send_never_prints_the_query_through_a_relative_redirect(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    raw_server: tuple[str, list[bytes]],
) -> None:
    # A relative Location ("#top") resolves against --to: its query token was printed in the
    # "redirect to ..." note (review R34).
    url, answers = raw_server
    answers.append(b"HTTP/1.1 302 Found\r\nLocation: #top\r\nContent-Length: 0\r\n\r\n")
    _set_secrets(monkeypatch)
    code, out, err = run(capsys, "send", "--vendor", "complycube",
                         "--event-type", "check.completed",
                         "--to", url + "?token=SUPERSECRET", "--timeout", "10")  # fmt: skip
    assert code == cli.EXIT_FAILED, err
    assert "redirect to" in out
    assert "token=***" in out
    assert "SUPERSECRET" not in out + err


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """An HTTP proxy on loopback, configured through ``http_proxy``; yields the request lines it
    received. It answers every request itself with 200 ``{}``."""
    seen: list[str] = []

    class Proxy(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(self.requestline)
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    for name in ("no_proxy", "NO_PROXY", "http_proxy", "HTTP_PROXY", "REQUEST_METHOD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{server.server_address[1]}")
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_send_uses_the_proxy_for_other_hosts(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, proxy: list[str]
) -> None:
    # The control for the test below: the proxy is in use (no DNS lookup: the proxy answers).
    _set_secrets(monkeypatch)
    code, _, err = run(capsys, "send", "--vendor", "complycube", "--event-type", "check.completed",
                       "--to", "http://receiver.invalid/hook", "--timeout", "5")  # fmt: skip
    assert code == 0, err
    assert proxy == ["POST http://receiver.invalid/hook HTTP/1.1"]


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.0.0.2", "127.255.255.254", "localhost", "[::ffff:127.0.0.1]"],
)
def test_send_to_loopback_never_goes_through_the_proxy(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    proxy: list[str],
    host: str,
) -> None:
    _set_secrets(monkeypatch)
    url = f"http://{host}:1/hook"  # nothing listens there
    code, _, err = run(capsys, "send", "--vendor", "complycube", "--event-type", "check.completed",
                       "--to", url, "--timeout", "5")  # fmt: skip
    assert proxy == []
    assert code == cli.EXIT_UNAVAILABLE
    assert_one_line_error(err, contains=f"cannot reach {url}")


@pytest.mark.parametrize("vendor_event", ["identomat:session-change", "yoti:session_completion"])
def test_send_add_may_name_any_field(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    target: tuple[str, testing.WebhookTester, list[kw.WebhookEvent]],
    vendor_event: str,
) -> None:
    # auth_type is also a keyword of testing.signed_delivery: it must reach the payload instead.
    url, _, seen = target
    vendor, event_type = vendor_event.split(":")
    _set_secrets(monkeypatch)
    code, _, err = run(capsys, "send", "--vendor", vendor, "--event-type", event_type, "--to", url,
                       "--add", "auth_type=1", "--add", "secret=\"x\"")  # fmt: skip
    assert code == 0, err
    dumped = seen[0].model_dump(by_alias=True)
    assert dumped["auth_type"] == 1
    assert dumped["secret"] == "x"


@pytest.mark.parametrize(
    "argv",
    [["--vendor", "all", "--event-type", "x"], ["--vendor", "all", "--secret", "x"]],
    ids=["event-needs-vendor", "secret-needs-vendor"],
)
def test_send_all_restrictions(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, _, err = run(capsys, "send", *argv, "--to", "http://127.0.0.1:1/")
    assert code == cli.EXIT_USAGE
    assert_one_line_error(err, contains="single --vendor")


# -- inbox ----------------------------------------------------------------------------------


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    """An inbox holding one delivery of each vendor (as `serve` would store them)."""
    path = tmp_path / "inbox.sqlite3"
    store = SQLiteStore(path)
    secrets = {"idenfy": SECRET, "complycube": SECRET, "yoti": "u:" + SECRET, "identomat": SECRET}
    receiver = kw.Receiver(*testing.make_vendors(secrets), store=store)
    tester = testing.WebhookTester(receiver, secrets=secrets)
    for vendor, event_type in [
        ("idenfy", "IDENTIFICATION_AUTO_FINISHED"),
        ("complycube", "check.completed"),
        ("yoti", "session_completion"),
        ("identomat", "one-time-password-request"),
    ]:
        assert tester.deliver(vendor, event_type).ok
    store.close()
    return path


def _ids(out: str) -> dict[str, str]:
    """event type -> id, from `inbox list` output."""
    rows = [line.split() for line in out.splitlines()[1:-1]]
    return {row[4]: row[0] for row in rows}


def test_inbox_list(capsys: pytest.CaptureFixture[str], inbox: Path) -> None:
    code, out, _ = run(capsys, "inbox", "--inbox", str(inbox), "list")
    assert code == 0
    assert out.splitlines()[0].split() == [
        "ID", "RECEIVED", "(UTC)", "VENDOR", "EVENT", "TYPE", "STATE", "TRIES", "BODY",
    ]  # fmt: skip
    assert set(_ids(out)) == {
        "IDENTIFICATION_AUTO_FINISHED", "check.completed", "session_completion",
        "one-time-password-request",
    }  # fmt: skip
    assert out.splitlines()[-1] == "4 shown of 4 stored (newest first)"
    for value in PII:
        assert value not in out
    code, out, _ = run(capsys, "inbox", "list", "--inbox", str(inbox), "--vendor", "yoti")
    assert code == 0
    assert list(_ids(out)) == ["session_completion"]
    code, out, _ = run(capsys, "inbox", "list", "--inbox", str(inbox), "--state", "failed")
    assert out.strip() == "no match"


def test_inbox_show_redacts_and_body_is_opt_in(
    capsys: pytest.CaptureFixture[str], inbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KYC_WEBHOOKS_INBOX", str(inbox))
    _, out, _ = run(capsys, "inbox", "list")
    record_id = _ids(out)["IDENTIFICATION_AUTO_FINISHED"]
    code, out, _ = run(capsys, "inbox", "show", record_id)
    assert code == 0
    assert f"id: {record_id}" in out
    assert "model: kyc_webhooks.idenfy.models.IdentificationEvent" in out
    assert "state: done" in out
    assert "idenfy-signature" not in out.lower()  # credentials are never stored
    for value in PII:
        assert value not in out
    code, raw, _ = run(capsys, "inbox", "show", record_id, "--body")
    assert code == 0
    assert json.loads(raw)["data"]["docFirstName"] == "JŪRATĖ"


def test_inbox_identomat_key_is_not_stored(capsys: pytest.CaptureFixture[str], inbox: Path) -> None:
    _, out, _ = run(capsys, "inbox", "--inbox", str(inbox), "list")
    record_id = _ids(out)["one-time-password-request"]
    code, raw, _ = run(capsys, "inbox", "--inbox", str(inbox), "show", record_id, "--body")
    assert code == 0
    assert SECRET not in raw


def test_inbox_replay_to_a_url(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    inbox: Path,
    target: tuple[str, testing.WebhookTester, list[kw.WebhookEvent]],
) -> None:
    url, _, seen = target
    _set_secrets(monkeypatch)
    monkeypatch.setenv("KYC_WEBHOOKS_INBOX", str(inbox))
    _, out, _ = run(capsys, "inbox", "list")
    ids = _ids(out)
    for event_type in ("one-time-password-request", "IDENTIFICATION_AUTO_FINISHED"):
        code, out, err = run(capsys, "inbox", "replay", ids[event_type], "--to", url)
        assert code == 0, err
        assert "-> 200 OK" in out
    assert [e.event_type for e in seen] == [
        "one-time-password-request",
        "IDENTIFICATION_AUTO_FINISHED",
    ]


# -- inbox replay --app: the application's own handlers -------------------------------------

APP_MODULE = """
import pathlib
import kyc_webhooks as kw

receiver = kw.Receiver(kw.ComplyCube(secret={secret!r}))
router = receiver.router

@receiver.on("complycube", "check.completed*")
{kind} on_check(event):
    if pathlib.Path("fail-handler").exists():
        raise RuntimeError("handler failed on " + event.raw_body.decode())
    with open("handled.txt", "a") as out:
        out.write(event.event_type + "\\n")
"""


@pytest.fixture
def failed_delivery(tmp_path: Path) -> tuple[Path, str]:
    """An inbox holding one ComplyCube delivery whose handler failed: state ``failed``."""
    path = tmp_path / "failed.sqlite3"
    store = SQLiteStore(path)
    receiver = kw.Receiver(kw.ComplyCube(secret=SECRET), store=store)

    @receiver.on("complycube")
    def broken(event: kw.WebhookEvent) -> None:
        raise RuntimeError("the application was down")

    tester = testing.WebhookTester(
        receiver, secrets={"complycube": SECRET}, raise_handler_errors=False
    )
    outcome = tester.deliver("complycube", "check.completed")
    assert outcome.status_code == 500
    assert outcome.delivery_id is not None
    store.close()
    return path, outcome.delivery_id


def _snapshot(path: Path, record_id: str) -> tuple[Any, ...]:
    store = SQLiteStore(path)
    try:
        record = store.get(record_id)
    finally:
        store.close()
    assert record is not None
    return (record.state, record.attempts, record.replays, record.updated_at, record.not_before)


@pytest.fixture
def app_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A unique module name for the test's application (imported from the current directory)."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    name = f"kwapp_{tmp_path.name.replace('-', '_')}"
    yield name
    sys.modules.pop(name, None)


def test_inbox_replay_without_a_target_refuses_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], failed_delivery: tuple[Path, str]
) -> None:
    path, record_id = failed_delivery
    before = _snapshot(path, record_id)
    code, out, err = run(capsys, "inbox", "--inbox", str(path), "replay", record_id)
    assert code == cli.EXIT_USAGE
    assert out == ""
    assert_one_line_error(err, contains="replay needs --app module:attribute")
    assert "--to URL" in err
    assert "nothing was changed" in err
    assert _snapshot(path, record_id) == before
    # The event is not lost: the application's worker still handles it.
    later = _dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(hours=2)  # past the back-off
    store = SQLiteStore(path, clock=lambda: later)
    receiver = kw.Receiver(kw.ComplyCube(secret=SECRET), store=store)
    seen: list[kw.WebhookEvent] = []
    receiver.on("complycube")(seen.append)
    summary = receiver.process_pending()
    store.close()
    assert summary.succeeded == 1
    assert [e.event_type for e in seen] == ["check.completed"]


@pytest.mark.parametrize("kind", ["def", "async def"], ids=["sync", "async"])
def test_inbox_replay_with_app_runs_the_applications_handlers(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    failed_delivery: tuple[Path, str],
    app_module: str,
    kind: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path, record_id = failed_delivery
    (tmp_path / f"{app_module}.py").write_text(APP_MODULE.format(secret=SECRET, kind=kind))
    before = _snapshot(path, record_id)
    argv = ("inbox", "--inbox", str(path), "replay", record_id, "--app", f"{app_module}:receiver")
    (tmp_path / "fail-handler").touch()
    caplog.clear()
    code, out, err = run(capsys, *argv)
    assert code == cli.EXIT_FAILED
    assert out.strip().endswith("-> 500 failed (HandlerError)")
    # The library's log line: class and frames. Logging is configured here (pytest's handlers on
    # the root logger), so the command leaves it alone (stderr: tests/test_cli_ops.py).
    assert "error=RuntimeError" in caplog.text
    assert '"type":"check.completed"' not in caplog.text + err  # never the exception's message
    assert _snapshot(path, record_id)[0] == "failed"
    assert not (tmp_path / "handled.txt").exists()
    (tmp_path / "fail-handler").unlink()
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert (
        out.strip() == f"{record_id} complycube check.completed -> 200 replayed (handlers run: 1)"
    )
    assert (tmp_path / "handled.txt").read_text() == "check.completed\n"
    state, attempts, replays, *_ = _snapshot(path, record_id)
    assert state == "done"
    assert attempts == before[1] + 2
    assert replays == 1


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("{app}", "bad import string '{app}': use 'package.module:attribute'"),
        ("{app}:", "bad import string"),
        (":receiver", "bad import string"),
        ("{app}:receiver-1", "bad import string"),
        ("no_such_module_kw:receiver", "cannot import module 'no_such_module_kw'"),
        (
            "{app}:reciever",
            "'{app}' has no attribute 'reciever' (from '{app}:reciever'); did you mean 'receiver'?",
        ),
        ("{app}:receiver.nope", "'{app}:receiver' has no attribute 'nope'"),
        ("{app}:router", "'{app}:router' is a Router, not a kyc_webhooks.Receiver"),
        ("{app}:other", "the receiver {app}:other is not configured for complycube"),
    ],
    ids=[
        "no-colon",
        "no-attribute",
        "no-module",
        "not-an-identifier",
        "missing-module",
        "missing-attribute",
        "missing-nested-attribute",
        "not-a-receiver",
        "vendor-not-configured",
    ],
)
def test_inbox_replay_app_errors_are_one_line_and_change_nothing(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    failed_delivery: tuple[Path, str],
    app_module: str,
    spec: str,
    message: str,
) -> None:
    path, record_id = failed_delivery
    source = APP_MODULE.format(secret=SECRET, kind="def")
    source += "\nother = kw.Receiver(kw.Yoti(auth_token='u:p'))\n"
    (tmp_path / f"{app_module}.py").write_text(source)
    before = _snapshot(path, record_id)
    spec = spec.replace("{app}", app_module)
    code, out, err = run(capsys, "inbox", "--inbox", str(path), "replay", record_id, "--app", spec)
    assert code == cli.EXIT_USAGE
    assert out == ""
    assert_one_line_error(err, contains=message.replace("{app}", app_module))
    assert _snapshot(path, record_id) == before
    assert not (tmp_path / "handled.txt").exists()


def test_import_from_string_lets_the_applications_own_import_errors_through(
    tmp_path: Path, app_module: str
) -> None:
    from kyc_webhooks._loading import import_from_string

    (tmp_path / f"{app_module}.py").write_text("import no_such_dependency_of_the_app\n")
    with pytest.raises(ModuleNotFoundError) as caught:  # the app's bug: its own traceback
        import_from_string(f"{app_module}:receiver")
    assert caught.value.name == "no_such_dependency_of_the_app"


def test_inbox_replay_app_and_to_are_exclusive(
    capsys: pytest.CaptureFixture[str], failed_delivery: tuple[Path, str]
) -> None:
    path, record_id = failed_delivery
    argv = ("inbox", "--inbox", str(path), "replay", record_id, "--app", "m:r", "--to", "http://x")
    code, _, err = run(capsys, *argv)
    assert code == cli.EXIT_USAGE
    assert "not allowed with argument" in err


def test_inbox_purge(capsys: pytest.CaptureFixture[str], inbox: Path) -> None:
    base = ("inbox", "--inbox", str(inbox), "purge")
    code, _, err = run(capsys, *base)
    assert code == cli.EXIT_USAGE
    assert_one_line_error(err, contains="--older-than AGE")
    assert run(capsys, *base, "--older-than", "1h")[1].strip() == "purged 0 deliveries"
    code, out, _ = run(capsys, *base, "--all", "--erase-bodies", "--yes")
    assert out.strip() == "erased the bodies of 4 deliveries (metadata kept)"
    _, out, _ = run(capsys, "inbox", "--inbox", str(inbox), "list")
    assert out.count("erased") == 4
    assert run(capsys, *base, "--all", "--yes")[1].strip() == "purged 4 deliveries"
    assert run(capsys, "inbox", "--inbox", str(inbox), "list")[1].strip() == "inbox is empty"


@pytest.mark.parametrize("command", ["purge", "erase"])
def test_inbox_purge_and_erase_refuse_older_than_with_all(
    capsys: pytest.CaptureFixture[str], inbox: Path, command: str
) -> None:
    """``--older-than 30d --all``: --all won, and a retention job with a stray --all emptied
    the inbox (purged every delivery, or erased every body)."""
    argv = ("inbox", "--inbox", str(inbox), command, "--older-than", "30d", "--all", "--yes")
    code, out, err = run(capsys, *argv)
    assert code == cli.EXIT_USAGE
    assert out == ""
    assert_one_line_error(err, contains="give --older-than AGE or --all, not both")
    _, out, _ = run(capsys, "inbox", "--inbox", str(inbox), "list")
    assert out.count(" kept") == 4  # nothing purged, no body erased


@pytest.mark.parametrize(
    "argv",
    [
        ["--all", "--erase-bodies", "--state", "failed"],
        ["--older-than", "0s", "--state", "done", "--erase-bodies"],
    ],
    ids=["all", "older-than"],
)
def test_inbox_purge_erase_bodies_refuses_state(
    capsys: pytest.CaptureFixture[str], inbox: Path, argv: list[str]
) -> None:
    code, out, err = run(capsys, "inbox", "--inbox", str(inbox), "purge", *argv)
    assert code == cli.EXIT_USAGE
    assert out == ""
    assert_one_line_error(err, contains="--state cannot be combined with --erase-bodies")
    _, out, _ = run(capsys, "inbox", "--inbox", str(inbox), "list")
    assert out.count(" kept") == 4  # no body was erased
    assert " erased" not in out


@pytest.mark.parametrize("age", ["36525d", "876600h", "0.5", "90s", "0"])
def test_inbox_purge_accepts_ages_up_to_100_years(
    capsys: pytest.CaptureFixture[str], inbox: Path, age: str
) -> None:
    code, out, err = run(
        capsys, "inbox", "--inbox", str(inbox), "purge", "--older-than", age, "--yes"
    )
    assert code == 0, err
    assert out.strip() == ("purged 4 deliveries" if age == "0" else "purged 0 deliveries")


@pytest.mark.parametrize(
    ("age", "message"),
    [
        ("inf", "must be at most 36525d"),
        ("infd", "must be at most 36525d"),
        ("1e12", "must be at most 36525d"),
        ("1e400s", "must be at most 36525d"),
        ("36526d", "must be at most 36525d"),
        ("999999999999h", "must be at most 36525d"),
        ("nan", "use e.g. 30d"),
        ("nanh", "use e.g. 30d"),
        ("-inf", "must not be negative"),
        ("", "use e.g. 30d"),
    ],
    ids=[
        "inf",
        "inf-days",
        "1e12",
        "1e400s",
        "over-100-years",
        "huge-hours",
        "nan",
        "nan-hours",
        "minus-inf",
        "empty",
    ],
)
def test_inbox_purge_bad_ages_are_usage_errors(
    capsys: pytest.CaptureFixture[str], inbox: Path, age: str, message: str
) -> None:
    code, out, err = run(capsys, "inbox", "--inbox", str(inbox), "purge", f"--older-than={age}")
    assert code == cli.EXIT_USAGE
    assert out == ""
    assert_one_line_error(err, contains=f"bad age {age!r}: {message}")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["inbox", "--inbox", "nope.sqlite3", "list"], "no inbox at nope.sqlite3"),
        (["inbox", "list"], "no inbox at kyc-webhooks-inbox.sqlite3"),
        (["inbox", "--inbox", "{inbox}", "show", "0000"], "no delivery with id '0000'"),
        (
            ["inbox", "--inbox", "{inbox}", "replay", "0000", "--to", "http://127.0.0.1:1/"],
            "no delivery with id '0000'",
        ),
        (["inbox", "--inbox", "{inbox}", "purge", "--older-than", "soon"], "bad age 'soon'"),
        (["inbox", "--inbox", "{inbox}", "purge", "--older-than=-3d"], "must not be negative"),
        (["inbox", "--inbox", "{bad}", "list"], "cannot open inbox"),
    ],
    ids=[
        "missing-inbox",
        "default-inbox-missing",
        "unknown-id",
        "replay-unknown-id",
        "bad-age",
        "negative-age",
        "not-a-database",
    ],
)
def test_inbox_errors(
    capsys: pytest.CaptureFixture[str], inbox: Path, tmp_path: Path, argv: list[str], message: str
) -> None:
    (tmp_path / "bad.sqlite3").write_bytes(b"this is not a database" * 100)
    argv = [
        a.replace("{inbox}", str(inbox)).replace("{bad}", str(tmp_path / "bad.sqlite3"))
        for a in argv
    ]
    code, _, err = run(capsys, *argv)
    assert code == cli.EXIT_USAGE
    assert_one_line_error(err, contains=message)


def test_inbox_prints_what_the_sender_chose_escaped(tmp_path: Path) -> None:
    """A JSON escape such as ``\\ud800`` in a signed body is a lone surrogate once decoded: the
    store keeps it, and ``inbox list``/``show`` died on it (UnicodeEncodeError, a traceback,
    the rest of the list unprinted). A control character (ESC) reached the terminal as is, and a
    line break in an event type forged a row of the listing."""
    path = tmp_path / "inbox.sqlite3"
    store = SQLiteStore(path)
    receiver = kw.Receiver(kw.ComplyCube(secret=SECRET), store=store)
    forged = "check.\\nFAKE  2026-01-01 00:00:00  complycube  forged.row"
    for body in (
        b'{"id": "evt-1", "type": "client.created", "bad\\nname": "x-\\ud800"}',
        b'{"id": "evt-2", "type": "check.\\ud800\\u001b[2J"}',
        b'{"id": "evt-3", "type": "' + forged.encode() + b'"}',
        b'{"id": "evt-4", "type": "check.\\\\nFAKE\\u009b2J"}',  # a backslash; CSI (C1)
        b'{"id": "evt-5", "type": "check.\\\\x1b[2J"}',  # printable: what an escape looks like
    ):
        assert receiver.handle(*testing.sign("complycube", body, SECRET)).status_code == 200
    store.close()
    env = {**os.environ, "KYC_WEBHOOKS_INBOX": str(path), "PYTHONIOENCODING": "utf-8"}
    argv = [sys.executable, "-m", "kyc_webhooks", "inbox"]

    def cli_run(*args: str, encoding: str = "utf-8") -> str:
        done = subprocess.run(
            [*argv, *args],
            capture_output=True,
            text=True,
            encoding=encoding,
            env={**env, "PYTHONIOENCODING": encoding},
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert "\x1b" not in done.stdout
        return done.stdout

    listed = cli_run("list").splitlines()
    assert listed[-1] == "5 shown of 5 stored (newest first)"
    assert len(listed) == 7  # the header, five rows, the summary: no forged row
    assert any("check.\\ud800\\x1b[2J" in line for line in listed)
    assert any("check.\\nFAKE  2026" in line for line in listed)
    assert any("check.\\\\nFAKE\\x9b2J" in line for line in listed)  # not the same text
    assert any("check.\\\\x1b[2J " in line for line in listed)  # nor a sender's "\\x1b" text
    states = {line.index(" done ") for line in listed[1:-1]}
    assert len(states) == 1, listed  # the columns line up
    ids = [line.split()[0] for line in listed[1:-1]]
    shown = "".join(cli_run("show", record_id) for record_id in ids)
    assert "event_type: check.\\ud800\\x1b[2J\n" in shown
    assert "event_type: check.\\nFAKE  2026" in shown
    assert "  bad\\nname: <redacted>\n" in shown  # an unknown field: its name only
    (c1,) = [line.split()[0] for line in listed if "\\x9b" in line]
    text = cli_run("show", c1, "--json")  # a JSON text with no other reason to be escaped
    assert "\x9b" not in text
    assert json.loads(text)["event_type"] == "check.\\nFAKE\x9b2J"
    as_json = json.loads(cli_run("list", "--json"))  # the same values, exactly
    assert {row["event_type"] for row in as_json} == {
        "check.\ud800\x1b[2J",
        "client.created",
        "check.\nFAKE  2026-01-01 00:00:00  complycube  forged.row",
        "check.\\nFAKE\x9b2J",
        "check.\\x1b[2J",
    }
    # An ASCII terminal: escapes, not a traceback; --json stays JSON.
    assert "check.\\ud800" in cli_run("list", encoding="ascii")
    assert len(json.loads(cli_run("list", "--json", encoding="ascii"))) == 5


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "ascii", "utf-8"])
def test_json_output_is_utf8_whatever_the_terminals_encoding(
    monkeypatch: pytest.MonkeyPatch, encoding: str
) -> None:
    # RFC 8259: JSON exchanged between programs is UTF-8. On a Latin-1 stdout "café" went out as
    # the byte E9, which a JSON reader (jq) turned into U+FFFD.
    from kyc_webhooks.cli._common import emit_json

    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding=encoding, write_through=True)
    monkeypatch.setattr(sys, "stdout", stream)
    emit_json({"event_type": "café.created"})
    written = raw.getvalue()
    assert json.loads(written.decode("utf-8")) == {"event_type": "café.created"}
    assert written.isascii() == (encoding != "utf-8")


def test_inbox_erased_body(capsys: pytest.CaptureFixture[str], inbox: Path) -> None:
    run(capsys, "inbox", "--inbox", str(inbox), "purge", "--all", "--erase-bodies", "--yes")
    _, out, _ = run(capsys, "inbox", "--inbox", str(inbox), "list")
    record_id = next(iter(_ids(out).values()))
    code, out, _ = run(capsys, "inbox", "--inbox", str(inbox), "show", record_id)
    assert code == 0
    assert "body: erased" in out
    replay = ["replay", record_id, "--to", "http://127.0.0.1:1/"]
    for action in (["show", record_id, "--body"], replay):
        code, _, err = run(capsys, "inbox", "--inbox", str(inbox), *action)
        assert code == cli.EXIT_FAILED
        assert_one_line_error(err, contains="was erased")


@pytest.mark.parametrize(
    "argv",
    [
        ["process", "--app", "x:y", "--inbox", "postgresql://app:PW-SECRET@db/app"],
        ["process", "--app", "x:y", "--inbox", "postgresql://app:PW@SECRET@db/app"],
        ["inbox", "list", "--store", "host=db password='PW SECRET' user=app", "--bogus"],
        ["inbox", "list", "--bogus", "redis://:PW-SECRET@127.0.0.1:6379/0"],
        ["inbox", "list", "--bogus", "host=db sslpassword=SECRET"],
        ["inbox", "list", "--bogus", "PGPASSWORD=SECRET"],
        ["inbox", "list", "--bogus", "host=db password='PW SECRET' user=app"],
        ["inbox", "list", "--bogus", "postgresql:///app?password=SECRET&host=/tmp"],
    ],
)
def test_a_usage_error_does_not_print_the_password_of_a_url_it_quotes(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """argparse quotes the arguments it does not know ("unrecognized arguments: --inbox
    postgresql://app:secret@db/app"): the credentials are hidden, the rest stays readable."""
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert "unrecognized arguments" in err
    assert "SECRET" not in out + err
    assert "***" in err


def test_a_usage_error_keeps_what_is_not_a_credential(capsys: pytest.CaptureFixture[str]) -> None:
    """Only the credentials are hidden: a query string's ``@`` and the other settings stay."""
    _code, _out, err = run(
        capsys, "inbox", "list", "--bogus", "https://example.com/cb?email=a@b.example",
        "postgresql:///app?password=SECRET&host=/tmp",
    )  # fmt: skip
    assert "https://example.com/cb?email=a@b.example" in err
    assert "password=***&host=/tmp" in err


def test_send_reads_the_reason_inside_fastapis_detail(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An endpoint behind FastAPI's ``verified_event`` dependency answers a refusal as
    ``{"detail": {"error": ..., "detail": ...}}``: ``send`` printed "401 Unauthorized" without
    the reason it prints for every other adapter."""
    pytest.importorskip("fastapi")
    from fastapi import Depends, FastAPI

    from _uvicorn import serving
    from kyc_webhooks.integrations.fastapi import verified_event

    receiver = kw.Receiver(kw.Idenfy(signing_key=SECRET))
    app = FastAPI()

    @app.post("/kyc/idenfy")
    async def idenfy(
        event: kw.WebhookEvent = Depends(verified_event(receiver)),  # noqa: B008
    ) -> dict[str, str]:
        return {"ok": "yes"}

    _set_secrets(monkeypatch)
    with serving(app) as base:
        code, out, _ = run(capsys, "send", "--vendor", "idenfy", "--event-type", "IDENTIFICATION",
                           "--to", f"{base}/kyc/idenfy", "--tamper")  # fmt: skip
    assert code == cli.EXIT_FAILED
    assert "-> 401 Unauthorized (AuthenticationError: invalid Idenfy-Signature signature)" in out
