"""What mypy --strict tells a user of the library (review 16): each snippet is a user's module,
checked as tests/test_typing.py does; the errors are matched by the line they are reported on."""

from __future__ import annotations

from pathlib import Path

import pytest

from _mypy import run_mypy

pytest.importorskip("mypy.api")


def check(tmp_path: Path, snippet: str, name: str) -> tuple[dict[int, str], str]:
    """mypy's errors on ``snippet`` by line number (one line each, joined), and its whole output."""
    source = tmp_path / f"{name}.py"
    source.write_text(snippet, encoding="utf-8")
    out, err, _ = run_mypy(source)
    errors: dict[int, str] = {}
    for line in out.splitlines():
        where, _, rest = line.partition(": ")
        path, _, number = where.rpartition(":")
        if Path(path).name == source.name and rest.startswith(("error:", "note:")):
            errors[int(number)] = errors.get(int(number), "") + rest + "\n"
    return errors, out + err


def errors_only(found: dict[int, str]) -> dict[int, str]:
    return {number: text for number, text in found.items() if "error:" in text}


# -- 1. on() takes a handler that can be called with one event -------------------------------

ARITY = """\
import kyc_webhooks as kw
from kyc_webhooks.idenfy import IdentificationEvent
from kyc_webhooks.routing import Router
from kyc_webhooks.testing import WebhookTester

receiver = kw.Receiver(kw.Idenfy(signing_key="k"))
router = Router()
tester = WebhookTester()

@receiver.on("idenfy", "IDENTIFICATION_*")
def no_parameter() -> None: ...

@router.on("idenfy")
def extra_parameter(event: kw.WebhookEvent, db: str) -> None: ...

@tester.on("idenfy")
def keyword_only(*, event: kw.WebhookEvent) -> None: ...

@receiver.on("idenfy")
def typed(event: IdentificationEvent) -> None: ...

@router.on()
async def asynchronous(event: kw.WebhookEvent) -> None: ...

@tester.on()
def with_default(event: kw.WebhookEvent, retries: int = 3) -> int:
    return retries

seen: list[kw.WebhookEvent] = []
tester.on("idenfy")(seen.append)
receiver.on()(print)
reveal_type(typed)
"""


def test_on_refuses_handlers_that_cannot_take_one_event(tmp_path: Path) -> None:
    found, out = check(tmp_path, ARITY, "arity")
    errors = errors_only(found)
    # The decorator lines of no_parameter, extra_parameter and keyword_only; nothing else.
    assert sorted(errors) == [10, 13, 16], out
    assert all('type variable "H"' in text for text in errors.values()), out
    # The decorator still returns the function unchanged.
    assert "def (event: kyc_webhooks.idenfy._identification.IdentificationEvent)" in found[32], out


# -- 2. the Django app's receiver is a Receiver ------------------------------------------------

DJANGO = """\
from kyc_webhooks.integrations.django import receiver
from kyc_webhooks.complycube import CheckEvent
from kyc_webhooks.idenfy import IdentificationEvent

reveal_type(receiver)

@receiver.on_event(IdentificationEvent)
def on_result(event: IdentificationEvent) -> None: ...

@receiver.on_event(IdentificationEvent)
def wrong_model(event: CheckEvent) -> None: ...
"""


def test_the_django_receiver_is_typed(tmp_path: Path) -> None:
    pytest.importorskip("django")
    found, out = check(tmp_path, DJANGO, "django_handlers")
    assert 'Revealed type is "kyc_webhooks.receiver.Receiver"' in found[5], out
    errors = errors_only(found)
    assert sorted(errors) == [10], out  # the decorator line of wrong_model, and only it
    assert "CheckEvent" in errors[10], out


# -- 3. a misspelt public name is an error, not Any --------------------------------------------

MISSPELT = """\
from __future__ import annotations

import kyc_webhooks as kw
from kyc_webhooks import idenfy

def on_result(event: idenfy.IdentificatonEvent) -> None: ...

def on_decision(decision: kw.Desicion) -> None: ...

def answer(outcome: kw.Outcom) -> None:
    print(outcome.status_code)

reveal_type(kw.testing.WebhookTester)
reveal_type(kw.integrations)
reveal_type(kw.identomat.SessionChangeEvent)
reveal_type(kw.store.MemoryStore)
reveal_type(kw.complycube.NoSuchModel)
"""


def test_a_misspelt_public_name_is_an_error(tmp_path: Path) -> None:
    found, out = check(tmp_path, MISSPELT, "misspelt")
    errors = errors_only(found)
    assert sorted(errors) == [6, 8, 10, 17], out
    assert "IdentificatonEvent" in errors[6], out
    assert "Desicion" in errors[8], out
    assert "Outcom" in errors[10], out
    assert "NoSuchModel" in errors[17], out
    assert "kyc_webhooks.testing._tester.WebhookTester" in found[13], out
    assert 'Revealed type is "types.ModuleType"' in found[14], out
    assert "kyc_webhooks.identomat.models.SessionChangeEvent" in found[15], out
    assert "kyc_webhooks.store.memory.MemoryStore" in found[16], out


# -- 5. on_event() keeps the handler's return type ---------------------------------------------

ON_EVENT = """\
import kyc_webhooks as kw
from kyc_webhooks.identomat import SessionChangeEvent
from kyc_webhooks.routing import Router
from kyc_webhooks.testing import WebhookTester

receiver = kw.Receiver(kw.Identomat(api_key="k"))

@receiver.on_event(SessionChangeEvent)
async def on_session(event: SessionChangeEvent) -> None: ...

@Router().on_event(SessionChangeEvent)
def plain(event: SessionChangeEvent) -> str:
    return event.session_id

@WebhookTester().on_event(SessionChangeEvent)
async def tester_handler(event: SessionChangeEvent) -> int:
    return 1

def test_handler(event: SessionChangeEvent) -> None:
    on_session(event)
    n: int = plain(event)
    reveal_type(tester_handler)
"""


def test_on_event_keeps_the_handlers_return_type(tmp_path: Path) -> None:
    found, out = check(tmp_path, ON_EVENT, "on_event")
    errors = errors_only(found)
    assert sorted(errors) == [20, 21], out
    assert "unused-coroutine" in errors[20], out  # the forgotten await
    assert 'expression has type "str", variable has type "int"' in errors[21], out
    assert "-> typing.Coroutine[Any, Any, int]" in found[22], out


# -- 7. a bytearray or memoryview body is accepted, as at run time ------------------------------

BODIES = """\
import kyc_webhooks as kw
from kyc_webhooks.testing import WebhookTester

receiver = kw.Receiver(kw.Idenfy(signing_key="k"))
tester = WebhookTester()
chunks = bytearray(b"{}")
view = memoryview(b"{}")

async def main() -> None:
    receiver.handle(chunks, {})
    receiver.parse(view, {})
    await receiver.handle_async(chunks, {})
    tester.handle(view, {})
    await tester.handle_async(chunks, {})
    receiver.handle("{}", {})
"""


def test_bytearray_and_memoryview_bodies_type_check(tmp_path: Path) -> None:
    found, out = check(tmp_path, BODIES, "bodies")
    errors = errors_only(found)
    assert sorted(errors) == [15], out  # only the decoded str
    assert '"str"' in errors[15], out
