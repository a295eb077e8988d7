"""kyc_webhooks.contrib.procrastinate end to end: a real PostgreSQL (jobs and deliveries in one
per-run schema) and a real ``procrastinate worker`` started by the test.
The handler records its runs in a file (the worker is another process). The ``bounced``
applications (a database of their own) run store, connector and worker through the test PgBouncer
in transaction pooling instead (docs/scaling-out.md, "Behind PgBouncer")."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator

import pytest

import kyc_webhooks as kw
from _contrib import (
    ASYNC_ENV,
    HANDLER,
    KEY,
    Setup,
    check_async_handlers_run_once,
    check_lost_enqueue_is_swept,
    check_runs_once_and_redelivery_is_harmless,
    check_swept_once,
    freezable_proxy,
    logged,
    require_package,
    runs,
    start_app,
    store_unqueued,
    wait_for,
    worker,
)
from _postgres import (
    drop_schema,
    new_schema,
    own_database,
    require_pgbouncer,
    require_postgres,
    sql,
)
from kyc_webhooks.testing import signed_delivery

APP = (
    HANDLER
    + """
import procrastinate

from kyc_webhooks.contrib.procrastinate import register

DSN = os.environ["KYC_CONTRIB_DSN"]
SCHEMA = os.environ["KYC_CONTRIB_SCHEMA"]
# Behind PgBouncer (transaction pooling) the connector sends no startup options and prepares no
# statements, and the jobs live in the public schema of a database of the run's own; the store
# takes pgbouncer=True (docs/scaling-out.md, "Behind PgBouncer").
PGBOUNCER = bool(os.environ.get("KYC_CONTRIB_PGBOUNCER"))
connection = {"prepare_threshold": None} if PGBOUNCER else {"options": f"-c search_path={SCHEMA}"}
app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=DSN, kwargs=connection))
store = kw.PostgresStore(DSN, schema=SCHEMA, pgbouncer=PGBOUNCER)
receiver = kw.Receiver(kw.Idenfy(signing_key="contrib-signing-key"), store=store, defer=True)
register_handlers(receiver)
# The periodic sweep on KYC_CONTRIB_SWEEP (a sixth cron field counts seconds).
tasks = register(app, receiver, queue=SCHEMA, sweep_cron=os.environ["KYC_CONTRIB_SWEEP"])
"""
)


@contextlib.contextmanager
def running(
    tmp_path_factory: pytest.TempPathFactory,
    sweep: str,
    name: str,
    *,
    asynchronous: bool = False,
    pgbouncer: bool = False,
) -> Iterator[Setup]:
    """The test application (module ``name``) and its worker, sweeping on ``sweep``;
    ``asynchronous``: with ``async def`` event and decision handlers; ``pgbouncer``: the
    application and its worker connect through the test PgBouncer only, the worker polls (no
    LISTEN/NOTIFY there) every 0.5 s."""
    require_package("procrastinate")
    with contextlib.ExitStack() as stack:
        tmp = tmp_path_factory.mktemp(name)
        schema = new_schema()
        worker_options: tuple[str, ...] = ()
        if pgbouncer:
            # PgBouncer refuses the startup option that sets search_path: the jobs go to the
            # public schema of a database of this run's own, reached through PgBouncer.
            bouncer = urllib.parse.urlsplit(require_pgbouncer())
            database = urllib.parse.urlsplit(stack.enter_context(own_database())).path
            dsn = bouncer._replace(path=database).geturl()
            worker_options = ("--no-listen-notify", "--fetch-job-polling-interval", "0.5")
        else:
            dsn = require_postgres()
            sql(f"CREATE SCHEMA {schema}")
            stack.callback(drop_schema, schema)
        env = {
            "KYC_CONTRIB_SWEEP": sweep,
            "KYC_CONTRIB_DSN": dsn,
            "KYC_CONTRIB_SCHEMA": schema,
            "KYC_CONTRIB_RUNS": str(tmp / "runs.txt"),
            **({ASYNC_ENV: "1"} if asynchronous else {}),
            **({"KYC_CONTRIB_PGBOUNCER": "1"} if pgbouncer else {}),
        }
        stack.callback(sys.modules.pop, name, None)
        app = start_app(tmp, name, APP, env)
        command = [
            sys.executable,
            *("-m", "procrastinate", "--app", f"{name}.app", "-v"),
            *("worker", "--queues", schema, "--concurrency", "1", *worker_options),
        ]
        with app.app.open():
            app.app.schema_manager.apply_schema()
            # Stored while no worker runs, its job lost: the periodic sweep handles it.
            before_boot = store_unqueued(app.receiver, "p-boot")
            log = tmp / "worker.log"
            with worker(command, tmp, env, log):
                yield Setup(app, tmp / "runs.txt", log, before_boot)
        app.store.close()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """The worker of most tests; its periodic sweep does not fire while they run (it would race
    the process task for the deliveries they store)."""
    with running(tmp_path_factory, "0 0 1 1 *", "kyc_contrib_procrastinate_app") as started:
        yield started


@pytest.fixture
def periodic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """A second application and worker (own schema), sweeping every 2 seconds."""
    with running(
        tmp_path_factory, "* * * * * */2", "kyc_contrib_procrastinate_periodic"
    ) as started:
        yield started


@pytest.fixture(scope="module")
def async_setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """An application whose handlers are ``async def`` (the documented defer=True setup of an
    async web app) and its worker (own schema): the tasks await them."""
    with running(
        tmp_path_factory, "0 0 1 1 *", "kyc_contrib_procrastinate_async", asynchronous=True
    ) as started:
        yield started


@pytest.fixture
def bounced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """An application (own database) whose store, connector and worker all go through the test
    PgBouncer in transaction pooling, as documented in docs/scaling-out.md ("Behind PgBouncer")."""
    with running(
        tmp_path_factory, "0 0 1 1 *", "kyc_contrib_procrastinate_pgbouncer", pgbouncer=True
    ) as started:
        yield started


@pytest.fixture
def bounced_periodic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """As ``bounced``, sweeping every 2 seconds: procrastinate's periodic deferrer through
    PgBouncer."""
    with running(
        tmp_path_factory,
        "* * * * * */2",
        "kyc_contrib_procrastinate_pgbouncer_periodic",
        pgbouncer=True,
    ) as started:
        yield started


def test_the_periodic_sweep_runs_through_pgbouncer(bounced_periodic: Setup) -> None:
    check_swept_once(bounced_periodic, "the periodic sweep to run the handler")


def test_everything_through_pgbouncer_in_transaction_pooling(
    bounced: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    """Store (pgbouncer=True), connector (prepare_threshold=None) and a polling worker
    (--no-listen-notify) behind PgBouncer: deferred deliveries get their job and run once, a
    redelivered job is a duplicate, the sweeper catches lost enqueues, and an async web app defers
    too. Enough statements repeat on each connection that psycopg would prepare them: with its
    default (prepare at the 5th run) the defers failed and the worker exited on ``prepared
    statement "_pg3_0" already exists``."""
    app, runs_file, log, before_boot = bounced
    check_runs_once_and_redelivery_is_harmless(bounced, "p-pgb")
    keys: list[str] = []
    for number in range(8):  # more defers than psycopg's prepare threshold (5)
        body, headers = signed_delivery(
            "idenfy", "IDENTIFICATION_MANUAL_FINISHED", KEY, scanRef=f"p-pgb-{number}"
        )
        outcome = app.receiver.handle(body, headers)
        assert outcome.status_code == 202
        assert outcome.delivery_key is not None
        keys.append(outcome.delivery_key)
    wait_for(lambda: all(key in runs(runs_file) for key in keys), "the worker to run them", log)
    check_lost_enqueue_is_swept(bounced, "p-pgb-lost", lambda app: app.tasks.sweep.defer())
    assert runs(runs_file).count(before_boot) == 1  # stored before the worker: the same sweep
    _handle_in_event_loop(bounced, "p-pgb-loop", open_async=True)
    assert all(runs(runs_file).count(key) == 1 for key in keys)
    assert "on_deferred failed" not in caplog.text
    assert "Database error" not in log.read_text(errors="replace")


def test_async_handlers_run_once_in_the_worker(async_setup: Setup) -> None:
    check_async_handlers_run_once(async_setup, "p-async")


def test_the_sweep_awaits_async_handlers(async_setup: Setup) -> None:
    check_lost_enqueue_is_swept(async_setup, "p-async-lost", lambda app: app.tasks.sweep.defer())


def _handle_in_event_loop(setup: Setup, scan_ref: str, *, open_async: bool) -> None:
    """An async web app (``receiver.handle_async``) stores a delivery; its job, deferred from
    inside the running event loop, runs the handler once in the worker."""
    app, runs_file, log, _ = setup
    body, headers = signed_delivery(
        "idenfy", "IDENTIFICATION_MANUAL_FINISHED", KEY, scanRef=scan_ref
    )

    receiver: kw.Receiver = app.receiver

    async def web() -> kw.Outcome:
        if not open_async:  # the app is open the sync way only (the fixture's app.open())
            return await receiver.handle_async(body, headers)
        async with app.app.open_async():
            return await receiver.handle_async(body, headers)

    try:
        outcome = asyncio.run(web())
    finally:
        if open_async:
            # open_async() closed the sync connection the fixture's app.open() made (procrastinate
            # uses one or the other): open it again for the tests that defer synchronously.
            app.app.open()
    assert outcome.status_code == 202
    key = outcome.delivery_key
    assert key is not None
    wait_for(lambda: key in runs(runs_file), "the worker to run the handler", log)
    wait_for(logged(log, f"delivery_id={outcome.delivery_id} status=200"), "the task", log)
    assert runs(runs_file).count(key) == 1


def test_an_async_web_app_opened_with_open_async_defers_inside_its_event_loop(
    setup: Setup,
) -> None:
    _handle_in_event_loop(setup, "p-loop", open_async=True)


def test_an_async_web_app_opened_with_open_defers_inside_its_event_loop(setup: Setup) -> None:
    _handle_in_event_loop(setup, "p-loop-sync-open", open_async=False)


def test_the_periodic_sweep_runs_in_the_worker(periodic: Setup) -> None:
    check_swept_once(periodic, "the periodic sweep to run the handler")


def test_a_deferred_delivery_runs_once_in_the_worker_and_a_redelivered_task_is_harmless(
    setup: Setup,
) -> None:
    check_runs_once_and_redelivery_is_harmless(setup, "p-1")


def test_a_lost_enqueue_is_caught_by_the_sweeper(setup: Setup) -> None:
    # What the worker defers on sweep_cron.
    check_lost_enqueue_is_swept(setup, "p-lost", lambda app: app.tasks.sweep.defer())


def test_register_declares_the_periodic_sweep_and_no_retries() -> None:
    procrastinate = require_package("procrastinate")
    from kyc_webhooks.contrib.procrastinate import register

    app = procrastinate.App(connector=require_package("procrastinate.testing").InMemoryConnector())
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore(), defer=True)
    tasks = register(app, receiver, name="kw_x")
    assert receiver.on_deferred is tasks.enqueue
    assert tasks.process.name == "kw_x.process"
    assert tasks.process.retry_strategy is None
    assert tasks.sweep.retry_strategy is None
    with app.open():
        tasks.enqueue("delivery-id-1")
        (job,) = app.connector.jobs.values()  # only the delivery id goes into the job
    assert job["args"] == {"delivery_id": "delivery-id-1"}


def test_register_refuses_a_receiver_without_defer() -> None:
    procrastinate = require_package("procrastinate")
    from kyc_webhooks.contrib.procrastinate import register

    app = procrastinate.App(connector=require_package("procrastinate.testing").InMemoryConnector())
    with pytest.raises(kw.ConfigurationError, match="defer=True"):
        register(app, kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore()))
    deferred = kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore(), defer=True)
    with pytest.raises(kw.ConfigurationError, match=r"procrastinate\.App"):
        register(object(), deferred)
    assert deferred.on_deferred is None


def test_the_hand_off_defers_even_when_nobody_awaits_it() -> None:
    """Under a running event loop enqueue returned a bare coroutine: a wrapper of the user's that
    dropped it deferred no job (the sweeper caught the delivery later), unlike Celery's and
    Dramatiq's, which start at once (review R29)."""
    procrastinate = require_package("procrastinate")
    from kyc_webhooks.contrib.procrastinate import register

    app = procrastinate.App(connector=require_package("procrastinate.testing").InMemoryConnector())
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore(), defer=True)
    tasks = register(app, receiver, name="kw_eager")

    async def main() -> None:
        async with app.open_async():
            tasks.enqueue("dropped")  # a wrapper of the user's that drops the awaitable
            for _ in range(100):  # bounded: the task runs on this loop
                if app.connector.jobs:
                    break
                await asyncio.sleep(0.01)
            pending = tasks.enqueue("awaited")
            assert isinstance(pending, asyncio.Future)
            await pending

    asyncio.run(main())
    deferred = sorted(job["args"]["delivery_id"] for job in app.connector.jobs.values())
    assert deferred == ["awaited", "dropped"]


def test_a_hung_database_still_gets_the_202_of_a_synchronous_hand_off(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Was: under ``receiver.handle`` (Flask, a sync Django view) the job was deferred on the
    request's thread, and psycopg waits on a hung database for ever (on one that is down, for the
    pool's 30 s): the 202 never came within iDenfy's 10 s, and every retry did the same. The
    defer is now waited for at most SYNC_PUBLISH_WAIT (5 s), then goes on without the answer."""
    procrastinate = require_package("procrastinate")
    psycopg = require_package("psycopg")
    from kyc_webhooks.contrib import _common
    from kyc_webhooks.contrib.procrastinate import register

    dsn = require_postgres()
    monkeypatch.setattr(_common, "SYNC_PUBLISH_WAIT", 1.0, raising=False)
    target = psycopg.conninfo.conninfo_to_dict(dsn)
    # A schema of the test's own (not the shared database's public schema): the defer left
    # running must still land its job there once the database answers again.
    schema = new_schema()
    sql(f"CREATE SCHEMA {schema}")
    with contextlib.ExitStack() as stack:
        stack.callback(drop_schema, schema)
        port, frozen, _, _ = stack.enter_context(
            freezable_proxy(str(target.get("host") or "127.0.0.1"), int(target.get("port") or 5432))
        )
        conninfo = psycopg.conninfo.make_conninfo(
            dsn, host="127.0.0.1", port=str(port), options=f"-c search_path={schema}"
        )
        app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))
        receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore(), defer=True)
        register(app, receiver, name="kw_hung_db")
        with app.open():
            app.schema_manager.apply_schema()
            frozen.set()
            thaw = threading.Timer(8, frozen.clear)  # bounds the test should the defer block
            thaw.start()
            body, headers = signed_delivery("idenfy", "IDENTIFICATION", KEY)
            started_at = time.monotonic()
            outcome = receiver.handle(body, headers)
            elapsed = time.monotonic() - started_at
            thaw.cancel()
            frozen.clear()  # the stuck defer goes on: its job lands before the app closes
            jobs = f"SELECT task_name FROM {schema}.procrastinate_jobs"  # noqa: S608 (test schema)
            for _ in range(200):  # bounded: 10 s
                if sql(jobs):
                    break
                time.sleep(0.05)
            assert sql(jobs) == [("kw_hung_db.process",)]
    assert outcome.status_code == 202
    assert elapsed < 4, elapsed
    assert "still running after 1 s" in caplog.text
    assert "hand-off to the queue failed" not in caplog.text
