"""``kyc-webhooks demo``: start the receiver on a free loopback port with throwaway secrets and a
temporary SQLite inbox, send a signed sample of every event type of every vendor, a tampered
delivery and a duplicate, print what happened to each, and shut down."""

from __future__ import annotations

import argparse
import contextlib
import logging
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import kyc_webhooks as kw
from kyc_webhooks import testing

from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    LOOPBACK,
    PROG,
    CliError,
    counted,
    epilog,
    out,
    seconds,
    signals_raise,
    table,
)
from ._http import Response, post
from ._server import Server, asgi_app, bind, logging_to_stderr, require_uvicorn
from ._stores import open_store

if TYPE_CHECKING:
    from kyc_webhooks import WebhookEvent
    from kyc_webhooks.store import Store


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Start the receiver (ASGI adapter under uvicorn) on a free loopback port with "
        "throwaway secrets and a temporary SQLite inbox; send a signed sample of every "
        "event type of every vendor, a tampered delivery and a duplicate; print what "
        "happened to each; shut down. Exit 0 only when every outcome is the expected one."
    )
    parser.epilog = epilog(
        f"{PROG} demo",
        f"{PROG} demo --vendor yoti --vendor identomat",
        f"{PROG} demo --keep-inbox ./demo.sqlite3 && {PROG} inbox --inbox ./demo.sqlite3 list",
    )
    parser.add_argument(
        "--vendor", action="append", choices=testing.generate_secrets(), help="only these vendors"
    )
    parser.add_argument(
        "--keep-inbox", metavar="PATH", help="write the inbox to PATH instead of a temporary file"
    )
    parser.add_argument(
        "--timeout", type=seconds, default=10.0, metavar="S", help="per request (10)"
    )


@dataclass
class _DemoStep:
    vendor: str
    label: str
    delivery: testing.Delivery
    expected: str  # handled | duplicate | rejected
    status: int = 0
    result: str = ""


def _result(response: Response) -> str:
    if 200 <= response.status < 300:
        return "duplicate" if response.body.get("duplicate") else "handled"
    return "rejected" if response.status < 500 else "failed"


def _demo_steps(vendors: Sequence[str], secrets: Mapping[str, str]) -> list[_DemoStep]:
    steps = [
        _DemoStep(
            vendor,
            event_type,
            testing.signed_delivery(vendor, event_type, secrets[vendor]),
            "handled",
        )
        for vendor in vendors
        for event_type in testing.event_types(vendor)
    ]
    # An attacker's edit after signing: only vendors that sign the body can notice it.
    signer = next((v for v in ("idenfy", "complycube") if v in vendors), None)
    if signer is not None:
        first = next(step for step in steps if step.vendor == signer)
        steps.append(
            _DemoStep(
                signer,
                f"{first.label} (body changed after signing)",
                testing.tamper(first.delivery),
                "rejected",
            )
        )
    else:
        first = steps[0]
        wrong = dict(secrets)
        wrong[first.vendor] = wrong[first.vendor] + "-wrong"
        steps.append(
            _DemoStep(
                first.vendor,
                f"{first.label} (wrong credential)",
                testing.signed_delivery(first.vendor, first.label, wrong[first.vendor]),
                "rejected",
            )
        )
    # A vendor's retry: the very same bytes again must not run the handlers twice.
    again = steps[0]
    steps.append(
        _DemoStep(again.vendor, f"{again.label} (sent again)", again.delivery, "duplicate")
    )
    return steps


def run(args: argparse.Namespace) -> int:
    require_uvicorn()
    started = time.monotonic()
    secrets = testing.generate_secrets()  # the vendors the testing toolkit can sign for
    vendors = [v for v in secrets if not args.vendor or v in args.vendor]
    # A SIGTERM ends the demo through the cleanup below: the temporary inbox goes (review R53).
    with signals_raise(), tempfile.TemporaryDirectory(prefix="kyc-webhooks-demo-") as tmp:
        path = args.keep_inbox or str(Path(tmp) / "inbox.sqlite3")
        if args.keep_inbox and Path(path).exists():
            raise CliError(f"{path} exists already; pick a new --keep-inbox path")
        store = open_store(path, "inbox")
        try:
            return _run_demo(args, vendors, secrets, store, path, started)
        finally:
            with contextlib.suppress(Exception):
                store.close()


def _run_demo(
    args: argparse.Namespace,
    vendors: Sequence[str],
    secrets: Mapping[str, str],
    store: Store,
    path: str,
    started: float,
) -> int:
    receiver = kw.Receiver(*testing.make_vendors({v: secrets[v] for v in vendors}), store=store)
    runs: dict[str, int] = {}
    lock = threading.Lock()

    @receiver.on("*", "*")
    def count(event: WebhookEvent) -> None:
        with lock:
            runs[event.delivery_key] = runs.get(event.delivery_key, 0) + 1

    subjects: dict[tuple[str, str], None] = {}
    changes: list[kw.Decision] = []

    @receiver.on_decision()
    def decided(decision: kw.Decision) -> None:
        with lock:
            subjects.setdefault((decision.vendor, decision.subject), None)
            changes.append(decision)

    steps = _demo_steps(vendors, secrets)
    sock = bind(LOOPBACK, 0)
    server = Server(asgi_app(receiver), sock)
    # The table below tells the story: no log lines (the tampered delivery's warning included).
    with logging_to_stderr(logging.CRITICAL):
        server.start()
        try:
            base = server.url
            out(f"{PROG} demo: receiver on {base}/<vendor> (ASGI adapter under uvicorn)")
            out(f"  vendors: {', '.join(vendors)} with throwaway secrets; inbox: {path}")
            out("")
            for step in steps:
                response = post(f"{base}/{step.vendor}", *step.delivery, timeout=args.timeout)
                step.status, step.result = response.status, _result(response)
        finally:
            server.stop()
    rows = [
        (
            step.vendor,
            step.label,
            str(step.status),
            step.result,
            "ok" if step.result == step.expected else f"UNEXPECTED (wanted {step.expected})",
        )
        for step in steps
    ]
    for line in table(rows, ("VENDOR", "EVENT TYPE", "HTTP", "OUTCOME", "CHECK")):
        out(line)
    out("")
    problems = [step for step in steps if step.result != step.expected]
    stats = store.stats()
    per_vendor = {v: store.count(vendor=v) for v in vendors}
    distinct = sum(1 for step in steps if step.expected == "handled")
    out(
        f"inbox: {stats.get('total', 0)} deliveries stored ("
        + ", ".join(f"{k} {v}" for k, v in stats.items() if k != "total" and v)
        + "); "
        + ", ".join(f"{v} {n}" for v, n in per_vendor.items())
    )
    twice = sorted(key for key, n in runs.items() if n != 1)
    out(
        f"handlers: ran {sum(runs.values())} times for {len(runs)} distinct deliveries"
        + ("; none twice" if not twice else f"; {len(twice)} ran more than once")
    )
    effective = [
        (vendor, subject, receiver.decisions.latest(vendor, subject))
        for vendor, subject in subjects
    ]
    out("")

    out(
        f"effective decisions: {counted(len(effective), 'verification')} "
        f"({counted(len(changes), 'change')}; stale and repeated verdicts changed nothing)"
    )
    decision_rows = [
        (
            vendor,
            # Identomat's session id is the applicant's session token: never printed.
            "<redacted>" if vendor == "identomat" else subject,
            d.status.value if d is not None else "-",
            ("final" if d.final else "not final") if d is not None else "-",
        )
        for vendor, subject, d in effective
    ]
    for line in table(decision_rows, ("VENDOR", "SUBJECT", "DECISION", "")):
        out(line)
    out("")
    checks_ok = (
        not problems
        and not twice
        and len(runs) == distinct
        and stats.get("total", 0) == distinct
        and all(d is not None for _, _, d in effective)
    )
    elapsed = time.monotonic() - started
    if checks_ok:
        out(f"demo passed: {len(steps)} deliveries, every outcome as expected ({elapsed:.1f} s)")
        return EXIT_OK
    out(
        f"demo FAILED: {len(problems)} unexpected outcomes; "
        f"{distinct} distinct deliveries sent, {len(runs)} handled, "
        f"{stats.get('total', 0)} stored"
    )
    return EXIT_FAILED
