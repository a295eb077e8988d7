"""The exactly-once races of the PostgreSQL issue, on DjangoStore: worker *processes* (each its own
Django and connections) deliver through the project receiver into this run's test database --
SQLite (a real file) or PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from kyc_webhooks.integrations.django.models import Delivery

pytestmark = pytest.mark.django_db(transaction=True)
HERE = Path(__file__).resolve().parent
KEY = "idenfy-test-key"

WORKER = r"""
import json, os, sys, threading, time
import django
django.setup()
from django.db import connections
from kyc_webhooks.integrations.django import conf
from kyc_webhooks.testing import sign

receiver = conf.build_receiver(conf.read_settings())
log = os.environ["RACE_LOG"]

@receiver.on("idenfy")
def handler(event):
    with open(log, "a") as out:  # O_APPEND: one whole line per run, across processes
        out.write(f"{event.scan_ref} {os.getpid()}\n")

mode, threads, count, start = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
barrier = threading.Barrier(threads, timeout=60)
results = []
lock = threading.Lock()

def deliver(n):
    body, headers = sign("idenfy", {"scanRef": f"scan-{n:04d}", "final": True}, os.environ["KEY"],
                         event_type="IDENTIFICATION_MANUAL_FINISHED")
    answers = []
    for _ in range(400):  # bounded: a 503 in progress is retried, as a vendor would, after a pause
        outcome = receiver.handle(body, headers)
        answers.append([outcome.status_code, outcome.duplicate,
                        type(outcome.error).__name__ if outcome.error else None])
        if outcome.status_code != 503:
            break
        time.sleep(0.02)
    return answers

def work(index):
    try:
        barrier.wait()
        for n in (range(start, start + count) if mode == "distinct" else [0]):
            answers = deliver(n)
            with lock:
                results.append(answers)
    finally:
        connections.close_all()

pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
for t in pool: t.start()
for t in pool: t.join(timeout=120)
print("RESULTS " + json.dumps(results))
"""


def _race(tmp_path: Path, *, processes: int, threads: int, mode: str, count: int = 1) -> list[Any]:
    log = tmp_path / "handled.log"
    env = {
        **os.environ,
        "KEY": KEY,
        "RACE_LOG": str(log),
        "DJANGO_SETTINGS_MODULE": "django_app.settings",
        "KYC_TEST_DJANGO_NAME": str(connection.settings_dict["NAME"]),
        "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")]),
    }
    per = count // processes
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, mode, str(threads), str(per), str(i * per)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(processes)
    ]
    runs: list[Any] = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err[-3000:]
        line = next(x for x in out.splitlines() if x.startswith("RESULTS "))
        runs.extend(json.loads(line.removeprefix("RESULTS ")))
    return runs


def test_four_processes_by_four_threads_run_the_handler_exactly_once(tmp_path: Path) -> None:
    runs = _race(tmp_path, processes=4, threads=4, mode="same")
    assert len(runs) == 16
    lines = (tmp_path / "handled.log").read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["scan-0000"]
    answers = {(status, error) for run in runs for status, _, error in run}
    assert answers <= {(200, None), (503, "DeliveryInProgressError")}
    assert all(run[-1][0] == 200 for run in runs)  # every delivering thread got its 2xx
    assert sum(1 for run in runs if run[-1] == [200, False, None]) == 1  # others: duplicates
    row = Delivery.objects.get()
    assert (row.state, row.attempts) == ("done", 1)


def test_four_hundred_deliveries_across_four_processes_each_handled_once(tmp_path: Path) -> None:
    runs = _race(tmp_path, processes=4, threads=1, mode="distinct", count=400)
    assert len(runs) == 400
    assert all(run[-1][0] == 200 for run in runs)
    keys = [line.split()[0] for line in (tmp_path / "handled.log").read_text().splitlines()]
    assert sorted(keys) == [f"scan-{n:04d}" for n in range(400)]
    assert Delivery.objects.filter(state="done").count() == 400
    assert (
        len({line.split()[1] for line in (tmp_path / "handled.log").read_text().splitlines()}) > 1
    )
