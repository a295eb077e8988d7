"""The HTTP client of ``send`` and ``inbox replay --to``: a redirect is an answer (never followed,
refused, exit 1, the Location named, the credential sent nowhere else), and ``--timeout`` bounds
the whole request, not each socket read. Real loopback servers, the command line in-process."""

from __future__ import annotations

import base64
import contextlib
import http.server
import json
import socket
import threading
import time
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
SECRET = "cli-http-secret-93b1"
YOTI_TOKEN = "kyc-test:" + SECRET


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("YOTI_AUTH_TOKEN", YOTI_TOKEN)
    monkeypatch.setenv("COMPLYCUBE_SECRET", SECRET)
    monkeypatch.chdir(tmp_path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_no_credential(text: str) -> None:
    assert SECRET not in text
    assert base64.b64encode(YOTI_TOKEN.encode()).decode() not in text


@contextlib.contextmanager
def serving(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


class _Quiet(http.server.BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def redirecting() -> Iterator[tuple[str, str, list[tuple[str, str, str | None]]]]:
    """Two loopback servers: the receiver's URL, which answers every POST with a redirect to
    the second (another port, as another host would be), and that second one, which answers
    anything with 200. Yields the receiver's URL, the redirect target and what each received:
    (server, method, Authorization)."""
    seen: list[tuple[str, str, str | None]] = []

    class Target(_Quiet):
        def do_GET(self) -> None:
            seen.append(("target", self.command, self.headers.get("Authorization")))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_POST = do_HEAD = do_GET

    with serving(Target) as target_url:

        class Receiver(_Quiet):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                seen.append(("receiver", self.command, self.headers.get("Authorization")))
                code = int(self.path.rsplit("/", 1)[-1])
                self.send_response(code)
                self.send_header("Location", target_url + "/landing")
                self.send_header("Content-Length", "0")
                self.end_headers()

        with serving(Receiver) as receiver_url:
            yield receiver_url, target_url, seen


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_send_never_follows_a_redirect(
    capsys: pytest.CaptureFixture[str],
    redirecting: tuple[str, str, list[tuple[str, str, str | None]]],
    code: int,
) -> None:
    # A followed 302 turned the POST into a GET without the body, reported the GET's 200 as an
    # accepted delivery (exit 0), and sent Yoti's Authorization to the Location's host.
    receiver_url, target_url, seen = redirecting
    exit_code, out, err = run(capsys, "send", "--vendor", "yoti", "--event-type",
                              "session_completion", "--to", f"{receiver_url}/yoti/{code}",
                              "--timeout", "5")  # fmt: skip
    assert exit_code == cli.EXIT_FAILED, out + err
    assert [(who, method) for who, method, _ in seen] == [("receiver", "POST")]
    assert seen[0][2] is not None  # the receiver got the credential; nothing else did
    assert f"-> {code} " in out
    assert f"(redirect to {target_url}/landing; not followed)" in out
    assert "sent 1: 0 accepted, 1 refused" in out
    assert_no_credential(out + err)


def test_send_json_reports_a_redirect_as_refused(
    capsys: pytest.CaptureFixture[str],
    redirecting: tuple[str, str, list[tuple[str, str, str | None]]],
) -> None:
    receiver_url, _, seen = redirecting
    exit_code, out, _ = run(capsys, "send", "--vendor", "complycube", "--event-type",
                            "check.completed", "--to", f"{receiver_url}/cc/302", "--count", "2",
                            "--json")  # fmt: skip
    assert exit_code == cli.EXIT_FAILED
    report = json.loads(out)
    assert (report["accepted"], report["refused"]) == (0, 2)
    assert [r["status"] for r in report["results"]] == [302, 302]
    assert [who for who, _, _ in seen] == ["receiver", "receiver"]


@pytest.mark.parametrize(
    ("location", "shown"),
    [
        ("http://user:pa55word@127.0.0.1:9/next", "(redirect to http://127.0.0.1:9/next; "),
        # Query values as *** (they may be tokens: review R34).
        ("/relative?x=1", "/relative?x=***; not followed)"),
        ("http://127.0.0.1:9/a b\x7f\u00e9", "(redirect to http://127.0.0.1:9/a%20b%7F%C3%A9; "),
        (None, "(redirect to no Location header; not followed)"),
    ],
    ids=["user-info-dropped", "relative", "control-characters", "missing"],
)
def test_the_location_is_shown_without_user_info_or_control_characters(
    capsys: pytest.CaptureFixture[str], location: str | None, shown: str
) -> None:
    class Receiver(_Quiet):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(302)
            if location is not None:
                self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with serving(Receiver) as url:
        code, out, err = run(capsys, "send", "--vendor", "complycube", "--event-type",
                             "check.completed", "--to", url + "/x")  # fmt: skip
    assert code == cli.EXIT_FAILED, err
    assert shown in out
    assert "pa55word" not in out + err
    if location == "/relative?x=1":
        assert f"(redirect to {url}/relative?x=***; not followed)" in out


def test_inbox_replay_never_follows_a_redirect(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    redirecting: tuple[str, str, list[tuple[str, str, str | None]]],
) -> None:
    receiver_url, target_url, seen = redirecting
    path = tmp_path / "inbox.sqlite3"
    store = SQLiteStore(path)
    receiver = kw.Receiver(*testing.make_vendors({"yoti": YOTI_TOKEN}), store=store)
    tester = testing.WebhookTester(receiver, secrets={"yoti": YOTI_TOKEN})
    assert tester.deliver("yoti", "session_completion").ok
    (record,) = store.deliveries(limit=10)
    record_id = record.id
    store.close()
    code, out, err = run(capsys, "inbox", "--inbox", str(path), "replay", record_id,
                         "--to", f"{receiver_url}/yoti/301")  # fmt: skip
    assert code == cli.EXIT_FAILED, out + err
    assert f"-> 301 Moved Permanently (redirect to {target_url}/landing; not followed)" in out
    assert [(who, method) for who, method, _ in seen] == [("receiver", "POST")]
    assert_no_credential(out + err)


# -- --timeout bounds the whole request ------------------------------------------------------


@pytest.fixture
def trickling() -> Iterator[tuple[str, list[float]]]:
    """A loopback server that reads one request, then sends a complete 200 answer one byte at a
    time, waiting the delay in the list it yields between bytes (set it before sending)."""
    delay: list[float] = []
    stop = threading.Event()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(20)

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(20)
                request = b""
                while b"\r\n\r\n" not in request and len(request) < 65536:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    request += chunk
                answer = b"HTTP/1.1 200 OK\r\nX-Pad: aaaaaaaa\r\nContent-Length: 2\r\n\r\n{}"
                for byte in answer:  # bounded: len(answer) bytes, each wait cut short by stop
                    conn.sendall(bytes([byte]))
                    if stop.wait(delay[0]):
                        return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/complycube", delay
    finally:
        stop.set()
        listener.close()
        thread.join(20)


def test_send_timeout_bounds_a_trickling_answer(
    capsys: pytest.CaptureFixture[str], trickling: tuple[str, list[float]]
) -> None:
    # --timeout used to bound each socket read: one byte every 0.3 s kept a delivery waiting
    # for the whole answer (here ~20 s) whatever --timeout said.
    url, delay = trickling
    delay.append(0.3)
    started = time.monotonic()
    code, out, err = run(capsys, "send", "--vendor", "complycube", "--event-type",
                         "check.completed", "--to", url, "--timeout", "1")  # fmt: skip
    took = time.monotonic() - started
    assert code == cli.EXIT_UNAVAILABLE, out + err
    assert took < 5.0, took  # was ~20 s; 1 s plus a loaded machine's slack
    assert out == ""
    assert err.strip() == f"kyc-webhooks: error: no answer from {url}: timed out after 1 s"


def test_send_a_slow_answer_within_the_timeout_is_read_whole(
    capsys: pytest.CaptureFixture[str], trickling: tuple[str, list[float]]
) -> None:
    # The control: the per-read timeout follows the deadline; an answer in time is accepted.
    url, delay = trickling
    delay.append(0.01)
    code, out, err = run(capsys, "send", "--vendor", "complycube", "--event-type",
                         "check.completed", "--to", url, "--timeout", "10")  # fmt: skip
    assert code == cli.EXIT_OK, err
    assert "-> 200 OK" in out
