"""The command line as a package (issue #15): the command table, vendors read from the ``Vendor``
classes (a fifth vendor needs no CLI change), repeatable ``send --vendor``, ``--vendor all``
skipping vendors without credentials, ``--event-type`` everywhere, confirmation and dry runs for
destructive commands, id prefixes, progress, ``--quiet``/``--json``, ``process`` and ``migrate``."""

from __future__ import annotations

import contextlib
import http.server
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kyc_webhooks as kw
from _postgres import (
    drop_schema,
    new_schema,
    own_database,
    require_postgres,
    sql,
    user_schemas,
)
from kyc_webhooks import _registry, cli, testing
from kyc_webhooks.cli._common import Progress
from kyc_webhooks.store import SQLiteStore

ENV_VARS = (
    *("IDENFY_SIGNING_KEY", "COMPLYCUBE_SECRET", "YOTI_AUTH_TOKEN", "YOTI_AUTH_TYPE"),
    *("IDENTOMAT_API_KEY", "KYC_WEBHOOKS_CONFIG", "KYC_WEBHOOKS_INBOX", "ACME_TOKEN"),
)
SECRET = "cli-commands-secret-7d2a"
SRC = str(Path(kw.__file__).resolve().parents[1])


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- a receiving server that records what arrives --------------------------------------------


class _Recorder(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, bytes, dict[str, str]]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.received.append((self.path, body, dict(self.headers.items())))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[tuple[str, bytes, dict[str, str]]]]]:
    received: list[tuple[str, bytes, dict[str, str]]] = []
    handler = type("R", (_Recorder,), {"received": received})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


# -- the command table -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [[name] for name in cli.COMMANDS]
    + [["inbox", action] for action in ("list", "show", "replay", "purge", "erase")],
    ids=lambda argv: "-".join(argv),
)
def test_every_command_help_shows_an_example(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, out, _ = run(capsys, *argv, "--help")
    assert code == cli.EXIT_OK
    assert "examples:" in out
    assert f"kyc-webhooks {argv[0]}" in out.split("examples:", 1)[1]


def test_a_command_imports_only_its_own_module() -> None:
    code = textwrap.dedent(
        """
        import sys
        from kyc_webhooks.cli import main
        open("b.json", "wb").write(b'{"a": 1}')
        assert main(["sign", "complycube", "b.json", "--secret", "k"]) == 0
        loaded = sorted(m for m in sys.modules if m.startswith("kyc_webhooks.cli."))
        print(",".join(loaded))
        print("uvicorn" in sys.modules, "kyc_webhooks.cli.serve" in sys.modules)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    modules, flags = result.stdout.strip().splitlines()[-2:]
    assert "kyc_webhooks.cli.sign" in modules.split(",")
    for other in ("send", "serve", "demo", "inbox", "process", "migrate", "verify"):
        assert f"kyc_webhooks.cli.{other}" not in modules.split(",")
    assert flags == "False False"


def test_python_m_runs_the_command_line(tmp_path: Path) -> None:
    body, headers = testing.signed_delivery("complycube", "check.completed", SECRET)
    (tmp_path / "body.json").write_bytes(body)
    (tmp_path / "headers.json").write_text(json.dumps(headers))
    env = {**os.environ, "COMPLYCUBE_SECRET": SECRET}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kyc_webhooks",
            "verify",
            "body.json",
            "--headers",
            "headers.json",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["authentic"] is True
    assert data["vendor"] == "complycube"
    assert data["event_type"] == "check.completed"
    assert SECRET not in result.stdout + result.stderr


# -- a fifth vendor ------------------------------------------------------------------------------

_ACME_AUTH = """
from __future__ import annotations

from typing import Any, ClassVar

from kyc_webhooks import Vendor
from kyc_webhooks.errors import AuthenticationError


class Acme(Vendor):
    name: ClassVar[str] = "acme"
    models_module: ClassVar[str] = "{package}.models"
    credential_param: ClassVar[str] = "token"
    credential_env: ClassVar[str] = "ACME_TOKEN"
    signer: ClassVar[str] = "{package}._auth:sign"

    def __init__(self, token: str) -> None:
        self.token = token

    @classmethod
    def detect(cls, headers: Any, body: bytes) -> bool:
        return "acme-token" in headers

    def verify(self, body: bytes, headers: Any) -> None:
        if headers.get("acme-token") != self.token:
            raise AuthenticationError("bad Acme-Token", vendor="acme")

    def _parse(self, body: bytes, headers: Any) -> Any:
        raise NotImplementedError


def sign(vendor: str, payload: Any, secret: str, *, event_type: str | None = None):
    import json

    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return body, {{"Content-Type": "application/json", "Acme-Token": secret,
                   "Acme-Event": event_type or ""}}
"""


@pytest.fixture
def acme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fifth vendor, ``acme``, registered the way a vendor package is (the registry)."""
    package = f"acme_{tmp_path.name.replace('-', '_')}"
    root = tmp_path / "lib" / package
    root.mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "_auth.py").write_text(_ACME_AUTH.format(package=package))
    (root / "models.py").write_text("")
    (root / "_samples.py").write_text(
        'SAMPLES = {"thing.created": {"type": "thing.created", "id": "t-1"},'
        ' "thing.deleted": {"type": "thing.deleted", "id": "t-2"}}\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path / "lib"))
    import importlib

    cls = importlib.import_module(f"{package}._auth").Acme
    monkeypatch.setattr(_registry, "VENDOR_NAMES", (*_registry.VENDOR_NAMES, "acme"))
    monkeypatch.setitem(_registry._CLASSES, "acme", cls)
    yield package
    for name in [m for m in sys.modules if m.startswith(package)]:
        del sys.modules[name]


def test_a_fifth_vendor_works_in_sign_and_send_without_cli_changes(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    acme: str,
    recorder: tuple[str, list[tuple[str, bytes, dict[str, str]]]],
) -> None:
    (Path("b.json")).write_bytes(b'{"x": 1}')
    code, out, err = run(capsys, "sign", "acme", "b.json", "--event-type", "thing.created")
    assert code == cli.EXIT_USAGE
    assert "no credentials for acme: set ACME_TOKEN" in err
    monkeypatch.setenv("ACME_TOKEN", SECRET)
    code, out, err = run(capsys, "sign", "acme", "b.json", "--event-type", "thing.created")
    assert code == 0, err
    assert f"Acme-Token: {SECRET}" in out.splitlines()
    url, received = recorder
    code, out, err = run(capsys, "send", "--vendor", "acme", "--to", url, "--vendor-path")
    assert code == 0, err
    assert "sent 2: 2 accepted, 0 refused" in out
    assert sorted(path for path, _, _ in received) == ["/acme", "/acme"]
    assert {h["Acme-Event"] for _, _, h in received} == {"thing.created", "thing.deleted"}
    # ... and in `--vendor all`, and in the help of the credential options.
    code, out, err = run(capsys, "send", "--vendor", "all", "--to", url, "--vendor-path")
    assert code == 0, err
    assert "skipped idenfy: no credentials (set IDENFY_SIGNING_KEY" in err
    _, out, _ = run(capsys, "sign", "--help")
    assert "ACME_TOKEN" in out


# -- send ----------------------------------------------------------------------------------------


def test_send_vendor_may_repeat(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    recorder: tuple[str, list[tuple[str, bytes, dict[str, str]]]],
) -> None:
    monkeypatch.setenv("COMPLYCUBE_SECRET", SECRET)
    monkeypatch.setenv("YOTI_AUTH_TOKEN", "u:" + SECRET)
    url, received = recorder
    code, out, err = run(capsys, "send", "--vendor", "complycube", "--vendor", "yoti",
                         "--to", url, "--vendor-path")  # fmt: skip
    assert code == 0, err
    paths = {path for path, _, _ in received}
    assert paths == {"/complycube", "/yoti"}  # not only the last one
    total = len(testing.event_types("complycube")) + len(testing.event_types("yoti"))
    assert f"sent {total}: {total} accepted" in out


def test_send_all_skips_vendors_without_credentials(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    recorder: tuple[str, list[tuple[str, bytes, dict[str, str]]]],
) -> None:
    monkeypatch.setenv("IDENTOMAT_API_KEY", SECRET)
    url, received = recorder
    code, _out, err = run(capsys, "send", "--vendor", "all", "--to", url, "--vendor-path")
    assert code == 0, err
    assert {path for path, _, _ in received} == {"/identomat"}
    for name, var in [("idenfy", "IDENFY_SIGNING_KEY"), ("complycube", "COMPLYCUBE_SECRET"),
                      ("yoti", "YOTI_AUTH_TOKEN")]:  # fmt: skip
        assert f"skipped {name}: no credentials (set {var}" in err
    assert "skipped identomat" not in err


def test_send_all_fails_when_no_vendor_has_credentials(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "send", "--vendor", "all", "--to", "http://127.0.0.1:1/")
    assert code == cli.EXIT_USAGE
    assert "--vendor all: no vendor has credentials" in err.splitlines()[-1]


def test_send_old_event_spelling_is_a_hidden_deprecated_alias(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    recorder: tuple[str, list[tuple[str, bytes, dict[str, str]]]],
) -> None:
    monkeypatch.setenv("COMPLYCUBE_SECRET", SECRET)
    url, received = recorder
    code, _out, err = run(capsys, "send", "--vendor", "complycube", "--event", "check.completed",
                         "--to", url)  # fmt: skip
    assert code == 0, err
    assert "--event is deprecated; use --event-type" in err
    assert len(received) == 1
    _, help_text, _ = run(capsys, "send", "--help")
    assert "--event-type" in help_text
    assert "--event " not in help_text.replace("--event-type", "")


def test_send_long_run_prints_progress_not_a_line_per_delivery(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    recorder: tuple[str, list[tuple[str, bytes, dict[str, str]]]],
) -> None:
    monkeypatch.setenv("COMPLYCUBE_SECRET", SECRET)
    url, received = recorder
    code, out, err = run(capsys, "send", "--vendor", "complycube", "--event-type",
                         "check.completed", "--to", url,
                         "--count", "45", "--every", "20")  # fmt: skip
    assert code == 0, err
    assert len(received) == 45
    assert out.splitlines() == ["sent 45: 45 accepted, 0 refused"]
    progress = [line for line in err.splitlines() if line.startswith("sent: ")]
    assert [line.split(" (")[0] for line in progress] == ["sent: 20/45", "sent: 40/45"]
    assert "/s" in progress[0]


def test_send_quiet_and_json(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    recorder: tuple[str, list[tuple[str, bytes, dict[str, str]]]],
) -> None:
    monkeypatch.setenv("COMPLYCUBE_SECRET", SECRET)
    url, _ = recorder
    base = ("send", "--vendor", "complycube", "--event-type", "check.completed", "--to", url)
    code, out, _ = run(capsys, *base, "--count", "2", "--quiet")
    assert code == 0
    assert out.splitlines() == ["sent 2: 2 accepted, 0 refused"]
    code, out, _ = run(capsys, *base, "--json")
    assert code == 0
    data = json.loads(out)
    assert (data["sent"], data["accepted"], data["refused"]) == (1, 1, 0)
    assert data["results"][0]["event_type"] == "check.completed"


def test_progress_on_a_terminal_is_one_updating_line_with_rate_and_eta() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    progress = Progress("sent", 3, stream=stream)
    for _ in range(3):
        progress.step()
    progress.close()
    text = stream.getvalue()
    assert "\n" not in text  # one line, rewritten in place
    assert "\r" in text
    assert "sent: 3/3" in text
    assert "/s" in text
    assert "ETA" in text


# -- inbox: prefixes, confirmation, dry runs, erase ------------------------------------------


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    path = tmp_path / "inbox.sqlite3"
    store = SQLiteStore(path)
    secrets = {"complycube": SECRET, "identomat": SECRET}
    receiver = kw.Receiver(*testing.make_vendors(secrets), store=store)
    tester = testing.WebhookTester(receiver, secrets=secrets)
    assert tester.deliver("complycube", "check.completed").ok
    assert tester.deliver("identomat", "one-time-password-request").ok
    store.close()
    return path


def _records(path: Path) -> list[Any]:
    store = SQLiteStore(path)
    try:
        return list(store.deliveries(limit=100))
    finally:
        store.close()


def test_inbox_ids_may_be_a_unique_prefix(capsys: pytest.CaptureFixture[str], inbox: Path) -> None:
    record = _records(inbox)[0]
    code, out, err = run(capsys, "inbox", "--inbox", str(inbox), "show", record.id[:8])
    assert code == 0, err
    assert f"id: {record.id}" in out
    code, _, err = run(capsys, "inbox", "--inbox", str(inbox), "show", record.id[:7])
    assert code == cli.EXIT_USAGE
    assert "at least 8 characters" in err


def test_inbox_ambiguous_prefix_lists_the_candidates(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from kyc_webhooks.store import NewDelivery

    path = tmp_path / "two.sqlite3"
    store = SQLiteStore(path)
    ids = []
    for key in ("k1", "k2"):
        added = store.add(
            NewDelivery(
                delivery_key=key,
                vendor="complycube",
                event_type="check.completed",
                body=b"{}",
                headers=(),
            )
        )
        ids.append(added.record.id)
    store.close()
    # Give both the same 8-character start, as a collision in a big inbox would.
    import sqlite3

    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE kyc_webhooks_deliveries SET id = 'abcdef12' || substr(id, 9)")
    new_ids = [r.id for r in _records(path)]
    code, _, err = run(capsys, "inbox", "--inbox", str(path), "show", "abcdef12")
    assert code == cli.EXIT_USAGE
    assert "ambiguous" in err
    for delivery_id in new_ids:
        assert delivery_id in err


def test_inbox_ambiguous_prefix_counts_every_match_and_lists_ten(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from kyc_webhooks.store import NewDelivery

    path = tmp_path / "many.sqlite3"
    with SQLiteStore(path) as store:
        for n in range(12):
            store.add(NewDelivery(f"k{n}", "complycube", "check.completed", b"{}"))
    import sqlite3

    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE kyc_webhooks_deliveries SET id = 'abcdef12' || substr(id, 9)")
    ids = [r.id for r in _records(path)]
    code, _, err = run(capsys, "inbox", "--inbox", str(path), "show", "ABCDEF12")
    assert code == cli.EXIT_USAGE
    assert (
        f"id prefix 'ABCDEF12' is ambiguous: 12 deliveries match ({', '.join(ids[:10])} and 2 "
        "more); give more characters"
    ) in err


def test_purge_needs_yes_without_a_terminal_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], inbox: Path
) -> None:
    code, _out, err = run(capsys, "inbox", "--inbox", str(inbox), "purge", "--all")
    assert code == cli.EXIT_USAGE
    assert "pass --yes" in err
    assert len(_records(inbox)) == 2


def test_purge_dry_run_says_what_it_would_do(
    capsys: pytest.CaptureFixture[str], inbox: Path
) -> None:
    code, out, _ = run(capsys, "inbox", "--inbox", str(inbox), "purge", "--all", "--dry-run")
    assert code == 0
    assert out.strip() == "would purge 2 deliveries (dry run)"
    assert len(_records(inbox)) == 2
    code, out, _ = run(capsys, "inbox", "--inbox", str(inbox), "purge", "--all", "--dry-run",
                       "--json")  # fmt: skip
    assert json.loads(out) == {"purged": 2, "dry_run": True}


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "left"), [("y\n", 0), ("n\n", 2), ("\n", 2)])
def test_purge_asks_on_a_terminal(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    inbox: Path,
    answer: str,
    left: int,
) -> None:
    monkeypatch.setattr(sys, "stdin", _Terminal(answer))
    code, _out, err = run(capsys, "inbox", "--inbox", str(inbox), "purge", "--all")
    assert "purge 2 deliveries? [y/N]" in err
    assert code == (0 if left == 0 else cli.EXIT_FAILED)
    assert len(_records(inbox)) == left


def test_erase_one_body_by_prefix(capsys: pytest.CaptureFixture[str], inbox: Path) -> None:
    record = _records(inbox)[0]
    base = ("inbox", "--inbox", str(inbox), "erase", record.id[:10])
    code, _, err = run(capsys, *base)
    assert code == cli.EXIT_USAGE
    assert "pass --yes" in err
    code, out, _ = run(capsys, *base, "--dry-run")
    assert out.strip() == "would erase the bodies of 1 delivery (dry run)"
    assert all(r.body is not None for r in _records(inbox))
    code, out, _ = run(capsys, *base, "--yes")
    assert code == 0
    assert out.strip() == "erased the bodies of 1 delivery (metadata kept)"
    bodies = {r.id: r.body for r in _records(inbox)}
    assert bodies[record.id] is None
    assert sum(1 for b in bodies.values() if b is not None) == 1
    # Again: the store is called (it scrubs the files again), but nothing was left to erase.
    code, out, _ = run(capsys, *base, "--yes")
    assert code == 0
    assert out.strip() == "erased the bodies of 0 deliveries (metadata kept)"


def test_erase_by_age_asks_and_erases(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, inbox: Path
) -> None:
    monkeypatch.setattr(sys, "stdin", _Terminal("yes\n"))
    code, _out, err = run(capsys, "inbox", "--inbox", str(inbox), "erase", "--all")
    assert code == 0, err
    assert "erase the bodies of 2 deliveries? [y/N]" in err
    assert all(r.body is None for r in _records(inbox))


def test_inbox_list_quiet_and_json(capsys: pytest.CaptureFixture[str], inbox: Path) -> None:
    code, out, _ = run(capsys, "inbox", "--inbox", str(inbox), "list", "--quiet")
    assert code == 0
    assert out.splitlines() == ["2 shown of 2 stored (newest first)"]
    code, out, _ = run(capsys, "inbox", "--inbox", str(inbox), "list", "--json")
    rows = json.loads(out)
    assert {row["vendor"] for row in rows} == {"complycube", "identomat"}
    code, out, _ = run(capsys, "inbox", "--inbox", str(inbox), "show", rows[0]["id"], "--json")
    assert json.loads(out)["id"] == rows[0]["id"]


# -- process and migrate -------------------------------------------------------------------------

_APP = """
import os
import kyc_webhooks as kw
from kyc_webhooks import testing

receiver = kw.Receiver(*testing.make_vendors({{"complycube": "{secret}"}}))
MARKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "handled.txt")


@receiver.on("complycube")
def handle(event):
    with open(MARKS, "a") as marks:
        marks.write(event.delivery_key + "\\n")
"""


def _deferred_inbox(path: Path, count: int) -> None:
    store = SQLiteStore(path)
    receiver = kw.Receiver(*testing.make_vendors({"complycube": SECRET}), store=store, defer=True)
    for number in range(count):
        body, headers = testing.signed_delivery(
            "complycube", "check.completed", SECRET, id=f"check-{number}"
        )
        assert receiver.handle(body, headers).status_code == 202
    store.close()


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"kwproc_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(_APP.format(secret=SECRET))
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield name
    sys.modules.pop(name, None)


def test_process_runs_the_applications_handlers(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, app: str
) -> None:
    _deferred_inbox(tmp_path / "q.sqlite3", 3)
    code, out, err = run(capsys, "process", "--store", "q.sqlite3", "--app", f"{app}:receiver")
    assert code == 0, err
    assert out.strip() == "processed 3: 3 succeeded, 0 failed"
    assert len((tmp_path / "handled.txt").read_text().splitlines()) == 3
    assert {str(r.state) for r in _records(tmp_path / "q.sqlite3")} == {"done"}
    code, out, _ = run(capsys, "process", "--store", "q.sqlite3", "--app", f"{app}:receiver",
                       "--json")  # fmt: skip
    assert json.loads(out) == {"processed": 0, "succeeded": 0, "failed": 0}


def test_process_without_the_apps_handlers_marks_nothing_done(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _deferred_inbox(tmp_path / "q.sqlite3", 1)
    code, _, err = run(capsys, "process", "--store", "q.sqlite3")
    assert code == cli.EXIT_USAGE
    assert "--app" in err
    code, _, err = run(capsys, "process", "--store", "q.sqlite3", "--app", "nope_kw_mod:receiver")
    assert code == cli.EXIT_USAGE
    assert {str(r.state) for r in _records(tmp_path / "q.sqlite3")} == {"pending"}


def test_process_loop_handles_deliveries_and_stops_on_sigterm(tmp_path: Path, app: str) -> None:
    _deferred_inbox(tmp_path / "q.sqlite3", 2)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kyc_webhooks", "process", "--store", "q.sqlite3",
         "--app", f"{app}:receiver", "--loop", "--interval", "0.05", "--max-interval", "0.2"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        marks = tmp_path / "handled.txt"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if marks.exists() and len(marks.read_text().splitlines()) == 2:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "processed 2: 2 succeeded, 0 failed (stopped)" in out
    assert "Traceback" not in err
    assert len(marks.read_text().splitlines()) == 2


_SLOW_APP = """
import os, time
import kyc_webhooks as kw
from kyc_webhooks import testing

receiver = kw.Receiver(*testing.make_vendors({{"complycube": "{secret}"}}))
HERE = os.path.dirname(os.path.abspath(__file__))


@receiver.on("complycube")
def handle(event):
    with open(os.path.join(HERE, "started.txt"), "a") as marks:
        marks.write(event.delivery_key + "\\n")
    time.sleep(float(os.environ["KW_HANDLER_SECONDS"]))
"""


def _slow_worker(tmp_path: Path, seconds: float) -> subprocess.Popen[str]:
    name = f"kwslow_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(_SLOW_APP.format(secret=SECRET))
    _deferred_inbox(tmp_path / "q.sqlite3", 5)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]),
        "KW_HANDLER_SECONDS": str(seconds),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "kyc_webhooks", "process", "--store", "q.sqlite3",
         "--app", f"{name}:receiver", "--loop", "--interval", "0.05"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _started(tmp_path: Path, count: int) -> None:
    marks = tmp_path / "started.txt"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if marks.exists() and len(marks.read_text().splitlines()) >= count:
            return
        time.sleep(0.02)
    raise AssertionError("the worker did not start a handler within 30 s")


def test_process_loop_stops_after_the_delivery_in_progress(tmp_path: Path) -> None:
    """SIGTERM let the whole batch run -- up to --limit (100) handlers -- before the loop
    stopped: a shutdown's grace period then ended in SIGKILL in the middle of a handler (review
    R29). Now the delivery in progress finishes and no other starts."""
    proc = _slow_worker(tmp_path, 3.0)  # SIGTERM arrives well within the first handler
    try:
        _started(tmp_path, 1)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "processed 1: 1 succeeded, 0 failed (stopped)" in out
    assert len((tmp_path / "started.txt").read_text().splitlines()) == 1
    states = sorted(str(r.state) for r in _records(tmp_path / "q.sqlite3"))
    assert states == ["done", "pending", "pending", "pending", "pending"]


def test_a_second_sigterm_ends_a_worker_whose_delivery_does_not_finish(tmp_path: Path) -> None:
    proc = _slow_worker(tmp_path, 60.0)
    try:
        _started(tmp_path, 1)
        proc.send_signal(signal.SIGTERM)  # asks to stop after the delivery: it does not end
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=1)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGTERM


def test_migrate_a_sqlite_store(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "migrate", "--store", "new.sqlite3")
    assert code == 0, err
    assert out.startswith("new.sqlite3: schema version ")
    assert (tmp_path / "new.sqlite3").is_file()
    code, out, _ = run(capsys, "migrate", "--store", "new.sqlite3", "--json")
    assert json.loads(out)["schema_version"] >= 1
    assert "schema" not in json.loads(out)  # a SQLite file has no schemas


def test_migrate_quiet_prints_its_summary_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``--quiet`` is "only the summary line" (docs/cli.md): migrate's one line is that summary,
    so a quiet run still says which version the store is at (it printed nothing)."""
    code, out, err = run(capsys, "migrate", "--store", "new.sqlite3", "--quiet")
    assert code == 0, err
    assert out.startswith("new.sqlite3: schema version ")
    assert out.endswith(", up to date\n")


@pytest.mark.parametrize("target", ["", "  ", ":memory:"])
def test_migrate_refuses_a_store_that_would_be_a_temporary_database(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, target: str
) -> None:
    # `migrate --store ""` (an unset variable) printed "schema version 4, up to date" and
    # created nothing: SQLite opened a private temporary database (review R29).
    code, out, err = run(capsys, "migrate", "--store", target)
    assert code == cli.EXIT_USAGE
    assert out == ""
    assert "must be a SQLite file path or a postgresql:// URL" in err
    assert list(tmp_path.iterdir()) == []


def test_migrate_a_postgres_store(capsys: pytest.CaptureFixture[str]) -> None:
    dsn = require_postgres()
    schema = new_schema()
    try:
        code, out, err = run(capsys, "migrate", "--store", dsn, "--schema", schema, "--json")
        assert code == 0, err
        assert json.loads(out)["schema_version"] >= 1
        assert json.loads(out)["schema"] == schema
        # The line names the schema: a default one migrated by mistake beside the application's
        # (--schema forgotten) read the same as the right one.
        code, out, err = run(capsys, "migrate", "--store", dsn, "--schema", schema)
        assert code == 0, err
        from kyc_webhooks.store.postgres import SCHEMA_VERSION

        assert out.endswith(f" (schema {schema}): schema version {SCHEMA_VERSION}, up to date\n")
        tables = sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", schema
        )
        assert tables
    finally:
        drop_schema(schema)


def test_process_needs_a_store(capsys: pytest.CaptureFixture[str], app: str) -> None:
    # The example application's receiver has no store of its own: --store is required then.
    code, _, err = run(capsys, "process", "--app", f"{app}:receiver")
    assert code == cli.EXIT_USAGE
    assert "has no store: pass --store" in err


_ASYNC_DECISION_APP = """
import os
import kyc_webhooks as kw
from kyc_webhooks import testing

receiver = kw.Receiver(*testing.make_vendors({{"complycube": "{secret}"}}))
MARKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "handled.txt")


def mark(line):
    with open(MARKS, "a") as marks:
        marks.write(line + "\\n")


@receiver.on("complycube")
def handle(event):
    mark("event " + event.delivery_key)


@receiver.on_decision()
async def decided(decision):
    mark("decision " + decision.event.delivery_key)
"""


def test_process_and_replay_await_an_async_decision_handler(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The only async handler is a decision handler: the commands must still take the async path
    # (the sync one ran the event handler, then refused the decision handler: exit 2, failed).
    name = f"kwasyncdec_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(_ASYNC_DECISION_APP.format(secret=SECRET))
    monkeypatch.setattr(sys, "path", list(sys.path))
    try:
        _process_and_replay(capsys, tmp_path, name)
    finally:
        sys.modules.pop(name, None)


def _process_and_replay(capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str) -> None:
    _deferred_inbox(tmp_path / "q.sqlite3", 1)
    code, out, err = run(capsys, "process", "--store", "q.sqlite3", "--app", f"{name}:receiver")
    assert code == 0, err
    assert out.strip() == "processed 1: 1 succeeded, 0 failed"
    (record,) = _records(tmp_path / "q.sqlite3")
    assert str(record.state) == "done"
    marks = (tmp_path / "handled.txt").read_text().splitlines()
    assert sorted(line.split()[0] for line in marks) == ["decision", "event"]
    inbox = str(tmp_path / "q.sqlite3")
    code, out, err = run(
        capsys, "inbox", "--inbox", inbox, "replay", record.id, "--app", f"{name}:receiver"
    )
    assert code == cli.EXIT_USAGE  # done: a replay on purpose needs --force
    assert "is done: its handlers succeeded at " in err
    code, out, err = run(
        capsys,
        "inbox", "--inbox", inbox, "replay", record.id, "--app", f"{name}:receiver", "--force",
    )  # fmt: skip
    assert code == 0, err
    assert "200 replayed" in out


# -- store addresses: never a credential; a store to read must exist ----------------------------

#: Stands for a password in the URLs below; never printed.
PASSWORD = "hunter2-cli-5b0e"
#: A PostgreSQL server address nothing listens on (connection refused at once).
NO_SERVER = "postgresql://kw@127.0.0.1:1/kw"

#: URLs carrying a credential in every place libpq reads one, each with a parameter libpq refuses
#: (``nosuch``) so that opening the store fails without a server and the error quotes the URL.
_SECRET_URLS = {
    "query-password": (f"{NO_SERVER}?password={PASSWORD}", "?password=***"),
    "userinfo": (f"postgresql://kw:{PASSWORD}@127.0.0.1:1/kw", "postgresql://kw:***@127.0.0.1:1"),
    "at-in-userinfo": (f"postgresql://kw:x@{PASSWORD}@127.0.0.1:1/kw", "kw:***@127.0.0.1:1/kw"),
    # An unencoded "@" then "/" or "?" in a password: libpq ends the user info at the first "@"
    # (password "x", host "y"), a human reads the whole as the password.
    "at-slash-in-userinfo": (
        f"postgresql://kw:x@y/{PASSWORD}@127.0.0.1:1/kw",
        "kw:***@127.0.0.1:1/kw",
    ),
    "at-question-in-userinfo": (
        f"postgresql://kw:x@y?{PASSWORD}@127.0.0.1:1/kw",
        "kw:***@127.0.0.1:1/kw",
    ),
    "sslpassword": (f"{NO_SERVER}?sslmode=require&sslpassword={PASSWORD}", "sslpassword=***"),
    "encoded-name": (f"{NO_SERVER}?pass%77ord={PASSWORD}", "pass%77ord=***"),
    "oauth-secret": (f"{NO_SERVER}?oauth_client_secret={PASSWORD}", "oauth_client_secret=***"),
    "misspelt-name": (f"{NO_SERVER}?pasword={PASSWORD}", "pasword=***"),
    "bare-word": (f"{NO_SERVER}?{PASSWORD}", "127.0.0.1:1/kw?***"),
    "no-dbname": (
        f"postgresql://kw@127.0.0.1:1?password=x@{PASSWORD}",
        "kw@127.0.0.1:1?password=***",
    ),
}


@pytest.mark.parametrize(("url", "shown"), list(_SECRET_URLS.values()), ids=list(_SECRET_URLS))
def test_store_errors_mask_every_credential_of_the_url(
    capsys: pytest.CaptureFixture[str], app: str, url: str, shown: str
) -> None:
    invalid = f"{url}{'&' if '?' in url else '?'}nosuch=1"
    for argv in (
        ["migrate", "--store", invalid],
        ["migrate", "--store", invalid, "--json"],
        ["process", "--store", invalid, "--app", f"{app}:receiver"],
        ["inbox", "--inbox", invalid, "list"],
    ):
        code, out, err = run(capsys, *argv)
        assert code == cli.EXIT_USAGE, err
        assert "cannot open " in err
        assert shown in err
        assert "sslmode=require" in err or "sslmode" not in url  # a harmless value stays
        assert PASSWORD not in out + err


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"postgresql://kw:a=b@{PASSWORD}/x@db/app", "postgresql://kw:***@db/app"),
        (f"postgresql://kw:p@{PASSWORD}?x@db/app?sslmode=require", "kw:***@db/app?sslmode=require"),
        (f"postgresql://kw@db/app?password=p@{PASSWORD}", "postgresql://kw@db/app?password=***"),
        ("postgresql://kw@db/app?application_name=a@b", "postgresql://kw@db/app?application_name"),
        (f"postgresql://kw:Zq/9{PASSWORD}@db/app", "postgresql://kw:***@db/app"),
        (
            f"postgresql+psycopg://kw:Zq/9{PASSWORD}@db/app?x=1",
            "postgresql+psycopg://kw:***@db/app",
        ),
    ],
    ids=[
        "no-query",
        "query-after",
        "at-in-parameter",
        "at-in-shown-parameter",
        "slash-in-password",
        "slash-in-password-query",
    ],
)
def test_store_addresses_mask_a_password_however_its_at_signs_fall(url: str, shown: str) -> None:
    from kyc_webhooks.cli._stores import describe

    described = describe(url)
    assert shown in described
    assert PASSWORD not in described


@pytest.mark.parametrize(
    "store",
    [f"host=127.0.0.1 port=1 password={PASSWORD}", f" dbname = kw password={PASSWORD}"],
    ids=["host-first", "spaces"],
)
def test_a_keyword_value_connection_string_is_refused_unechoed_and_no_file_is_made(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, app: str, store: str
) -> None:
    for argv in (
        ["migrate", "--store", store],
        ["process", "--store", store, "--app", f"{app}:receiver"],
        ["inbox", "--inbox", store, "list"],
    ):
        code, out, err = run(capsys, *argv)
        assert code == cli.EXIT_USAGE, err
        assert "looks like a PostgreSQL key=value connection string" in err
        assert "postgresql:// URL" in err
        assert PASSWORD not in out + err
    assert not list(tmp_path.glob("*=*"))
    # A file name that only has an "=" in it is still a SQLite path.
    code, out, err = run(capsys, "migrate", "--store", "data=1.sqlite3")
    assert code == 0, err
    assert (tmp_path / "data=1.sqlite3").is_file()


#: URLs libpq does not read (it takes postgresql:// and postgres:// only, in lower case): each
#: was taken for a SQLite path and echoed whole, password included.
_OTHER_URLS = {
    "sqlalchemy": (f"postgresql+psycopg://kw:{PASSWORD}@127.0.0.1:1/kw", "psycopg://kw:***@127"),
    "upper-case": (f"POSTGRESQL://kw:{PASSWORD}@127.0.0.1:1/kw", "POSTGRESQL://kw:***@127.0.0.1"),
    "query": (f"Postgres://kw@127.0.0.1:1/kw?password={PASSWORD}", "1:1/kw?password=***"),
    "leading-blank": (f" postgresql://kw:{PASSWORD}@127.0.0.1:1/kw", "postgresql://kw:***@127"),
    "other-scheme": (f"mysql://kw:{PASSWORD}@db/kw?sslmode=require", "kw:***@db/kw?sslmode=req"),
}


@pytest.mark.parametrize(("url", "shown"), list(_OTHER_URLS.values()), ids=list(_OTHER_URLS))
def test_a_url_postgresql_does_not_read_is_refused_masked_and_no_file_is_made(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, app: str, url: str, shown: str
) -> None:
    before = sorted(tmp_path.rglob("*"))
    for argv in (
        ["migrate", "--store", url],
        ["migrate", "--store", url, "--json"],
        ["process", "--store", url, "--app", f"{app}:receiver"],
        ["inbox", "--inbox", url, "list"],
        ["inbox", "--inbox", url, "erase", "--all", "--yes"],
    ):
        code, out, err = run(capsys, *argv)
        assert code == cli.EXIT_USAGE, err
        assert "is a URL that PostgreSQL does not read: give a postgresql:// " in err
        assert shown in err
        assert PASSWORD not in out + err
    assert sorted(tmp_path.rglob("*")) == before


def test_migrate_output_masks_a_password_given_as_a_query_parameter(
    capsys: pytest.CaptureFixture[str],
) -> None:
    dsn = require_postgres()  # it trusts 127.0.0.1: the password is accepted and ignored
    url = f"{dsn}{'&' if '?' in dsn else '?'}password={PASSWORD}&application_name=kw-migrate"
    schema = new_schema()
    try:
        code, out, err = run(capsys, "migrate", "--store", url, "--schema", schema, "--json")
        assert code == 0, err
        shown = json.loads(out)["store"]
        assert shown.endswith("password=***&application_name=kw-migrate")
        code, out, err = run(capsys, "migrate", "--store", url, "--schema", schema)
        assert code == 0, err
        assert out.startswith(f"{shown} (schema {schema}): schema version ")
        assert PASSWORD not in out + err
    finally:
        drop_schema(schema)


def test_process_loop_banner_and_error_mask_the_password(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, app: str
) -> None:
    # Nothing listens on port 1: the first batch finds no connection (after the store's
    # timeout). Without --loop that ends the run with the store's error (exit 3).
    url = f"{NO_SERVER}?password={PASSWORD}"
    code, out, err = run(capsys, "process", "--store", url, "--app", f"{app}:receiver")
    assert code == cli.EXIT_UNAVAILABLE, err
    assert "failed: no connection within" in err
    assert PASSWORD not in out + err
    # With --loop the banner is printed, the error is logged and waited out until SIGTERM (a
    # child process, its stderr in a file read while it runs).
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    log = tmp_path / "stderr.txt"
    with log.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kyc_webhooks", "process", "--store", url,
             "--app", f"{app}:receiver", "--loop", "--interval", "0.1"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while "error=StoreError" not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert proc.poll() is None, log.read_text()
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=10)
    err = log.read_text()
    assert proc.returncode == cli.EXIT_OK, err
    assert f"processing {NO_SERVER}?password=*** (schema kyc_webhooks) with {app}:receiver" in err
    assert "error=StoreError detail=PostgreSQL store (" in err
    assert "processed 0: 0 succeeded, 0 failed (stopped)" in out
    assert PASSWORD not in out + err


def test_process_refuses_a_missing_sqlite_store_and_creates_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, app: str
) -> None:
    _deferred_inbox(tmp_path / "queue.sqlite3", 1)
    message = (
        "kyc-webhooks: error: no store at qeueu.sqlite3 "
        "(check the path, or create it with `kyc-webhooks migrate --store PATH`)"
    )
    code, out, err = run(capsys, "process", "--store", "qeueu.sqlite3", "--app", f"{app}:receiver")
    assert code == cli.EXIT_USAGE
    assert out == ""
    assert err.strip() == message
    # With --loop too (it polled an empty new database forever): in a child process, so that
    # a loop that does not end fails the test instead of hanging it.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    try:
        result = subprocess.run(
            [sys.executable, "-m", "kyc_webhooks", "process", "--store", "qeueu.sqlite3",
             "--app", f"{app}:receiver", "--loop"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("process --loop kept polling a store that did not exist")
    assert result.returncode == cli.EXIT_USAGE
    assert result.stderr.strip() == message
    assert sorted(p.name for p in tmp_path.glob("*.sqlite3*")) == ["queue.sqlite3"]
    # A directory is not a store either; the real one still works.
    code, _, err = run(capsys, "process", "--store", str(tmp_path), "--app", f"{app}:receiver")
    assert code == cli.EXIT_USAGE
    assert "no store at " in err
    code, out, err = run(capsys, "process", "--store", "queue.sqlite3", "--app", f"{app}:receiver")
    assert code == 0, err
    assert out.strip() == "processed 1: 1 succeeded, 0 failed"


def test_inbox_commands_never_create_a_postgresql_store(capsys: pytest.CaptureFixture[str]) -> None:
    """`inbox` reads an existing store: on a database without one it is a usage error, and the
    database is left without a schema (it used to create an empty `kyc_webhooks` one and list
    nothing). Once `migrate` made it, the same command works."""

    with own_database() as url:
        for argv in (["list"], ["erase", "--all", "--yes"], ["purge", "--older-than", "1d"]):
            code, _, err = run(capsys, "inbox", "--inbox", url, *argv)
            assert code == cli.EXIT_USAGE, err
            assert "no inbox in schema 'kyc_webhooks' at " in err
            assert "(check the URL of --inbox and --schema)" in err
            assert "migrate" not in err  # an empty new store would not be the inbox sought
            assert user_schemas(url) == []
        code, _, err = run(capsys, "migrate", "--store", url)
        assert code == cli.EXIT_OK, err
        code, out, err = run(capsys, "inbox", "--inbox", url, "list")
        assert code == cli.EXIT_OK, err
        assert out == "inbox is empty\n"
        assert user_schemas(url) == ["kyc_webhooks"]
