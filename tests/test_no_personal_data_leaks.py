"""No personal value and no credential reaches a log line, an exception message or its chain, an
HTTP response, an ``Outcome``, a ``ProcessSummary``, a stored record's ``repr()``, CLI output or a
warning -- on every path a delivery can take.

Personal fields hold unique markers (``PII-MARKER-<n>``); secrets are ``SECRET-...`` strings and
DSN/broker passwords ``PWMARK``. Each test captures the root logger at DEBUG, formats every
exception with :func:`traceback.format_exception` (``__cause__``/``__context__`` chains included)
and searches everything for those strings.

Not covered here: identifiers the library shows on purpose (iDenfy ``scanRef``/``clientId``,
ComplyCube ids, Yoti session ids, event types and status codes), and ``HandlerError.__cause__``
(the integrator's own exception, kept on purpose for their code; never logged by the library).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import sys
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kyc_webhooks as kw
from _postgres import DSN, drop_schema, new_schema, require_postgres
from kyc_webhooks import cli, testing
from kyc_webhooks.contrib._common import off_the_loop
from kyc_webhooks.models import WebhookEvent

SECRETS: dict[str, str] = {
    "idenfy": "SECRET-KEY-idenfy-0001",
    "complycube": "SECRET-KEY-complycube-0002",
    "yoti": "SECRET-user:SECRET-pass-0003",
    "identomat": "SECRET-KEY-identomat-0004",
}
#: Strings that must appear nowhere: a personal marker's prefix, the secrets, passwords.
FORBIDDEN: tuple[str, ...] = ("PII-MARKER", "SECRET-", "PWMARK")

#: Personal fields of one sample per vendor (wire paths), each set to its own marker.
PERSONAL: dict[str, tuple[str, dict[str, Any]]] = {
    "idenfy": (
        "IDENTIFICATION_AUTO_FINISHED",
        {
            "data__docFirstName": "PII-MARKER-first-name",
            "data__docLastName": "PII-MARKER-last-name",
            "data__docNumber": "PII-MARKER-doc-number",
            "data__docPersonalCode": "PII-MARKER-personal-code",
            "data__docDob": "PII-MARKER-dob",
            "data__address": "PII-MARKER-address",
            "data__birthPlace": "PII-MARKER-birth-place",
            "data__fullName": "PII-MARKER-full-name",
            "fileUrls__FRONT": "https://files.example/PII-MARKER-file-url",
        },
    ),
    "complycube": ("client.created", {}),
    "yoti": ("session_completion", {}),
    "identomat": (
        "one-time-password-request",
        {
            "text": "Your code is PII-MARKER-otp",
            "phoneNumber": "PII-MARKER-phone",
            "sessionId": "PII-MARKER-session-token",
        },
    ),
}


def leaks(*texts: str) -> list[str]:
    joined = "\n".join(texts)
    found = []
    for marker in FORBIDDEN:
        at = joined.find(marker)
        if at >= 0:
            found.append(joined[max(0, at - 160) : at + 60])
    return found


def formatted(exc: BaseException | None) -> str:
    """The traceback Python would print for ``exc``, its chain included."""
    return "" if exc is None else "".join(traceback.format_exception(exc))


def outcome_text(outcome: kw.Outcome) -> str:
    """Everything an ``Outcome`` shows. A ``HandlerError``'s ``__cause__`` is the handler's own
    exception, kept for the integrator's code on purpose: its message and repr are checked."""
    error = outcome.error
    if error is None:
        shown = ""
    elif isinstance(error, kw.HandlerError):
        shown = f"{error.message} {error!r} {error!s}"
    else:
        shown = formatted(error) + error.message
    return "\n".join([repr(outcome), str(outcome), json.dumps(outcome.response_body()), shown])


def event_sinks(event: WebhookEvent) -> str:
    """``repr``/``str`` of an event and its decision, and the errors of its sections."""
    parts = [repr(event), str(event)]
    try:
        event.validate_sections()
    except Exception as exc:
        parts.append(formatted(exc))
    try:
        decision = event.decision
    except Exception as exc:
        parts.append(formatted(exc))
    else:
        parts.append(repr(decision))
    return "\n".join(parts)


def personal_payload(vendor: str) -> tuple[str, dict[str, Any]]:
    event_type, overrides = PERSONAL[vendor]
    payload = testing.sample_payload(vendor, event_type, **overrides)
    if vendor == "complycube":
        details = payload["payload"]
        for name in ("entityName", "email", "mobile", "telephone"):
            if name in details:
                details[name] = f"PII-MARKER-cc-{name}"
    return event_type, payload


def signed(vendor: str, payload: dict[str, Any] | bytes, event_type: str) -> testing.Delivery:
    if vendor == "identomat" and isinstance(payload, bytes):
        # Its key is inside the body: altered bytes keep the one already there (if any).
        return testing.Delivery(payload, {"Content-Type": "application/json"})
    body, headers = testing.sign(
        vendor, payload, SECRETS[vendor], event_type=event_type if vendor == "idenfy" else None
    )
    return testing.Delivery(body, headers)


def receiver(**options: Any) -> kw.Receiver:
    return kw.Receiver(*testing.make_vendors(SECRETS), **options)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)  # the root logger, every library's lines
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caplog
    assert leaks(*(str(w.message) for w in caught)) == []


# -- every field of every sample, mutated -------------------------------------------------------


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, (*path, index))
    if path:
        yield path


def _set(payload: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    node: Any = payload
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value


#: Fields whose values a log line shows on purpose: the event type and the references that make
#: up delivery keys (iDenfy ``scanRef``, ComplyCube and iDenfy ``id``s, Yoti ``session_id``).
SHOWN_BY_DESIGN = frozenset(
    {"type", "topic", "scanRef", "id", "session_id", "monitoringId", "companyId"}
)

#: Wrong values for a field: another type, a nested object, a list, an object keyed by the value,
#: a lone surrogate, a list too long, a union of shapes.
MUTATIONS = (
    lambda m: m,
    lambda m: {"x": m, m: [m]},
    lambda m: [m, {"y": m}],
    lambda m: m + "\udcff",
    lambda m: [m] * 300,
    lambda m: {"a": [m], "b": {"c": m}},
)


@pytest.mark.parametrize("vendor", list(SECRETS))
def test_no_field_value_reaches_a_log_an_error_or_a_response(
    vendor: str, logs: pytest.LogCaptureFixture
) -> None:
    """Every field of every sample of ``vendor``, replaced by each of :data:`MUTATIONS` of a
    marker: whatever the receiver answers (200, 400 ...), the marker is in no log line, no
    response body, no error message or traceback. (Event ``repr()`` shows non-personal fields on
    purpose: the personal ones are checked in the next test.)"""
    recv = receiver()
    count = 0
    for event_type in testing.event_types(vendor):
        base = testing.sample_payload(vendor, event_type)
        for path in list(_leaves(base)):
            if path[-1] in SHOWN_BY_DESIGN:
                continue
            for mutate in MUTATIONS:
                count += 1
                marker = f"PII-MARKER-{count}"
                payload = copy.deepcopy(base)
                _set(payload, path, mutate(marker))
                logs.clear()
                outcome = recv.handle(*signed(vendor, payload, event_type))
                texts = [json.dumps(outcome.response_body()), logs.text]
                if not outcome.ok:
                    texts.append(outcome_text(outcome))
                if marker in "".join(texts):
                    pytest.fail(f"{vendor} {event_type} {path}: {leaks(*texts)}")


@pytest.mark.parametrize("vendor", list(SECRETS))
def test_personal_fields_are_masked_in_every_representation(
    vendor: str, logs: pytest.LogCaptureFixture
) -> None:
    event_type, payload = personal_payload(vendor)
    recv = receiver()
    delivery = signed(vendor, payload, event_type)
    outcome = recv.handle(*delivery)
    assert outcome.ok, outcome
    assert outcome.event is not None
    event = recv.parse(*delivery)
    assert leaks(outcome_text(outcome), event_sinks(event), logs.text) == []


# -- rejected deliveries ---------------------------------------------------------------------


def _rejections() -> Iterator[tuple[str, str, bytes, dict[str, str]]]:
    for vendor in SECRETS:
        event_type, payload = personal_payload(vendor)
        body, headers = signed(vendor, payload, event_type)
        yield vendor, "bad signature", *testing.tamper((body, headers))
        wrong = testing.sign(vendor, payload, "SECRET-wrong-guess", event_type=event_type)
        yield vendor, "wrong secret", wrong[0], wrong[1]
        yield vendor, "oversized", body + b" " * 2_000_000, headers
        latin1 = body.replace(b"PII-MARKER", "PII-MARKER-\u00e9".encode("latin-1"), 1)
        yield vendor, "not UTF-8", *signed(vendor, latin1, event_type)
        broken = body.replace(b'"PII-MARKER', b"PII-MARKER", 1).replace(b"}", b"PII-MARKER}", 1)
        yield vendor, "invalid JSON near the values", *signed(vendor, broken, event_type)
        cut = body[: body.find(b"PII-MARKER") + 14]
        yield vendor, "truncated inside a value", *signed(vendor, cut, event_type)
        surrogate = body.replace(b"PII-MARKER", b"PII-MARKER\\udcff", 1)
        yield vendor, "lone surrogate", *signed(vendor, surrogate, event_type)
        yield vendor, "not an object", *signed(vendor, b'["PII-MARKER-array"]', event_type)
        yield vendor, "unknown header only", body, {"X-Unknown": "PII-MARKER-header"}
        bearer = {**headers, "Authorization": "Bearer SECRET-presented-token"}
        yield vendor, "foreign credential header", body, bearer


REJECTIONS = list(_rejections())


@pytest.mark.parametrize(
    ("vendor", "case", "body", "headers"),
    REJECTIONS,
    ids=[f"{vendor}-{case}" for vendor, case, _, _ in REJECTIONS],
)
def test_a_rejected_delivery_quotes_nothing(
    vendor: str, case: str, body: bytes, headers: dict[str, str], logs: pytest.LogCaptureFixture
) -> None:
    recv = receiver()
    outcome = recv.handle(body, headers)
    texts = [outcome_text(outcome), logs.text]
    if outcome.event is not None:
        texts.append(event_sinks(outcome.event))
    try:
        recv.parse(body, headers, vendor=vendor)
    except kw.DeliveryError as exc:
        texts.append(formatted(exc))
    assert leaks(*texts) == []


# -- handlers that fail quoting personal data --------------------------------------------------


def _failing(event: Any) -> None:
    try:
        raise KeyError(event.data.doc_number)
    except KeyError:
        raise ValueError(f"bad person {event.data.doc_first_name}") from None


async def _failing_async(event: Any) -> None:
    try:
        raise LookupError(event.data.doc_number)
    except LookupError as exc:
        raise RuntimeError(f"bad person {event.data.doc_first_name}") from exc


STORES = ("none", "memory", "sqlite", "postgres")


@contextlib.contextmanager
def made_store(kind: str, tmp_path: Path) -> Iterator[kw.store.Store | None]:
    if kind == "none":
        yield None
    elif kind == "memory":
        yield kw.MemoryStore()
    elif kind == "sqlite":
        sqlite = kw.SQLiteStore(tmp_path / "inbox.sqlite3")
        try:
            yield sqlite
        finally:
            sqlite.close()
    else:
        require_postgres()
        from kyc_webhooks.store.postgres import PostgresStore

        schema = new_schema()
        postgres = PostgresStore(DSN, schema=schema)
        try:
            yield postgres
        finally:
            postgres.close()
            drop_schema(schema)


def _records(store: Any) -> str:
    return "\n".join(repr(record) for record in store.deliveries())


@pytest.mark.parametrize("kind", STORES)
@pytest.mark.parametrize("defer", [False, True], ids=["at-once", "deferred"])
def test_a_failing_handler_is_logged_by_class_only(
    kind: str, defer: bool, tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    if kind == "none" and defer:
        pytest.skip("defer needs a store")
    event_type, payload = personal_payload("idenfy")
    with made_store(kind, tmp_path) as store:
        recv = receiver(store=store, defer=defer)
        recv.on("idenfy", "*")(_failing)
        texts = [outcome_text(recv.handle(*signed("idenfy", payload, event_type)))]
        if store is not None:
            summary = recv.process_pending()
            texts += [repr(summary), str(summary), _records(store)]
            for record in store.deliveries():
                texts.append(outcome_text(recv.replay(record.id)))
                texts.append(str(record.last_error_message))
            texts.append(_records(store))
        assert "ValueError" in logs.text  # the class is logged
        assert leaks(*texts, logs.text) == []


@pytest.mark.parametrize("kind", ["none", "sqlite"])
def test_a_failing_async_handler_is_logged_by_class_only(
    kind: str, tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    event_type, payload = personal_payload("idenfy")
    with made_store(kind, tmp_path) as store:
        recv = receiver(store=store)
        recv.on("idenfy", "*")(_failing_async)
        outcome = asyncio.run(recv.handle_async(*signed("idenfy", payload, event_type)))
        assert outcome.status_code == 500
        assert "RuntimeError" in logs.text
        assert leaks(outcome_text(outcome), logs.text) == []


def test_a_handler_reading_a_malformed_section_answers_400_naming_fields_only(
    logs: pytest.LogCaptureFixture,
) -> None:
    payload = testing.sample_payload("idenfy", "IDENTIFICATION_AUTO_FINISHED")
    payload["data"]["docFirstName"] = ["PII-MARKER-in-a-list"]
    payload["data"]["docDob"] = {"PII-MARKER-key": "PII-MARKER-dob"}
    payload["fileUrls"] = {"PII-MARKER-map-key": ["PII-MARKER-url"]}
    recv = receiver()
    recv.on("idenfy", "*")(lambda event: (event.data, event.file_urls))
    outcome = recv.handle(*signed("idenfy", payload, "IDENTIFICATION_AUTO_FINISHED"))
    assert outcome.status_code == 400
    assert leaks(outcome_text(outcome), logs.text) == []


# -- store failures ------------------------------------------------------------------------------


def test_a_corrupt_sqlite_file_quotes_nothing_of_it(
    tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "corrupt.sqlite3"
    path.write_bytes(b"SQLite format 3\x00" + b"PII-MARKER-in-the-file " * 400)
    texts = []
    try:
        store = kw.SQLiteStore(path)
        recv = receiver(store=store)
        event_type, payload = personal_payload("idenfy")
        texts.append(outcome_text(recv.handle(*signed("idenfy", payload, event_type))))
        recv.process_pending()
    except kw.WebhookError as exc:
        texts.append(formatted(exc))
    assert leaks(*texts, logs.text) == []


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://app:PWMARK-secret@127.0.0.1:1/app",
        "postgresql://app:PWMARK%40secret@127.0.0.1:1/app?sslmode=disable",
        "host=127.0.0.1 port=1 user=app password=PWMARK-secret dbname=app",
    ],
)
def test_a_dead_postgres_never_shows_the_password(dsn: str, logs: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("psycopg")
    from kyc_webhooks.store.postgres import PostgresStore

    store = PostgresStore(dsn, timeout=0.5)
    texts = [repr(store), str(store)]
    try:
        recv = receiver(store=store)
        event_type, payload = personal_payload("idenfy")
        outcome = recv.handle(*signed("idenfy", payload, event_type))
        assert outcome.status_code == 503
        texts.append(outcome_text(outcome))
        with pytest.raises(kw.StoreError) as raised:
            recv.process_pending()
        texts.append(formatted(raised.value))
    finally:
        store.close()
    assert leaks(*texts, logs.text) == []


# -- queue hand-off ------------------------------------------------------------------------------


class BrokerDown(ConnectionError):
    pass


def _publish(delivery_id: str) -> None:
    raise BrokerDown(
        f"cannot publish {delivery_id} to amqp://guest:PWMARK-broker@127.0.0.1:5672// "
        "(redis://:PWMARK-redis@127.0.0.1:6379/0)"
    )


def test_a_failed_queue_hand_off_names_the_class_only(logs: pytest.LogCaptureFixture) -> None:
    """What contrib.celery and contrib.dramatiq install as ``on_deferred`` (``off_the_loop`` of
    their publish), its broker refusing: under ``handle`` and under ``handle_async``."""
    recv = receiver(store=kw.MemoryStore(), defer=True)
    recv.on_deferred = off_the_loop(_publish)
    event_type, payload = personal_payload("idenfy")
    first = recv.handle(*signed("idenfy", payload, event_type))
    payload["clientId"] = "another"
    second = asyncio.run(recv.handle_async(*signed("idenfy", payload, event_type)))
    assert (first.status_code, second.status_code) == (202, 202)
    assert logs.text.count("BrokerDown") >= 2
    assert leaks(outcome_text(first), outcome_text(second), logs.text) == []


# -- the command line ----------------------------------------------------------------------------


APP = """
import os

import kyc_webhooks as kw

receiver = kw.Receiver(
    kw.Idenfy(signing_key=os.environ["KYC_LEAK_KEY"]),
    store=kw.SQLiteStore(os.environ["KYC_LEAK_INBOX"]),
)


@receiver.on("idenfy", "*")
def fail(event):
    raise RuntimeError(f"cannot onboard {event.data.doc_first_name} {event.data.doc_number}")
"""


def _cli(capsys: pytest.CaptureFixture[str], logs: pytest.LogCaptureFixture, *argv: str) -> str:
    logs.clear()
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return f"exit {code}\n{captured.out}\n{captured.err}\n{logs.text}"


def test_cli_commands_print_nothing_personal(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    logs: pytest.LogCaptureFixture,
) -> None:
    key = SECRETS["idenfy"]
    inbox = tmp_path / "inbox.sqlite3"
    (tmp_path / "leak_app.py").write_text(APP)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("KYC_LEAK_KEY", key)
    monkeypatch.setenv("KYC_LEAK_INBOX", str(inbox))
    monkeypatch.setenv("KYC_WEBHOOKS_INBOX", str(inbox))
    for name in ("IDENFY_SIGNING_KEY", "KYC_WEBHOOKS_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    sys.modules.pop("leak_app", None)

    event_type, payload = personal_payload("idenfy")
    body, headers = signed("idenfy", payload, event_type)
    (tmp_path / "body.json").write_bytes(body)
    (tmp_path / "headers.json").write_text(json.dumps(headers))
    invalid = copy.deepcopy(payload)
    invalid["final"] = "PII-MARKER-final"
    invalid["data"]["docLastName"] = ["PII-MARKER-list"]
    bad_body, bad_headers = signed("idenfy", invalid, event_type)
    (tmp_path / "invalid.json").write_bytes(bad_body)
    (tmp_path / "invalid-headers.json").write_text(json.dumps(bad_headers))
    broken_body, broken_headers = signed("idenfy", body.replace(b'"PII', b"PII", 1), event_type)
    (tmp_path / "broken.json").write_bytes(broken_body)
    (tmp_path / "broken-headers.json").write_text(json.dumps(broken_headers))

    store = kw.SQLiteStore(inbox)
    recv = kw.Receiver(kw.Idenfy(signing_key=key), store=store, defer=True)
    stored = recv.handle(body, headers).delivery_id
    assert stored is not None
    recv.handle(bad_body, bad_headers)
    store.close()

    secret = ("--vendor", "idenfy", "--secret", key)
    runs = [
        ("verify", "body.json", "--headers", "headers.json", *secret),
        ("verify", "body.json", "--headers", "headers.json", *secret, "--json"),
        (
            "verify",
            "body.json",
            "--headers",
            "headers.json",
            "--vendor",
            "idenfy",
            "--secret",
            "SECRET-wrong",
        ),
        ("verify", "invalid.json", "--headers", "invalid-headers.json", *secret),
        ("verify", "invalid.json", "--headers", "invalid-headers.json", *secret, "--json"),
        ("verify", "broken.json", "--headers", "broken-headers.json", *secret),
        ("verify", "body.json", "--headers", "headers.json", *secret, "--max-body-size", "10"),
        ("inbox", "list"),
        ("inbox", "list", "--json"),
        ("inbox", "show", stored[:8]),
        ("inbox", "show", stored[:8], "--json"),
        ("inbox", "stats", "--json"),
        ("inbox", "replay", stored[:8], "--app", "leak_app:receiver"),
        ("process", "--app", "leak_app:receiver"),
        ("inbox", "replay", "--state", "failed", "--app", "leak_app:receiver", "--json"),
        ("inbox", "show", stored[:8]),
        ("inbox", "forget", "--client-ref", "PII-MARKER-client", "--dry-run"),
        ("inbox", "--inbox", "host=127.0.0.1 port=1 password=PWMARK-secret", "list"),
    ]
    for argv in runs:
        text = _cli(capsys, logs, *argv)
        assert leaks(text) == [], argv
    # The failing handler did run (its class is logged), through both commands.
    assert "RuntimeError" in _cli(
        capsys, logs, "inbox", "replay", stored[:8], "--app", "leak_app:receiver"
    )


# -- the framework adapters ----------------------------------------------------------------------


def _adapter_deliveries() -> list[tuple[bytes, dict[str, str]]]:
    event_type, payload = personal_payload("idenfy")
    good = signed("idenfy", payload, event_type)
    invalid = copy.deepcopy(payload)
    invalid["final"] = "PII-MARKER-final"
    return [
        good,  # the handler fails: 500
        signed("idenfy", invalid, event_type),  # 400
        testing.tamper(good),  # 401
        signed("idenfy", good.body.replace(b'"PII', b"PII", 1), event_type),  # not JSON
        (good.body + b" " * 2_000_000, good.headers),  # 413
    ]


def _adapter_receiver() -> kw.Receiver:
    recv = receiver()
    recv.on("idenfy", "*")(_failing)
    return recv


def test_flask_answers_and_logs_nothing_personal(logs: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("flask")
    from flask import Flask

    from kyc_webhooks.integrations.flask import webhook_blueprint

    app = Flask(__name__)
    app.register_blueprint(webhook_blueprint(_adapter_receiver()))
    client = app.test_client()
    for body, headers in _adapter_deliveries():
        response = client.post("/webhooks/idenfy", data=body, headers=headers)
        assert response.status_code >= 400
        assert leaks(response.get_data(as_text=True), str(response.headers), logs.text) == []


async def _asgi_posts(app: Any) -> list[tuple[int, str]]:
    import httpx

    answers = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for body, headers in _adapter_deliveries():
            response = await client.post("/webhooks/idenfy", content=body, headers=headers)
            answers.append((response.status_code, response.text + str(response.headers)))
    return answers


def test_asgi_answers_and_logs_nothing_personal(logs: pytest.LogCaptureFixture) -> None:
    from kyc_webhooks.integrations.asgi import WebhookApp

    for status, text in asyncio.run(
        _asgi_posts(WebhookApp(_adapter_receiver(), prefix="/webhooks"))
    ):
        assert status >= 400
        assert leaks(text) == []
    assert leaks(logs.text) == []


def test_fastapi_answers_and_logs_nothing_personal(logs: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("fastapi")
    from fastapi import FastAPI

    from kyc_webhooks.integrations.fastapi import webhook_router

    app = FastAPI()
    app.include_router(webhook_router(_adapter_receiver()))
    for status, text in asyncio.run(_asgi_posts(app)):
        assert status >= 400
        assert leaks(text) == []
    assert leaks(logs.text) == []


def test_the_leak_check_itself_sees_a_leak() -> None:
    """The oracle: a marker, a secret or a password anywhere is reported."""
    assert leaks("x PII-MARKER-1 y")
    assert leaks(SECRETS["yoti"])
    assert leaks("a:PWMARK@b")
    assert leaks("fine", "all clear") == []
