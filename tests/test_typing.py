"""The typed registration form is what mypy --strict users rely on: mypy must see the model."""

from __future__ import annotations

from pathlib import Path

import pytest

from _mypy import run_mypy

pytest.importorskip("mypy.api")


SNIPPET = """
import kyc_webhooks as kw
from kyc_webhooks.idenfy import IdentificationEvent
from kyc_webhooks.yoti import SessionCompletionEvent

receiver = kw.Receiver(kw.Idenfy(signing_key="k"))

@receiver.on_event(IdentificationEvent)
def good(event: IdentificationEvent) -> None:
    reveal_type(event.scan_ref)

@receiver.on_event(IdentificationEvent)
def wrong_model(event: SessionCompletionEvent) -> None: ...

@receiver.on("idenfy", "IDENTIFICATION_*")
def untyped_route(event: kw.WebhookEvent) -> None: ...
"""


def test_mypy_sees_the_registered_model(tmp_path: Path) -> None:
    source = tmp_path / "handlers.py"
    source.write_text(SNIPPET, encoding="utf-8")
    out, err, status = run_mypy(source)
    lines = [line for line in out.splitlines() if "handlers.py" in line]
    assert status == 1, out + err
    assert any(
        'Revealed type is "str"' in line or 'Revealed type is "builtins.str"' in line
        for line in lines
    ), out
    errors = [line for line in lines if ": error:" in line]
    assert len(errors) == 1, out
    assert ":12:" in errors[0]  # the decorator line of wrong_model
    assert "SessionCompletionEvent" in errors[0]
