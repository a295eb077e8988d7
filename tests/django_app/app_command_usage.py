"""``manage.py kyc_webhooks`` usage errors and signals (review 5, finding 8), run as a real
``python -m django`` process on this run's test database: a bad or out-of-range ``--older-than``
is an argparse usage error (exit code 2, one line, no traceback), capped at 36525 days like the
``kyc-webhooks`` CLI; ``process --loop`` stops on SIGINT as on SIGTERM (exit code 0). Was: a
traceback with exit code 1 (CommandError raised in argparse's type=), a raw OverflowError, and a
KeyboardInterrupt traceback with exit code 130."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client, override_settings

from django_app.conftest import IDENFY_KEY, post_idenfy
from kyc_webhooks.integrations.django.models import Delivery
from kyc_webhooks.testing import sample_payload, sign

pytestmark = pytest.mark.django_db(transaction=True)
HERE = Path(__file__).resolve().parent


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "django_app.settings",
        "KYC_TEST_DJANGO_NAME": str(connection.settings_dict["NAME"]),
        "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")]),
    }


@contextlib.contextmanager
def _every_claim_waits() -> Iterator[None]:
    """Another connection holds a lock that every ``claim_next`` waits for until released:
    SQLite's write lock (BEGIN IMMEDIATE), or on MariaDB the whole delivery table (LOCK TABLES,
    from a thread's connection of its own: a claim's SKIP LOCKED skips locked rows, not a locked
    table)."""
    if connection.vendor == "sqlite":
        locker = sqlite3.connect(str(connection.settings_dict["NAME"]), timeout=30)
        locker.isolation_level = None
        locker.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        return
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        with connection.cursor() as cursor:  # this thread's own connection
            cursor.execute(f"LOCK TABLES {Delivery._meta.db_table} WRITE")
            locked.set()
            release.wait(timeout=120)
            cursor.execute("UNLOCK TABLES")

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(timeout=60)
    try:
        yield
    finally:
        release.set()
        holder.join(timeout=60)


def _command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "django", "kyc_webhooks", *args],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("purge", "--older-than", "90x"), "bad age '90x'"),
        (("purge", "--older-than", "9999999999d"), "at most 36525d"),
        (("purge", "--older-than", "999999d", "--dry-run"), "at most 36525d"),
        (("erase-bodies", "--older-than", "999999d", "--dry-run"), "at most 36525d"),
        (("erase-bodies", "--older-than=-3d"), "must not be negative"),
    ],
)
def test_a_bad_age_is_a_usage_error_without_a_traceback(
    args: tuple[str, ...], message: str
) -> None:
    result = _command(*args)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "argument --older-than" in result.stderr
    assert message in result.stderr
    with pytest.raises(CommandError, match="argument --older-than"):
        call_command("kyc_webhooks", *args, stdout=io.StringIO())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--limit", "0"), "argument --limit: must be at least 1"),
        (("--limit", "-5"), "argument --limit: must be at least 1"),
        (("--interval", "0"), "argument --interval: must be a number of seconds above 0"),
        (("--interval", "nan"), "argument --interval: must be a number of seconds above 0"),
        (("--interval", "inf"), "argument --interval: must be a number of seconds above 0"),
        (("--max-rounds", "-1"), "argument --max-rounds: must be at least 0"),
    ],
)
def test_process_refuses_what_would_spin_or_crash(args: tuple[str, ...], message: str) -> None:
    # Was (review R32): --limit 0 and --interval 0/nan spun at 100 % CPU (hammering the database
    # under --loop), --interval inf crashed with an OverflowError traceback.
    result = _command("process", "--loop", *args)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert message in result.stderr


def test_the_oldest_age_accepted_is_the_cli_s() -> None:
    result = _command("erase-bodies", "--older-than", "36525d", "--dry-run")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("would erase 0 bodies of deliveries received before")
    out = io.StringIO()
    call_command("kyc_webhooks", "purge", "--older-than", "36525d", "--dry-run", stdout=out)
    assert out.getvalue().startswith("would purge 0 deliveries")


@override_settings(KYC_WEBHOOKS={"VENDORS": {"idenfy": {"signing_key": IDENFY_KEY}}, "DEFER": True})
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_process_loop_stops_on_sigint_and_sigterm(sig: signal.Signals) -> None:
    answer = post_idenfy()
    assert answer.status_code == 202
    proc = subprocess.Popen(
        [sys.executable, "-m", "django", "kyc_webhooks", "process", "--loop", "--interval", "0.2"],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        # The row is done once the first round ran: the signal handlers are installed by then.
        while Delivery.objects.get().state != "done" and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate(timeout=30)
            time.sleep(0.05)
        assert Delivery.objects.get().state == "done"
        time.sleep(0.3)  # into the idle wait between rounds
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in err
    assert "processed 1: 1 succeeded" in out


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


@override_settings(KYC_WEBHOOKS={"VENDORS": {"idenfy": {"signing_key": IDENFY_KEY}}, "DEFER": True})
def test_process_loop_waits_out_a_store_error(tmp_path: Path) -> None:
    """A store error under ``--loop`` (here a lock held by another connection past the command's
    timeout: SQLite's write lock, MariaDB's lock of the whole table, error 1205) is logged and
    waited out, as by ``kyc-webhooks process --loop``; a delivery deferred afterwards is handled,
    and SIGTERM stops the loop (exit code 0). Was: the first error ended the command
    (CommandError, exit code 1). PostgreSQL's claim skips locked rows: no lock to wait for."""
    if connection.vendor == "postgresql":
        return
    out_file, err_file = tmp_path / "out.txt", tmp_path / "err.txt"
    with contextlib.ExitStack() as held, out_file.open("w") as out, err_file.open("w") as err:
        held.enter_context(_every_claim_waits())
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "django"),
                "kyc_webhooks",
                # Django's system checks probe SQLite's JSON support with a query that the held
                # lock can make fail within the 0.2 s timeout (seen on Python 3.12): a misleading
                # fields.E180 before the loop starts. The loop's own behaviour is what is tested.
                "--skip-checks",
                "process",
                "--loop",
                "--interval",
                "0.2",
            ],
            env={
                **_env(),
                "KYC_TEST_DJANGO_SQLITE_TIMEOUT": "0.2",
                "KYC_TEST_DJANGO_MARIADB_LOCK_TIMEOUT": "1",
            },
            stdout=out,
            stderr=err,
        )
        try:
            logged = "process: the store failed error=StoreError"
            deadline = time.monotonic() + 60
            while _read(err_file).count(logged) < 2 and time.monotonic() < deadline:
                assert proc.poll() is None, _read(err_file)[-3000:]
                time.sleep(0.05)
            assert _read(err_file).count(logged) >= 2, _read(err_file)[-3000:]
            held.close()  # the lock is released
            event_type = "IDENTIFICATION_MANUAL_FINISHED"
            payload = sample_payload("idenfy", event_type)
            body, headers = sign("idenfy", payload, IDENFY_KEY, event_type=event_type)
            extra = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            answer = Client().post(
                "/webhooks/idenfy", data=body, content_type="application/json", headers=extra
            )
            assert answer.status_code == 202
            deadline = time.monotonic() + 60
            while Delivery.objects.get().state != "done" and time.monotonic() < deadline:
                assert proc.poll() is None, _read(err_file)[-3000:]
                time.sleep(0.05)
            assert Delivery.objects.get().state == "done"
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    errors = _read(err_file)
    assert proc.returncode == 0, errors[-3000:]
    assert "Traceback" not in errors
    # The class and the store's own message; never a statement's values.
    assert "detail=the Django delivery store failed" in errors
    assert "processed 1: 1 succeeded" in _read(out_file)


def _stored(*ids: str) -> None:
    """Deliveries with these ids in the app's table (state done; no replay reaches them)."""
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    for n, delivery_id in enumerate(ids):
        key = f"idenfy:evt-{n}"
        Delivery.objects.create(
            id=delivery_id,
            key_hash=hashlib.sha256(key.encode()).hexdigest(),
            delivery_key=key,
            vendor="idenfy",
            event_type="IDENTIFICATION_MANUAL_FINISHED",
            state="done",
            received_at=start + timedelta(seconds=n),
            updated_at=start + timedelta(seconds=n),
            body=b"{}",
            headers=[],
        )


def test_replay_takes_an_id_prefix_and_an_unknown_id_is_a_usage_error() -> None:
    """``replay`` looks the id up as ``kyc-webhooks inbox`` does (review 11, finding 2): a unique
    prefix of at least 8 characters replays that delivery (exit code 0); an unknown id is a usage
    error (exit code 2), so a wrapper that retries exit code 1 never loops on a typo. Was: exit
    code 1 for both, "no stored delivery has this id"."""
    answer = post_idenfy()
    assert answer.status_code == 200
    delivery_id = Delivery.objects.get().id
    # Done already: replayed only on purpose, with --force, as `kyc-webhooks inbox replay`.
    result = _command("replay", delivery_id[:8])
    assert result.returncode == 2, result.stderr[-3000:]
    assert f"{delivery_id} is done: its handlers succeeded at" in result.stderr
    assert "Replay it again on purpose with --force" in result.stderr
    assert Delivery.objects.get().replays == 0
    result = _command("replay", delivery_id[:8], "--force")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout == f"200 replayed {delivery_id}\n"
    assert Delivery.objects.get().replays == 1
    result = _command("replay", "0" * 28 + "dead")
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "no delivery with id '0000000000000000000000000000dead'" in result.stderr
    assert Delivery.objects.get().replays == 1


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("abcdef01", "id prefix 'abcdef01' is ambiguous: 2 deliveries match"),
        ("abcdef0", "an id prefix needs at least 8 characters"),
        ("ABCDEF01" + "0" * 24, "no delivery with id 'ABCDEF01"),
    ],
    ids=["ambiguous", "short-prefix", "unknown"],
)
def test_replay_of_an_ambiguous_short_or_unknown_id_is_a_usage_error(
    given: str, message: str
) -> None:
    _stored("abcdef01" + "1" * 24, "abcdef01" + "2" * 24)
    with pytest.raises(CommandError, match=message) as info:
        call_command("kyc_webhooks", "replay", given, stdout=io.StringIO())
    assert info.value.returncode == 2
    assert set(Delivery.objects.values_list("replays", flat=True)) == {0}


@pytest.mark.parametrize("skip_checks", [False, True], ids=["checked", "skip-checks"])
def test_a_misconfigured_project_is_a_usage_error_not_a_failed_delivery(
    tmp_path: Path, skip_checks: bool
) -> None:
    """``KYC_WEBHOOKS`` that builds no receiver (here an empty signing key) is a configuration
    error: exit code 2, as the docs and the ``kyc-webhooks`` CLI say, one message, no traceback.
    Was: exit code 1 -- "a delivery failed", which a wrapper retrying on 1 retries for ever --
    from the system check's ``SystemCheckError``, and with ``--skip-checks`` an
    ``ImproperlyConfigured`` traceback (exit code 1)."""
    (tmp_path / "misconfigured_settings.py").write_text(
        "from django_app.settings import *  # noqa: F403\n"
        "KYC_WEBHOOKS = {'VENDORS': {'idenfy': {'signing_key': ''}}}\n",
        encoding="utf-8",
    )
    env = _env()
    env["DJANGO_SETTINGS_MODULE"] = "misconfigured_settings"
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env["PYTHONPATH"]])
    options = ["--skip-checks"] if skip_checks else []
    for args in (["stats"], ["process"]):
        result = subprocess.run(
            [sys.executable, "-m", "django", "kyc_webhooks", *options, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 2, result.stderr[-3000:]
        assert "Traceback" not in result.stderr
        assert "KYC_WEBHOOKS['VENDORS']['idenfy']: signing_key must not be empty" in result.stderr
