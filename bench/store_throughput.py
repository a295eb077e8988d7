"""Benchmark: sequential deliveries per second through ``receiver.handle()``, with and without a
store (docs/delivery-guarantees.md).

Run: ``python bench/store_throughput.py`` (``--quick`` for fewer deliveries, ``--dir`` to put the
SQLite file on a particular disk). Prints a table and exits 0; it asserts nothing.

Each row delivers N distinct signed iDenfy events (every one is new: store insert + claim, handler,
complete), then the same N again (every one a duplicate: one lookup, no handler).

* no store            -- ``kw.Receiver(kw.Idenfy(...))``
* MemoryStore         -- ``store=kw.MemoryStore()``
* SQLite (durable)    -- ``store=kw.SQLiteStore(path)``: WAL, ``synchronous=FULL`` (the default)
* SQLite (NORMAL)     -- ``store=kw.SQLiteStore(path, durable=False)``
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import kyc_webhooks as kw
from kyc_webhooks.testing import sign

KEY = "bench-signing-key"


def deliveries(count: int) -> list[tuple[bytes, dict[str, str]]]:
    return [
        sign(
            "idenfy",
            {
                "scanRef": f"scan-{n:06d}",
                "clientId": f"client-{n}",
                "final": True,
                "status": {"overall": "APPROVED", "autoDocument": "DOC_VALIDATED"},
                "data": {"docFirstName": "Jūratė", "docLastName": "Petrauskienė"},
            },
            KEY,
            event_type="IDENTIFICATION_AUTO_FINISHED",
        )
        for n in range(count)
    ]


def measure(
    make_store: Callable[[], kw.Store | None], items: list[tuple[bytes, dict[str, str]]]
) -> tuple[float, float]:
    store = make_store()
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
    handled = []
    receiver.on("idenfy")(lambda event: handled.append(1))
    receiver.handle(*deliveries(1)[0])  # warm-up: builds the model schema
    rates = []
    for _ in range(2):  # first pass: new events; second pass: duplicates (with a store)
        start = time.perf_counter()
        for body, headers in items:
            outcome = receiver.handle(body, headers)
            if not outcome.ok:
                raise SystemExit(f"unexpected outcome {outcome.status_code}: {outcome.error!r}")
        rates.append(len(items) / (time.perf_counter() - start))
    if store is not None:
        store.close()
    return rates[0], rates[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="300 deliveries instead of 3000")
    parser.add_argument("--dir", type=Path, default=None, help="directory for the SQLite files")
    args = parser.parse_args()
    count = 300 if args.quick else 3000
    items = deliveries(count)
    workdir = Path(tempfile.mkdtemp(dir=args.dir, prefix="kyc-bench-"))

    def sqlite(durable: bool) -> Callable[[], kw.Store]:
        def make() -> kw.Store:
            path = workdir / f"bench-{'full' if durable else 'normal'}-{os.getpid()}.db"
            return kw.SQLiteStore(path, durable=durable)

        return make

    rows: list[tuple[str, Callable[[], kw.Store | None]]] = [
        ("no store", lambda: None),
        ("MemoryStore", lambda: kw.MemoryStore()),
        ("SQLite (durable, FULL)", sqlite(True)),
        ("SQLite (durable=False, NORMAL)", sqlite(False)),
    ]
    print(f"{count} sequential deliveries per row; SQLite files in {workdir}")
    print(f"{'store':32} {'new events/s':>14} {'redeliveries/s':>16}")
    try:
        for name, make_store in rows:
            new, again = measure(make_store, items)
            print(f"{name:32} {new:14,.0f} {again:16,.0f}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
