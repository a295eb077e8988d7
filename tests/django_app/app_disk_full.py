"""The app's views on a full disk: the project's SQLite database file on a small tmpfs of its
own, filled up with a filler file, deliveries posted to the app's URL (Django's test client).

* every answer is a 2xx only for a delivery that a fresh connection finds in the file afterwards
  (``pending`` with ``DEFER``, ``done`` without), and a 503 with ``Retry-After`` otherwise: no
  exception escapes the view, no traceback in a response;
* once the filler is deleted, the same process answers 2xx again (no restart);
* the delivery's personal data (a body-only field) never reaches a log record.

The test project runs in a process of its own (``django_app.settings`` with
``KYC_TEST_DJANGO_NAME`` on the tmpfs): this run's database stays where the suite put it.
That project always runs on SQLite, whatever database this run of the suite uses (the Django
suite must not skip: tests/test_django_app.py). Mounting needs root (CAP_SYS_ADMIN): the test
skips without it."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from _disk import small_tmpfs

HERE = Path(__file__).resolve().parent
MARKER = "BODYONLYMARKER"

#: The test project on the tmpfs: argv[1] the tmpfs, argv[2] "1" for DEFER. Prints one JSON
#: object: the answers by index (status, Retry-After, whether the body holds a traceback), the
#: number of handler runs, and whether the marker reached a log record.
PROJECT = r"""
import json, logging, os, sys
import django
from django.conf import settings

DISK, DEFER = sys.argv[1], sys.argv[2] == "1"
MARKER = os.environ["MARKER"]
records = []


class Keep(logging.Handler):
    def emit(self, record):
        records.append(self.format(record))


logging.getLogger().addHandler(Keep())
logging.getLogger().setLevel(logging.DEBUG)
django.setup()
settings.KYC_WEBHOOKS = {**settings.KYC_WEBHOOKS, "DEFER": DEFER}
from django.core.management import call_command
from django.test import Client

from kyc_webhooks.integrations.django import conf
from kyc_webhooks.testing import signed_delivery

call_command("migrate", verbosity=0)
conf.reset()
runs = []
conf.project_receiver().on("idenfy")(lambda event: runs.append(1))
ok = 202 if DEFER else 200


def post(index):
    body, headers = signed_delivery(
        "idenfy", "IDENTIFICATION_MANUAL_FINISHED", "idenfy-test-key",
        scanRef=f"scan-{index:05d}", clientId=f"client-{index:05d}",
        manualAddress=f"{MARKER}-{index:05d}",
    )
    extra = {k: v for k, v in dict(headers).items() if k.lower() != "content-type"}
    response = Client(raise_request_exception=True).post(
        "/webhooks/idenfy", data=body, content_type="application/json", headers=extra
    )
    return [response.status_code, response.get("Retry-After"), b"Traceback" in response.content]


def fill():
    stat = os.statvfs(DISK)
    wanted, written = stat.f_bavail * stat.f_frsize, 0
    with open(os.path.join(DISK, "filler"), "ab") as file:
        while written < wanted:
            try:
                file.write(b"\0" * 65536)
                file.flush()
            except OSError:
                break
            written += 65536


answers = {index: post(index) for index in range(3)}
fill()
refused = 0
for index in range(3, 60):
    answers[index] = post(index)
    if answers[index][0] != ok:
        refused += 1
        if refused == 3:
            break
os.unlink(os.path.join(DISK, "filler"))
answers[1000] = post(1000)
print(json.dumps({
    "answers": answers,
    "runs": len(runs),
    "logged": any(MARKER in record for record in records),
}))
"""


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs of its own, unmounted at teardown whatever happened."""
    with small_tmpfs(tmp_path) as point:
        yield point


@pytest.mark.parametrize("defer", [False, True], ids=["handled", "deferred"])
def test_a_full_disk_answers_503_stores_every_2xx_and_recovers(
    small_disk: Path, defer: bool
) -> None:
    database = small_disk / "project.sqlite3"
    env = {
        **os.environ,
        "KYC_TEST_DJANGO_DB": "sqlite",
        "KYC_TEST_DJANGO_NAME": str(database),
        "DJANGO_SETTINGS_MODULE": "django_app.settings",
        "MARKER": MARKER,
        "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")]),
    }
    run = subprocess.run(
        [sys.executable, "-c", PROJECT, str(small_disk), "1" if defer else "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    answers: dict[str, list[object]] = result["answers"]
    ok = 202 if defer else 200
    refused = [index for index, answer in answers.items() if answer[0] == 503]
    assert len(refused) == 3, answers  # the disk filled up: three refusals, then space returned
    for index, (status, retry_after, traceback) in answers.items():
        assert status in (ok, 503), (index, answers)
        assert not traceback, index
        if status == 503:
            assert retry_after is not None, index
    assert answers["1000"][0] == ok  # the same process, once there is room again
    assert not result["logged"]

    # Every 2xx is in the file, as a fresh connection reads it; no refused one is.
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as reader:
        stored = dict(reader.execute("SELECT delivery_key, state FROM kyc_webhooks_delivery"))
    found = {key.split(":")[1]: state for key, state in stored.items()}
    for index, (status, _, _) in answers.items():
        scan = f"scan-{int(index):05d}"
        if status == ok:
            assert found.get(scan) == ("pending" if defer else "done"), (index, found)
        else:
            assert scan not in found, index
    assert result["runs"] == (0 if defer else len(found))
