"""Coverage-guided fuzzing of ``Receiver.handle`` with atheris (not a test: it asserts the
library's promises on every input and reports the first one broken).

Run, from a checkout, in a virtualenv of its own (atheris builds against the local clang)::

    python -m venv /tmp/venv-fuzz && /tmp/venv-fuzz/bin/pip install atheris pydantic
    PYTHONPATH=src /tmp/venv-fuzz/bin/python bench/fuzz_handle.py TARGET VENDOR \\
        -max_total_time=300 [CORPUS_DIR]

``VENDOR``: ``idenfy``, ``complycube``, ``yoti`` or ``identomat``. ``TARGET``:

* ``body``    -- a vector of ``tests/vectors/<vendor>/`` with one to four structural mutations
  (a hostile value at a random place: ``1e400``, a 5,000-digit number, ``NaN``, a lone surrogate
  escape, deep nesting, a very long string, out-of-range timestamps, wrong JSON types; a key
  deleted, renamed or duplicated), signed correctly so that the mutation reaches the models;
* ``headers`` -- a signed vector whose headers are mutated (values, duplicates, case, non-ASCII,
  bytes pairs, other vendors' headers);
* ``store``   -- ``body`` through a receiver with a MemoryStore or an SQLiteStore (a temporary
  file), ``defer`` on or off, then ``process_pending()`` and the event's decision looked up in
  ``receiver.decisions``.

Checked on every input: ``handle()`` raises nothing; an answer without the right credentials is
never 2xx; an error message holds no marker value of the mutations; an event that parsed gives
its decision, repr, pickle and section accessors (``PayloadError`` only) and dumps back to the
body (``tests/_lossless.py``) unless it is a duplicate of a stored one. libFuzzer's options
bound the run (``-max_total_time``, ``-runs``, ``-rss_limit_mb``).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import pickle
import sys
import tempfile
from pathlib import Path
from typing import Any

import kyc_webhooks as kw
from kyc_webhooks.errors import PayloadError, WebhookError
from kyc_webhooks.models import section_names
from kyc_webhooks.testing import make_vendors, sign

VECTORS = Path(__file__).resolve().parent.parent / "tests" / "vectors"
SECRETS = {"idenfy": "k-idenfy", "complycube": "k-cc", "yoti": "user:pass", "identomat": "k-ident"}
#: The header that carries each vendor's credential (Identomat's is a body field).
AUTH_HEADER = {"idenfy": "idenfy-signature", "complycube": "complycube-signature"}
AUTH_HEADER["yoti"] = "authorization"
MARK = "FUZZMARK"


def _atheris() -> Any:
    """atheris, imported on first use (it has no type information, and this module imports
    without it)."""
    return importlib.import_module("atheris")


class Raw:
    """JSON text written as is (what ``json.dumps`` cannot write: NaN, huge numbers, escapes)."""

    def __init__(self, text: str) -> None:
        self.text = text


HOSTILE: list[object] = [
    *(Raw(t) for t in ("1e400", "-1e400", "1" + "0" * 5000, "0." + "0" * 4000 + "1", "NaN")),
    *(Raw(t) for t in ("Infinity", "-0.0", '"\\ud800"', f'"{MARK}\\udcff"', '"\\u0000"')),
    Raw("[" * 5000 + "]" * 5000),
    Raw('{"a":' * 300 + "1" + "}" * 300),
    *(None, True, 0, -1, 1.5, 2**64, "", MARK * 3000, [], {}, [None], {MARK: MARK}),
    *(1e20, -(10**20), 253402300800, "9999-12-31T23:59:59+14:00", "0000-01-01T00:00:00Z"),
    *("2024-02-30T00:00:00Z", "2024-01-01T00:00:00+25:00", f"{MARK}-é-\u202e", "1700000000"),
]


def _seeds(vendor: str) -> list[tuple[bytes, dict[str, str]]]:
    cases = sorted(p for p in (VECTORS / vendor).iterdir() if (p / "body").is_file())
    return [
        ((p / "body").read_bytes(), json.loads((p / "headers.json").read_text())) for p in cases
    ]


class Pairs(list[tuple[str, object]]):
    """A JSON object as its pairs, in order: duplicate keys survive."""


def _dumps(value: object) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Pairs):
        return "{" + ",".join(json.dumps(k) + ":" + _dumps(v) for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_dumps(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _places(value: object, out: list[tuple[Pairs, int]]) -> None:
    """Every (object, index of a member) in ``value``, depth first, at most 2,000."""
    if len(out) >= 2000:
        return
    if isinstance(value, Pairs):
        for i, (_, child) in enumerate(value):
            out.append((value, i))
            _places(child, out)
    elif isinstance(value, list):
        for child in value:
            _places(child, out)


def mutate(fdp: Any, seed: bytes) -> bytes:
    """One to four structural mutations of the JSON body ``seed``."""
    try:
        root: object = json.loads(seed, object_pairs_hook=Pairs)
    except ValueError:
        root = Pairs()
    for _ in range(fdp.ConsumeIntInRange(1, 4)):
        places: list[tuple[Pairs, int]] = []
        _places(root, places)
        value = HOSTILE[fdp.ConsumeIntInRange(0, len(HOSTILE) - 1)]
        if isinstance(value, dict):
            value = Pairs(value.items())
        if not places:
            root = value
            continue
        pairs, i = places[fdp.ConsumeIntInRange(0, len(places) - 1)]
        key = pairs[i][0]
        action = fdp.ConsumeIntInRange(0, 4)
        if action <= 1:
            pairs[i] = (key, value)
        elif action == 2:
            del pairs[i]
        elif action == 3:  # a duplicate key: first or last
            pairs.insert(i + fdp.ConsumeIntInRange(0, 1), (key, value))
        else:
            pairs[i] = (fdp.PickValueInList([key.upper(), key + " ", "é" + key]), pairs[i][1])
    return _dumps(root).encode("utf-8", "backslashreplace")


class Harness:
    def __init__(self, target: str, vendor: str) -> None:
        self.target = target
        self.vendor = vendor
        self.seeds = _seeds(vendor)
        self.receivers = [kw.Receiver(*make_vendors(SECRETS))]
        if target == "store":
            db = Path(tempfile.mkdtemp(prefix="kyc-fuzz-")) / "fuzz.db"
            stores: list[kw.MemoryStore | kw.SQLiteStore] = [kw.MemoryStore(), kw.SQLiteStore(db)]
            self.receivers = [
                kw.Receiver(*make_vendors(SECRETS), store=s, defer=d)
                for s in stores
                for d in (False, True)
            ]
        for receiver in self.receivers:
            receiver.on("*")(lambda event: None)
            receiver.on_decision()(lambda decision: None)

    def signed(self, body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]] | None:
        event_type = headers.get("Idenfy-Event-Type", "IDENTIFICATION")
        try:
            return sign(self.vendor, body, SECRETS[self.vendor], event_type=event_type)
        except WebhookError:  # an Identomat body that is not a JSON object cannot be signed
            return None

    def __call__(self, data: bytes) -> None:
        fdp = _atheris().FuzzedDataProvider(data)
        seed, seed_headers = self.seeds[fdp.ConsumeIntInRange(0, len(self.seeds) - 1)]
        receiver = self.receivers[fdp.ConsumeIntInRange(0, len(self.receivers) - 1)]
        if self.target == "headers":
            signed = self.signed(seed, seed_headers)
            if signed is not None:
                self.headers(fdp, receiver, *signed)
            return
        signed = self.signed(mutate(fdp, seed), seed_headers)
        if signed is None:
            return
        outcome = receiver.handle(*signed)
        self.check(outcome, signed[0], authentic=True)
        if receiver.store is None:
            return
        receiver.process_pending(limit=5)
        decision = outcome.event.decision if outcome.event is not None else None
        if decision is not None:  # what the library gives back, handed to its ledger API
            receiver.decisions.latest(decision.vendor, decision.subject)
            receiver.decisions.deliveries(vendor=decision.vendor, subject=decision.subject)

    def headers(self, fdp: Any, receiver: kw.Receiver, body: bytes, good: dict[str, str]) -> None:
        pairs: list[tuple[str, str]] = list(good.items())
        for _ in range(fdp.ConsumeIntInRange(1, 4)):
            i = fdp.ConsumeIntInRange(0, max(0, len(pairs) - 1))
            action = fdp.ConsumeIntInRange(0, 4)
            text = fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 80))
            if action == 0 and pairs:
                pairs[i] = (pairs[i][0], text)
            elif action == 1 and pairs:
                pairs.append((pairs[i][0], text))
            elif action == 2 and pairs:
                pairs[i] = (pairs[i][0].swapcase(), pairs[i][1])
            elif action == 3 and pairs:
                del pairs[i]
            else:
                names = ["Idenfy-Signature", "ComplyCube-Signature", "Authorization", text]
                pairs.append((fdp.PickValueInList(names), text))
        auth = AUTH_HEADER.get(self.vendor)
        sent = {v.strip().lower() for k, v in pairs if k.lower() == auth}
        authentic = auth is None or any(v.strip().lower() in sent for v in good.values())
        raw = [
            (k.encode("utf-8", "surrogatepass"), v.encode("utf-8", "surrogatepass"))
            for k, v in pairs
        ]
        outcome = receiver.handle(body, raw if fdp.ConsumeBool() else pairs)
        self.check(outcome, body, authentic=authentic)

    def check(self, outcome: kw.Outcome, body: bytes, *, authentic: bool) -> None:
        if outcome.ok and not authentic:
            raise AssertionError(f"answered {outcome.status_code} without the credentials")
        if outcome.error is not None and MARK in str(outcome.error):
            raise AssertionError(f"a body value in an error message: {outcome.error}")
        json.dumps(outcome.response_body())
        event = outcome.event
        if event is None:
            return
        repr(event)
        repr(event.decision)
        pickle.loads(pickle.dumps(event))  # noqa: S301 -- the harness's own bytes
        for name in section_names(type(event)):
            with contextlib.suppress(PayloadError):
                getattr(event, name)
        if outcome.duplicate or (outcome.delivery_id is not None and self.vendor == "identomat"):
            return  # a duplicate is the stored body's event; a stored Identomat key is redacted
        dumped = json.loads(event.model_dump_json(by_alias=True, exclude_unset=True))
        text = json.dumps(dumped, sort_keys=True, ensure_ascii=False)
        if text != json.dumps(json.loads(body), sort_keys=True, ensure_ascii=False):
            raise AssertionError("the event does not dump back to its body")


def main() -> None:
    atheris = _atheris()
    target, vendor = sys.argv[1], sys.argv[2]
    if target not in ("body", "headers", "store") or vendor not in SECRETS:
        raise SystemExit(__doc__)
    logging.disable(logging.WARNING)  # every refused mutation would log a line
    harness = Harness(target, vendor)
    for receiver in harness.receivers:
        receiver.prepare()  # loads every model, then the coverage instrumentation sees them
    atheris.instrument_all()
    atheris.Setup([sys.argv[0], *sys.argv[3:]], harness)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
