"""Operating the inbox from the command line (operator review R12): ``inbox replay --to`` reports
success only when the application's answer says its handlers ran; ``inbox replay --app`` does
not run a done delivery again without ``--force`` -- decided in the store's claim, so that the
worker's own retry completing it first wins -- and replays every failed delivery with
``--state failed``; ``process`` leaves the application's logging alone (else logs to stderr at
``--log-level``); ``inbox stats``."""

from __future__ import annotations

import datetime as _dt
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import kyc_webhooks as kw
from _postgres import postgres_store
from _stores import STORES, FakeClock
from _uvicorn import serving
from kyc_webhooks import cli, testing
from kyc_webhooks.cli._server import Server, asgi_app, bind
from kyc_webhooks.store import SQLiteStore, Store

SECRET = "cli-ops-secret-7d2c"
SRC = str(Path(kw.__file__).resolve().parents[1])


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _failed_inbox(path: Path, count: int) -> list[str]:
    """An inbox with ``count`` ComplyCube deliveries (ids ``check-N``) whose handler failed."""
    store = SQLiteStore(path)
    receiver = kw.Receiver(kw.ComplyCube(secret=SECRET), store=store)

    @receiver.on("complycube")
    def broken(event: kw.WebhookEvent) -> None:
        raise RuntimeError("the application was down")

    ids = []
    for number in range(count):
        body, headers = testing.signed_delivery(
            "complycube", "check.completed", SECRET, id=f"check-{number}"
        )
        outcome = receiver.handle(body, headers)
        assert outcome.status_code == 500
        assert outcome.delivery_id is not None
        ids.append(outcome.delivery_id)
    store.close()
    return ids


def _record(path: Path, delivery_id: str) -> kw.store.DeliveryRecord:
    with SQLiteStore(path) as store:
        record = store.get(delivery_id)
    assert record is not None
    return record


def _handled(tmp_path: Path) -> list[str]:
    marks = tmp_path / "handled.txt"
    return marks.read_text().splitlines() if marks.exists() else []


# The application: its handler marks each run. Its own worker (another store connection, past
# every back-off) completes the ids of worker-first.txt when the module is imported -- after the
# CLI looked at the record, before it claims it -- and those of worker-during.txt while the
# handler runs on the first delivery (the worker's retry racing the operator's replay).
APP = """
import datetime, pathlib
import kyc_webhooks as kw
from kyc_webhooks.store import SQLiteStore

HERE = pathlib.Path(__file__).parent
receiver = kw.Receiver(kw.ComplyCube(secret={secret!r}))


@receiver.on("complycube")
def handle(event):
    with open(HERE / "handled.txt", "a") as out:
        out.write(event.delivery_key + "\\n")
    during = HERE / "worker-during.txt"
    if during.exists():
        ids = during.read_text().split()
        during.unlink()
        the_worker(ids)


def the_worker(ids):
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=2)
    store = SQLiteStore(HERE / "inbox.sqlite3", clock=lambda: later)
    worker = kw.Receiver(kw.ComplyCube(secret={secret!r}), router=receiver.router, store=store)
    for delivery_id in ids:
        assert worker.process(delivery_id).ok
    store.close()


if (HERE / "worker-first.txt").exists():
    the_worker((HERE / "worker-first.txt").read_text().split())
"""


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"kwops_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(APP.format(secret=SECRET))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    yield f"{name}:receiver"
    sys.modules.pop(name, None)


# -- replay --app: a done delivery needs --force --------------------------------------------


def test_replay_app_of_a_done_delivery_needs_force(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, app: str
) -> None:
    inbox = tmp_path / "inbox.sqlite3"
    (delivery_id,) = _failed_inbox(inbox, 1)
    base = ("inbox", "--inbox", str(inbox), "replay", delivery_id, "--app", app)
    code, out, err = run(capsys, *base)
    assert code == 0, err
    assert out.strip().endswith("-> 200 replayed (handlers run: 1)")
    done = _record(inbox, delivery_id)
    assert (str(done.state), done.replays) == ("done", 1)
    code, out, err = run(capsys, *base)
    assert code == cli.EXIT_USAGE
    assert out == ""
    assert f"{delivery_id} is done: its handlers succeeded at " in err
    assert "with --force" in err
    assert _handled(tmp_path) == ["complycube:check-0"]
    assert _record(inbox, delivery_id) == done
    code, out, err = run(capsys, *base, "--force")
    assert code == 0, err
    assert _handled(tmp_path) == ["complycube:check-0"] * 2
    assert _record(inbox, delivery_id).replays == 2


def test_replay_app_of_a_delivery_the_worker_completes_first_does_not_run_it_again(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, app: str
) -> None:
    # The CLI finds the delivery failed; the worker's retry completes it before the replay's
    # claim (while the application is imported): the claim refuses it, nothing runs twice.
    inbox = tmp_path / "inbox.sqlite3"
    (delivery_id,) = _failed_inbox(inbox, 1)
    (tmp_path / "worker-first.txt").write_text(delivery_id)
    code, out, err = run(
        capsys, "inbox", "--inbox", str(inbox), "replay", delivery_id, "--app", app
    )
    assert code == cli.EXIT_USAGE, out + err
    assert f"{delivery_id} is done: its handlers succeeded at " in err
    assert _handled(tmp_path) == ["complycube:check-0"]  # once, by the worker
    record = _record(inbox, delivery_id)
    assert (str(record.state), record.replays) == ("done", 0)


def test_replay_state_failed_replays_each_failed_delivery_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, app: str
) -> None:
    inbox = tmp_path / "inbox.sqlite3"
    first, second, third = _failed_inbox(inbox, 3)
    # While the replay handles the first, the worker's retry completes the second.
    (tmp_path / "worker-during.txt").write_text(second)
    argv = ("inbox", "--inbox", str(inbox), "replay", "--state", "failed", "--app", app)
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[:3] == [
        f"{first} complycube check.completed -> replayed",
        f"{second} complycube check.completed -> done meanwhile, not run again",
        f"{third} complycube check.completed -> replayed",
    ]
    assert lines[3] == (
        "replayed 3 deliveries in state failed: 2 succeeded, 0 failed, 1 done meanwhile (not "
        "run again), 0 in progress elsewhere, 0 purged or erased"
    )
    assert sorted(_handled(tmp_path)) == [f"complycube:check-{n}" for n in range(3)]
    assert [_record(inbox, i).replays for i in (first, second, third)] == [1, 0, 1]
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    assert json.loads(out)["replayed"] == 0


def test_replay_state_failed_reads_the_inbox_a_page_at_a_time(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    app: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Pages of 3 over 7 failed deliveries: every one is replayed once, none twice or skipped.
    from kyc_webhooks.cli import inbox as inbox_command

    monkeypatch.setattr(inbox_command, "_PAGE", 3)
    inbox = tmp_path / "inbox.sqlite3"
    ids = _failed_inbox(inbox, 7)
    argv = ("inbox", "--inbox", str(inbox), "replay", "--state", "failed", "--app", app, "--json")
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    report = json.loads(out)
    assert sorted(row["id"] for row in report["deliveries"]) == sorted(ids)
    assert report["succeeded"] == 7
    assert sorted(_handled(tmp_path)) == sorted(f"complycube:check-{n}" for n in range(7))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--state", "failed"], "replay --state failed needs --app"),
        (["--state", "failed", "--app", "m:r", "0123456789"], "give an ID or --state failed"),
        (["--state", "failed", "--app", "m:r", "--force"], "--force replays one done delivery"),
        (["0123456789", "--to", "http://127.0.0.1:1/", "--force"], "--force needs --app"),
        (["--app", "m:r"], "say what to replay"),
    ],
    ids=["state-without-app", "state-and-id", "state-and-force", "force-with-to", "nothing"],
)
def test_replay_usage_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, extra: list[str], message: str
) -> None:
    inbox = tmp_path / "inbox.sqlite3"
    _failed_inbox(inbox, 1)
    code, out, err = run(capsys, "inbox", "--inbox", str(inbox), "replay", *extra)
    assert code == cli.EXIT_USAGE
    assert out == ""
    assert message in err


# -- Receiver.replay(skip_done=True) on every store -----------------------------------------


def _store_cases() -> list[str]:
    return [*STORES, "postgres"]


@pytest.fixture(params=_store_cases())
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    clock = FakeClock()
    if request.param == "postgres":
        with postgres_store() as store:
            yield store
        return
    store = STORES[request.param](tmp_path, clock)
    yield store
    store.close()


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_replay_skip_done_runs_a_failed_delivery_now_and_never_a_done_one(
    any_store: Store, asynchronous: bool
) -> None:
    import asyncio

    receiver = kw.Receiver(kw.ComplyCube(secret=SECRET), store=any_store)
    runs: list[str] = []
    failing = [True]

    @receiver.on("complycube")
    def handle(event: kw.WebhookEvent) -> None:
        if failing[0]:
            raise RuntimeError("down")
        runs.append(event.delivery_key)

    def replay(delivery_id: str) -> kw.Outcome:
        if asynchronous:
            return asyncio.run(receiver.replay_async(delivery_id, skip_done=True))
        return receiver.replay(delivery_id, skip_done=True)

    body, headers = testing.signed_delivery("complycube", "check.completed", SECRET, id="c-1")
    delivery_id = receiver.handle(body, headers).delivery_id
    assert delivery_id is not None
    failing[0] = False
    # Failed and in its back-off (process() would answer 503): a replay runs it now.
    assert receiver.process(delivery_id).status_code == 503
    outcome = replay(delivery_id)
    assert (outcome.status_code, outcome.replay, outcome.duplicate) == (200, True, False)
    record = any_store.get(delivery_id)
    assert record is not None
    assert (str(record.state), record.replays) == ("done", 1)
    # Done: the store's claim refuses it; nothing runs, the record is unchanged.
    again = replay(delivery_id)
    assert (again.status_code, again.duplicate, again.handled) == (200, True, 0)
    assert runs == ["complycube:c-1"]
    assert any_store.get(delivery_id) == record
    # A deliberate replay of a done delivery still runs it (the default).
    assert receiver.replay(delivery_id).handled == 1
    assert runs == ["complycube:c-1"] * 2


# -- replay --to: only an answer that the handlers ran is a success -------------------------


def test_the_cli_server_runs_the_adapters_lifespan_on_a_postgres_inbox() -> None:
    """``serve`` and ``demo`` run uvicorn with the adapter's lifespan, as a user's own uvicorn
    does: a PostgreSQL inbox's store calls run on the server's event loop (its async pool,
    opened at start-up), and the shutdown drains before the store is closed. Before, the
    lifespan was off: every call went to a worker thread, and nothing drained."""
    import httpx

    from kyc_webhooks.cli._server import ServeReceiver

    with postgres_store() as store:
        receiver = ServeReceiver(kw.ComplyCube(secret=SECRET), store=store)
        native: list[bool] = []

        @receiver.on("complycube")
        async def on_event(event: kw.WebhookEvent) -> None:
            native.append(store.native_async())

        body, headers = testing.signed_delivery("complycube", "check.completed", SECRET)
        with serving(asgi_app(receiver)) as base:
            answer = httpx.post(f"{base}/complycube", content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        assert native == [True]


@pytest.fixture
def running_app(tmp_path: Path) -> Iterator[tuple[Server, list[str]]]:
    """The application's receiver over HTTP (the ASGI adapter under uvicorn), on the inbox
    file the CLI reads, deferring (defer=True)."""
    store = SQLiteStore(tmp_path / "inbox.sqlite3")
    receiver = kw.Receiver(kw.ComplyCube(secret=SECRET), store=store, defer=True)
    runs: list[str] = []
    receiver.on("complycube")(lambda event: runs.append(event.delivery_key))
    server = Server(asgi_app(receiver), bind("127.0.0.1", 0))
    server.start()
    try:
        yield server, runs
    finally:
        server.stop()
        store.close()


def test_replay_to_a_deferring_app_is_not_reported_as_success(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    running_app: tuple[Server, list[str]],
) -> None:
    server, runs = running_app
    monkeypatch.setenv("COMPLYCUBE_SECRET", SECRET)
    inbox = tmp_path / "inbox.sqlite3"
    (delivery_id,) = _failed_inbox(inbox, 1)
    before = _record(inbox, delivery_id)
    url = f"{server.url}/complycube"
    base = ("inbox", "--inbox", str(inbox), "replay", delivery_id)
    code, out, err = run(capsys, *base, "--to", url)
    assert code == cli.EXIT_FAILED, out + err
    assert out.strip() == f"{delivery_id} complycube check.completed -> 202 Accepted (duplicate)"
    assert "not replayed: the application stores this delivery already and defers it" in err
    assert "--app package.module:attribute instead of --to" in err
    assert runs == []
    assert _record(inbox, delivery_id) == before
    code, out, err = run(capsys, *base, "--to", url, "--json")
    assert code == cli.EXIT_FAILED
    assert json.loads(out) == {"id": delivery_id, "status": 202, "ok": False, "duplicate": True}
    # Done: the application answers 200 duplicate, and nothing ran either.
    with SQLiteStore(inbox) as store:
        worker = kw.Receiver(kw.ComplyCube(secret=SECRET), store=store)
        worker.on("complycube")(lambda event: None)
        assert worker.replay(delivery_id).ok
    code, out, err = run(capsys, *base, "--to", url)
    assert code == cli.EXIT_FAILED
    assert out.strip().endswith("-> 200 OK (duplicate)")
    assert "the application's store has this delivery done" in err
    assert runs == []


def test_replay_to_an_app_that_runs_the_handlers_or_stores_it_anew_succeeds(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    running_app: tuple[Server, list[str]],
) -> None:
    server, runs = running_app
    monkeypatch.setenv("COMPLYCUBE_SECRET", SECRET)
    # Another inbox (serve's, say): the deferring application stores it as a new delivery.
    other = tmp_path / "other.sqlite3"
    (delivery_id,) = _failed_inbox(other, 1)
    code, out, err = run(
        capsys, "inbox", "--inbox", str(other), "replay", delivery_id, "--to", f"{server.url}/"
    )
    assert code == 0, err
    assert out.strip().endswith("-> 202 Accepted")
    assert runs == []  # stored for the application's worker
    with SQLiteStore(tmp_path / "inbox.sqlite3") as store:
        assert store.stats()["pending"] == 1


# -- inbox stats -------------------------------------------------------------------------------


def test_inbox_stats_counts_states_and_the_oldest_pending(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox.sqlite3"
    _failed_inbox(inbox, 2)
    code, out, err = run(capsys, "inbox", "--inbox", str(inbox), "stats")
    assert code == 0, err
    assert out.splitlines() == [
        "pending: 0",
        "processing: 0",
        "done: 0",
        "failed: 2",
        "total: 2",
        "oldest pending: -",
    ]
    received = _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(hours=3, minutes=5)
    with SQLiteStore(inbox, clock=lambda: received) as store:
        receiver = kw.Receiver(kw.ComplyCube(secret=SECRET), store=store, defer=True)
        body, headers = testing.signed_delivery("complycube", "check.pending", SECRET, id="p-1")
        assert receiver.handle(body, headers).status_code == 202
    code, out, err = run(capsys, "inbox", "--inbox", str(inbox), "stats", "--json")
    assert code == 0, err
    stats = json.loads(out)
    waited = stats.pop("oldest_pending_seconds")
    assert stats == {"pending": 1, "processing": 0, "done": 0, "failed": 2, "total": 3}
    assert 3 * 3600 + 5 * 60 <= waited < 3 * 3600 + 6 * 60
    code, out, _ = run(capsys, "inbox", "--inbox", str(inbox), "stats")
    assert out.splitlines()[-1] == "oldest pending: 3h 5m"


# -- process: the application's logging, or stderr at --log-level (real subprocesses) ----------

LOGGING_APP = """
import logging, os
import kyc_webhooks as kw

receiver = kw.Receiver(kw.ComplyCube(secret={secret!r}))


@receiver.on("complycube")
def handle(event):
    if event.delivery_key.endswith("check-1"):
        raise RuntimeError("no account for client " + "JANE" + " DOE")  # not in a frame

if os.environ.get("APP_LOG"):  # the application ships its own log lines to a file
    handler = logging.FileHandler(os.environ["APP_LOG"])
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logging.getLogger("kyc_webhooks").addHandler(handler)
    logging.getLogger("kyc_webhooks").setLevel(logging.INFO)
"""


def _deferred(path: Path, count: int) -> None:
    with SQLiteStore(path) as store:
        receiver = kw.Receiver(kw.ComplyCube(secret=SECRET), store=store, defer=True)
        for number in range(count):
            body, headers = testing.signed_delivery(
                "complycube", "check.completed", SECRET, id=f"check-{number}"
            )
            assert receiver.handle(body, headers).status_code == 202


def _process(
    tmp_path: Path, *argv: str, app_log: Path | None = None
) -> subprocess.CompletedProcess[str]:
    name = f"kwlog_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(LOGGING_APP.format(secret=SECRET)))
    _deferred(tmp_path / "q.sqlite3", 2)
    env = {k: v for k, v in os.environ.items() if k != "APP_LOG"}
    env["PYTHONPATH"] = os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])
    if app_log is not None:
        env["APP_LOG"] = str(app_log)
    return subprocess.run(
        [sys.executable, "-m", "kyc_webhooks", "process", "--store", "q.sqlite3",
         "--app", f"{name}:receiver", *argv],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_process_leaves_the_applications_logging_alone(tmp_path: Path) -> None:
    app_log = tmp_path / "app.log"
    result = _process(tmp_path, app_log=app_log)
    assert result.returncode == cli.EXIT_FAILED, result.stderr
    lines = app_log.read_text().splitlines()
    assert any(
        line.startswith("ERROR kyc_webhooks handler failed vendor=complycube")
        and "error=RuntimeError" in line
        for line in lines
    ), lines
    processed = [line for line in lines if line.startswith("INFO kyc_webhooks delivery ")]
    assert len(processed) == 2, lines  # one line per processed delivery
    assert "status=200 delivery_key=complycube:check-0 handled=1" in processed[0]
    assert "status=500 delivery_key=complycube:check-1 handled=0" in processed[1]
    assert "JANE DOE" not in app_log.read_text() + result.stderr
    assert "handler failed" not in result.stderr  # the application's handler has it


@pytest.mark.parametrize(
    ("argv", "info"), [([], False), (["--log-level", "info"], True)], ids=["default", "info"]
)
def test_process_logs_to_stderr_at_the_log_level(
    tmp_path: Path, argv: list[str], info: bool
) -> None:
    result = _process(tmp_path, *argv)
    assert result.returncode == cli.EXIT_FAILED, result.stderr
    err = result.stderr
    assert " ERROR handler failed vendor=complycube event_type=check.completed" in err
    assert ("INFO delivery vendor=complycube event_type=check.completed status=200" in err) is info
    assert "JANE DOE" not in err
    assert result.stdout.strip() == "processed 2: 1 succeeded, 1 failed"


# -- replay --to: an answer that does not say the handlers ran -------------------------------


@pytest.mark.parametrize(
    ("content_type", "answer"),
    [("text/plain", b"ok"), ("application/json", b'{"status": "received"}')],
    ids=["plain-text", "other-json"],
)
def test_replay_to_an_answer_that_does_not_say_the_handlers_ran_is_no_success(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    content_type: str,
    answer: bytes,
) -> None:
    # A view answering its own body (or a proxy rewriting it): 200, but nothing says what ran.
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("COMPLYCUBE_SECRET", SECRET)
        inbox = tmp_path / "inbox.sqlite3"
        (delivery_id,) = _failed_inbox(inbox, 1)
        url = f"http://127.0.0.1:{server.server_address[1]}/complycube"
        base = ("inbox", "--inbox", str(inbox), "replay", delivery_id, "--to", url)
        code, out, err = run(capsys, *base)
        assert code == cli.EXIT_FAILED, out + err
        assert "not confirmed: the answer does not say whether the handlers ran" in err
        code, out, err = run(capsys, *base, "--json")
        assert code == cli.EXIT_FAILED
        assert json.loads(out)["ok"] is False
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.mark.parametrize("nested", [False, True], ids=["key-once", "key-also-nested"])
def test_replay_to_of_a_done_identomat_delivery_sent_as_spaced_json_is_a_duplicate(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    nested: bool,
) -> None:
    """Identomat's delivery key is a digest of the (redacted) body: re-signing a stored body
    re-encoded it as compact JSON, so that a callback the vendor sent spaced (or with escapes)
    got another key, and replaying it to the application ran its handlers a second time as a
    new delivery, exit 0 (review R33). The key is now put into the stored bytes as they are --
    also where the body holds the member twice, once nested (review R58)."""
    key = "identomat-replay-key"
    monkeypatch.setenv("IDENTOMAT_API_KEY", key)
    store = SQLiteStore(tmp_path / "inbox.sqlite3")
    receiver = kw.Receiver(kw.Identomat(api_key=key), store=store)
    runs: list[str] = []
    receiver.on("identomat")(lambda event: runs.append(event.delivery_key))
    payload = {**testing.sample_payload("identomat", "session-change"), "callbackApiKey": key}
    if nested:
        payload["meta"] = {"callbackApiKey": "something else"}
    spaced = json.dumps(payload, indent=2).encode()  # as Python's json.dumps writes it
    first = receiver.handle(spaced, {"Content-Type": "application/json"})
    assert first.status_code == 200
    assert first.delivery_id is not None
    server = Server(asgi_app(receiver), bind("127.0.0.1", 0))
    server.start()
    try:
        code, out, err = run(
            capsys, "inbox", "--inbox", str(tmp_path / "inbox.sqlite3"), "replay",
            first.delivery_id, "--to", f"{server.url}/identomat",
        )  # fmt: skip
    finally:
        server.stop()
        store.close()
    assert code == cli.EXIT_FAILED, out + err
    assert out.strip().endswith("-> 200 OK (duplicate)")
    assert "the application's store has this delivery done" in err
    assert runs == [first.delivery_key]
    with SQLiteStore(tmp_path / "inbox.sqlite3") as reopened:
        assert reopened.stats()["done"] == 1
        assert len(reopened.deliveries()) == 1


def test_a_locked_inbox_is_unavailable_not_a_usage_error(tmp_path: Path) -> None:
    """A SQLite inbox another writer holds past the lock timeout: exit 3 (store unavailable:
    try again), as the exit-code table says, not 2 -- scripts retrying on 3 gave up on a lock
    that was only temporary (review R33)."""
    import sqlite3

    inbox = tmp_path / "inbox.sqlite3"
    _failed_inbox(inbox, 1)
    writer = sqlite3.connect(inbox, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        result = subprocess.run(
            [sys.executable, "-m", "kyc_webhooks", "inbox", "--inbox", str(inbox), "stats"],
            capture_output=True, text=True, timeout=60, env=_env(),
        )  # fmt: skip
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert result.returncode == cli.EXIT_UNAVAILABLE, result.stderr
    assert "database is locked" in result.stderr


@pytest.mark.parametrize("where", ["closed-port", "no-such-database"])
def test_a_postgres_inbox_that_cannot_be_opened_is_one_line_saying_why(where: str) -> None:
    """psycopg_pool's warnings of every failed connection attempt reached stderr through
    logging's last resort, above the command's one-line error (review R33) -- and were the only
    place that said why (review R34): the line ends with the last attempt's reason."""

    from _postgres import require_postgres

    if where == "closed-port":
        # Port 1: nothing listens there (a free port let go could be another run's server).
        url, reason = "postgresql://postgres@127.0.0.1:1/test", "Connection refused"
    else:
        server = require_postgres().rpartition("/")[0]
        url, reason = f"{server}/kw_no_such_db", 'database "kw_no_such_db" does not exist'
    result = subprocess.run(
        [sys.executable, "-m", "kyc_webhooks", "inbox", "--inbox", url, "stats"],
        capture_output=True, text=True, timeout=60, env=_env(),
    )  # fmt: skip
    assert result.returncode == cli.EXIT_UNAVAILABLE, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("kyc-webhooks: error: ")
    assert result.stderr.rstrip().endswith(reason), result.stderr
    # Said once: the store's message carries the last attempt's reason already.
    assert result.stderr.count(reason) == 1, result.stderr


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}


PG_APP = """
import kyc_webhooks as kw

receiver = kw.Receiver(
    kw.ComplyCube(secret={secret!r}), store=kw.PostgresStore({dsn!r}, schema={schema!r})
)


@receiver.on("complycube")
def handle(event):
    with open({marks!r}, "a") as out:
        out.write(event.delivery_key + "\\n")
"""


def test_replay_app_on_postgres_reads_the_apps_schema_or_schema(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Review R56: `inbox replay --state failed --app` read schema kyc_webhooks (another store's
    # deliveries, or none) where `process --app` uses the application's own store's schema.
    from _postgres import drop_schema, new_schema, require_postgres

    dsn, schema, other = require_postgres(), new_schema(), new_schema()
    store = kw.PostgresStore(dsn, schema=schema)
    try:
        failing = kw.Receiver(kw.ComplyCube(secret=SECRET), store=store)

        @failing.on("complycube")
        def broken(event: kw.WebhookEvent) -> None:
            raise RuntimeError("the application was down")

        body, headers = testing.signed_delivery("complycube", "check.completed", SECRET)
        delivery_id = failing.handle(body, headers).delivery_id
        assert delivery_id is not None
        marks = tmp_path / "handled.txt"
        name = f"kwpgapp_{tmp_path.name.replace('-', '_')}"
        (tmp_path / f"{name}.py").write_text(
            PG_APP.format(secret=SECRET, dsn=dsn, schema=schema, marks=str(marks))
        )
        monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
        argv = ("inbox", "--inbox", dsn, "replay", "--state", "failed", "--app", f"{name}:receiver")
        code, out, err = run(capsys, *argv)
        assert code == 0, err
        assert out.splitlines()[-1].startswith("replayed 1 delivery in state failed: 1 succeeded")
        assert marks.read_text().splitlines() == [f"complycube:{json.loads(body)['id']}"]
        record = store.get(delivery_id)
        assert record is not None
        assert (str(record.state), record.replays) == ("done", 1)
        # --schema is read, over the application's own; one that differs from it is said.
        with kw.PostgresStore(dsn, schema=other) as elsewhere:
            elsewhere.migrate()
        for named, warned in ((schema, False), (other, True)):
            code, out, err = run(capsys, "inbox", "--inbox", dsn, "--schema", named, *argv[3:])
            assert code == 0, err
            assert out.splitlines()[-1].startswith("replayed 0 deliveries"), out
            warning = (
                f"warning: --schema {other} is not the schema of {name}:receiver's own store "
                f"({schema}); reading {other}"
            )
            assert (warning in err) is warned, err
    finally:
        sys.modules.pop(f"kwpgapp_{tmp_path.name.replace('-', '_')}", None)
        store.close()
        drop_schema(schema)
        drop_schema(other)
