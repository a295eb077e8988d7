"""``kyc-webhooks serve`` and ``kyc-webhooks demo``: real servers on 127.0.0.1, end to end.

The subprocess tests run the command exactly as a user does (``python -m kyc_webhooks ...``), with
bounded timeouts; the in-process ones (``main(argv)``) cover the error paths.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from kyc_webhooks import cli, testing

SECRET = "serve-test-secret-93b1"
ENV_VARS = (
    *("IDENFY_SIGNING_KEY", "COMPLYCUBE_SECRET", "YOTI_AUTH_TOKEN", "YOTI_AUTH_TYPE"),
    *("IDENTOMAT_API_KEY", "KYC_WEBHOOKS_CONFIG", "KYC_WEBHOOKS_INBOX"),
)
PII = ("+995599123456", "604913", "JŪRATĖ", "ŽEMAITĖ")
TIMEOUT = 60


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env.pop(proxy, None)
    return env


def _post(url: str, delivery: testing.Delivery) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url, data=delivery.body, headers=delivery.headers)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


# -- demo -----------------------------------------------------------------------------------


def test_demo_end_to_end_as_a_user_runs_it(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kyc_webhooks", "demo"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_env(),
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    out = result.stdout
    total = sum(len(testing.event_types(v)) for v in ("idenfy", "complycube", "yoti", "identomat"))
    assert f"demo passed: {total + 2} deliveries, every outcome as expected" in out
    assert f"inbox: {total} deliveries stored (done {total})" in out
    assert f"handlers: ran {total} times for {total} distinct deliveries; none twice" in out
    rows = [line.split() for line in out.splitlines() if line.endswith(" ok")]
    assert len(rows) == total + 2
    for vendor in ("idenfy", "complycube", "yoti", "identomat"):
        for event_type in testing.event_types(vendor):
            assert [vendor, event_type, "200", "handled", "ok"] in rows
    assert "(body changed after signing)  401   rejected   ok" in out
    assert "(sent again)" in out
    assert "200   duplicate  ok" in out
    # The effective decision per verification, from the store's ledger: the iDenfy scanRef that
    # got an automatic (non-final) and then a manual verdict ends with the manual one.
    assert "effective decisions: 12 verifications" in out
    decisions = {tuple(line.split()[:2]): line.split()[2:] for line in out.splitlines()}
    assert decisions[("idenfy", "3f1c9a52-7b4e-4d0a-9c61-2e8b5d7f0a13")] == ["APPROVED", "final"]
    assert decisions[("yoti", "9326af8e-3609-4d71-97d4-ea3563d3dc91")] == ["UNKNOWN", "final"]
    assert ["identomat", "<redacted>", "APPROVED", "final"] in [
        line.split() for line in out.splitlines()
    ]
    for value in PII:
        assert value not in out
    assert not list(tmp_path.iterdir())  # the temporary inbox is gone


def test_demo_with_one_unsigned_vendor_uses_a_wrong_credential(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = cli.main(["demo", "--vendor", "yoti"])
    out, err = capsys.readouterr()
    assert code == cli.EXIT_OK, out + err
    assert "resource_update (wrong credential)" in out
    assert "401   rejected   ok" in out
    assert "demo passed: 11 deliveries" in out


def test_demo_keep_inbox_then_list_it(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = cli.main(["demo", "--vendor", "identomat", "--keep-inbox", "demo.sqlite3"])
    assert code == 0
    capsys.readouterr()
    assert cli.main(["inbox", "--inbox", "demo.sqlite3", "list"]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines()[-1] == "6 shown of 6 stored (newest first)"
    code = cli.main(["demo", "--keep-inbox", "demo.sqlite3"])
    _, err = capsys.readouterr()
    assert code == cli.EXIT_USAGE
    assert err.strip() == (
        "kyc-webhooks: error: demo.sqlite3 exists already; pick a new --keep-inbox path"
    )


@pytest.mark.parametrize("command", ["demo", "serve"])
def test_missing_uvicorn_is_exit_4(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.setenv("IDENFY_SIGNING_KEY", SECRET)
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    code = cli.main([command])
    _, err = capsys.readouterr()
    assert code == cli.EXIT_MISSING_DEPENDENCY
    assert err.strip() == (
        "kyc-webhooks: error: this command needs uvicorn: pip install uvicorn (the server extra)"
    )


# -- serve ----------------------------------------------------------------------------------


def _stop(process: subprocess.Popen[str], sig: int) -> int:
    """Send ``sig``, wait for the exit (killed after TIMEOUT) and answer its code."""
    process.send_signal(sig)
    try:
        return process.wait(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(TIMEOUT)


class _Lines:
    """Reads a pipe in a thread so that waiting for a line is bounded in time."""

    def __init__(self, stream: Iterator[str]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self.thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self.thread.start()

    def _pump(self, stream: Iterator[str]) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} not seen in: {self.seen}")

    def rest(self, timeout: float = 20.0) -> list[str]:
        self.thread.join(timeout)
        while not self.lines.empty():
            line = self.lines.get_nowait()
            if line is not None:
                self.seen.append(line)
        return self.seen


def test_serve_stores_and_logs_every_delivery(tmp_path: Path) -> None:
    env = _env(
        COMPLYCUBE_SECRET=SECRET,
        IDENTOMAT_API_KEY=SECRET,
        YOTI_AUTH_TOKEN="user:" + SECRET,
        YOTI_AUTH_TYPE="bearer",
    )
    inbox = tmp_path / "inbox.sqlite3"
    process = subprocess.Popen(
        [sys.executable, "-m", "kyc_webhooks", "serve", "--port", "0", "--inbox", str(inbox)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert process.stderr is not None
    lines = _Lines(process.stderr)
    try:
        banner = lines.wait_for("receiving on http://127.0.0.1:")
        base = banner.split("receiving on ")[1].split("/<vendor>")[0]
        lines.wait_for("vendors complycube, yoti, identomat")
        check = testing.signed_delivery("complycube", "check.completed", SECRET)
        otp = testing.signed_delivery("identomat", "one-time-password-request", SECRET)
        yoti = testing.signed_delivery(
            "yoti", "session_completion", "user:" + SECRET, auth_type="bearer"
        )
        assert _post(f"{base}/complycube", check) == (200, {"ok": True})
        assert _post(f"{base}/complycube", check) == (200, {"ok": True, "duplicate": True})
        assert _post(f"{base}/complycube", testing.tamper(check))[0] == 401
        assert _post(f"{base}/", otp) == (200, {"ok": True})  # auto-detected
        assert _post(f"{base}/yoti", yoti)[0] == 200
        idenfy = testing.signed_delivery("idenfy", "IDENTIFICATION", SECRET)
        assert _post(f"{base}/idenfy", idenfy)[0] == 401  # not configured
        lines.wait_for("event_type=session_completion")
    finally:
        code = _stop(process, signal.SIGINT)
    log = lines.rest()
    process.stderr.close()
    assert code == 0, log
    assert log[-1] == "kyc-webhooks: stopped"
    deliveries = [line for line in log if " delivery " in line]
    assert len(deliveries) == 6, log
    first, second, tampered, detected, bearer, unconfigured = deliveries
    assert "INFO delivery vendor=complycube event_type=check.completed status=200" in first
    assert "delivery_key=complycube:" in first
    assert first.endswith("duplicate=no")
    assert second.endswith("duplicate=yes")
    assert first.split(" id=")[1].split()[0] == second.split(" id=")[1].split()[0]
    assert "WARNING delivery rejected vendor=complycube status=401" in tampered
    assert "vendor=identomat event_type=one-time-password-request status=200" in detected
    assert "vendor=yoti event_type=session_completion status=200" in bearer
    assert "WARNING delivery rejected vendor=idenfy status=401" in unconfigured
    text = "\n".join(log)
    assert SECRET not in text
    for value in PII:
        assert value not in text
    assert "Traceback" not in text
    # Every authenticated delivery is in the inbox (once).
    with __import__("kyc_webhooks.store", fromlist=["SQLiteStore"]).SQLiteStore(inbox) as store:
        assert store.stats()["total"] == 3


def _stopped_by_sigterm(
    argv: list[str], tmp_path: Path, ready: str, stream: str
) -> tuple[int, list[str]]:
    """Run ``kyc-webhooks <argv>``, SIGTERM it once ``ready`` is printed (on ``stream``), and
    answer its exit code and the lines it printed on that stream."""
    process = subprocess.Popen(
        [sys.executable, "-m", "kyc_webhooks", *argv],
        stdout=subprocess.PIPE if stream == "stdout" else subprocess.DEVNULL,
        stderr=subprocess.PIPE if stream == "stderr" else subprocess.DEVNULL,
        text=True,
        env=_env(COMPLYCUBE_SECRET=SECRET, TMPDIR=str(tmp_path)),
        cwd=tmp_path,
    )
    pipe = process.stdout if stream == "stdout" else process.stderr
    assert pipe is not None
    lines = _Lines(pipe)
    try:
        lines.wait_for(ready)
    finally:
        code = _stop(process, signal.SIGTERM)
    log = lines.rest()
    pipe.close()
    return code, log


def test_serve_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    # Review R53: `kill PID` / `docker stop` ended serve with 143, without "stopped" and without
    # closing the store (the SQLite -wal and -shm files were left behind).
    inbox = tmp_path / "inbox.sqlite3"
    argv = ["serve", "--port", "0", "--inbox", str(inbox)]
    code, log = _stopped_by_sigterm(argv, tmp_path, "Ctrl-C stops", "stderr")
    assert code == 0, log
    assert log[-1] == "kyc-webhooks: stopped"
    assert inbox.exists()
    assert not (tmp_path / "inbox.sqlite3-wal").exists()  # closed: the WAL checkpointed away


def test_demo_removes_its_temporary_inbox_on_sigterm(tmp_path: Path) -> None:
    # Review R53: a SIGTERM killed the demo and left /tmp/kyc-webhooks-demo-*. The demo may
    # finish before the signal lands: a few tries (bounded) until one is terminated.
    codes = []
    for _ in range(3):
        code, _log = _stopped_by_sigterm(["demo"], tmp_path, "receiver on", "stdout")
        codes.append(code)
        assert list(tmp_path.glob("kyc-webhooks-demo-*")) == []
        if code == 143:
            break
    assert codes[-1] == 143, codes


def _serve_interrupted(inbox: str, tmp_path: Path, ready: str) -> tuple[int, str, list[str]]:
    """Run ``kyc-webhooks serve --inbox <inbox>``, Ctrl-C it once ``ready`` is printed, and
    answer its exit code, that line and every line it printed on stderr."""
    process = subprocess.Popen(
        [sys.executable, "-m", "kyc_webhooks", "serve", "--port", "0", "--inbox", inbox],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(COMPLYCUBE_SECRET=SECRET),
        cwd=tmp_path,
    )
    assert process.stderr is not None
    lines = _Lines(process.stderr)
    try:
        line = lines.wait_for(ready)
    finally:
        code = _stop(process, signal.SIGINT)
    log = lines.rest()
    process.stderr.close()
    return code, line, log


def test_serve_banner_masks_the_password_of_a_postgres_inbox(tmp_path: Path) -> None:
    password = "hunter2-serve-8c4d"
    # Nothing listens on port 1: the pool's connection attempts fail in the background (logged
    # without the URL); the banner still names the inbox.
    inbox = f"postgresql://kw@127.0.0.1:1/kw?sslpassword={password}&password={password}"
    _, banner, log = _serve_interrupted(inbox, tmp_path, "Ctrl-C stops")
    assert "inbox postgresql://kw@127.0.0.1:1/kw?sslpassword=***&password=***;" in banner
    assert password not in "\n".join(log)


def test_serve_stopped_during_its_start_up_shuts_down_without_a_traceback(tmp_path: Path) -> None:
    """Ctrl-C while the lifespan start-up waits for a PostgreSQL inbox (nothing listens on port
    1: the async pool's open times out after 5 s): uvicorn before 0.41 ended the event loop
    without the lifespan's shutdown, logging "Exception in 'lifespan' protocol" with a
    traceback, the store's drain and pool close skipped (the server extra needs 0.41 now)."""
    inbox = "postgresql://kw@127.0.0.1:1/kw"
    code, _, log = _serve_interrupted(inbox, tmp_path, "Waiting for application startup")
    assert code == 0, log
    assert not [line for line in log if "Traceback" in line or "ERROR" in line], log
    assert any("Application shutdown complete" in line for line in log), log
    assert log[-1] == "kyc-webhooks: stopped"


def test_serve_stops_on_ctrl_c_right_after_its_banner_when_started_with_sigint_ignored(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A command started by a script in the background (CI's legs) has SIGINT ignored, and a
    Ctrl-C sent between the banner ("Ctrl-C stops") and uvicorn's own handler was lost: the
    server ran on (a CI test waited 60 s for it). Here the SIGINT lands exactly there."""
    from kyc_webhooks.cli import _server

    ran_on: list[bool] = []

    def run(self: _server.Server) -> None:  # the moment before uvicorn installs its handlers
        os.kill(os.getpid(), signal.SIGINT)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            time.sleep(0.01)
        ran_on.append(True)

    monkeypatch.setenv("COMPLYCUBE_SECRET", SECRET)
    monkeypatch.setattr(_server.Server, "run", run)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        code = cli.main(["serve", "--port", "0", "--inbox", str(tmp_path / "x.sqlite3")])
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN  # as it was, afterwards
    finally:
        signal.signal(signal.SIGINT, previous)
    _, err = capsys.readouterr()
    assert ran_on == []
    assert code == cli.EXIT_OK
    assert err.splitlines()[-1] == "kyc-webhooks: stopped"


def test_serve_port_in_use_is_exit_3(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("COMPLYCUBE_SECRET", SECRET)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        code = cli.main(["serve", "--port", str(port), "--inbox", "x.sqlite3"])
    _, err = capsys.readouterr()
    assert code == cli.EXIT_UNAVAILABLE
    assert err.strip() == f"kyc-webhooks: error: port {port} on 127.0.0.1 is already in use"
    assert not (tmp_path / "x.sqlite3").exists()


@pytest.mark.parametrize(
    ("env", "argv", "message"),
    [
        ({}, [], "no vendor configured: set IDENFY_SIGNING_KEY"),
        ({"COMPLYCUBE_SECRET": " "}, [], "bad complycube credentials from $COMPLYCUBE_SECRET"),
        (
            {"COMPLYCUBE_SECRET": "k"},
            ["--inbox", "no/such/dir/x.sqlite3", "--port", "0"],
            "cannot open inbox",
        ),
        ({"COMPLYCUBE_SECRET": "k"}, ["--port", "70000"], "port must be between 0 and 65535"),
        ({"COMPLYCUBE_SECRET": "k"}, ["--config", "c.toml"], "[serve] port must be a int"),
    ],
    ids=["no-vendor", "blank-secret", "bad-inbox", "bad-port", "bad-config-port"],
)
def test_serve_errors(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    env: dict[str, str],
    argv: list[str],
    message: str,
) -> None:
    (tmp_path / "c.toml").write_text('[serve]\nport = "8000"\n')
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = cli.main(["serve", *argv])
    _, err = capsys.readouterr()
    assert code == cli.EXIT_USAGE
    assert len(err.strip().splitlines()) == 1, err
    assert message in err
    assert "Traceback" not in err


def test_serve_help_documents_the_config_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--help"]) == 0
    out, _ = capsys.readouterr()
    for line in ("[idenfy]", "signing_key", "[yoti]", "auth_type", "[serve]", "inbox ="):
        assert line in out


def test_serves_log_line_cannot_be_forged_from_the_body(caplog: pytest.LogCaptureFixture) -> None:
    """serve's line per delivery wrote the event type as sent: a line break in a Yoti topic
    started a line of the sender's (review R34)."""
    import asyncio
    import logging

    import kyc_webhooks as kw
    from kyc_webhooks.cli._server import ServeReceiver
    from kyc_webhooks.testing import sign

    receiver = ServeReceiver(kw.Yoti(auth_token="user:pass"))
    body = json.dumps({"session_id": "s-1", "topic": "x\ncritical forged"}).encode()
    with caplog.at_level(logging.INFO):
        outcome = asyncio.run(receiver.handle_async(*sign("yoti", body, "user:pass")))
    assert outcome.status_code == 200
    lines = [line for r in caplog.records for line in r.getMessage().splitlines()]
    assert not [line for line in lines if line.startswith("critical")], lines
    assert sum("event_type=x\\ncritical forged" in line for line in lines) >= 2  # serve's, ours
