"""mypy --strict checks decision handlers against kw.Decision (as tests/test_typing.py does for
event handlers): a handler taking a Decision passes, one taking an event model is an error at the
decorator, and the decorator returns the function unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from _mypy import run_mypy

pytest.importorskip("mypy.api")


SNIPPET = """
import kyc_webhooks as kw
from kyc_webhooks.idenfy import IdentificationEvent

receiver = kw.Receiver(kw.Idenfy(signing_key="k"))

@receiver.on_decision(kw.DecisionStatus.DECLINED, final=True)
def block_user(decision: kw.Decision) -> None:
    reveal_type(decision.status)

@receiver.on_decision(kw.DecisionStatus.APPROVED)
def wrong_parameter(event: IdentificationEvent) -> None: ...

@receiver.on_decision()
async def any_change(decision: kw.Decision) -> None: ...

reveal_type(block_user)
"""


def test_mypy_checks_decision_handlers_against_decision(tmp_path: Path) -> None:
    source = tmp_path / "decision_handlers.py"
    source.write_text(SNIPPET, encoding="utf-8")
    out, err, status = run_mypy(source)
    lines = [line for line in out.splitlines() if "decision_handlers.py" in line]
    assert status == 1, out + err
    assert any("DecisionStatus" in line and "Revealed type" in line for line in lines), out
    # The decorator returns the function unchanged (its own signature, not a wider type). mypy
    # names a class by the module that defines it: kyc_webhooks._decision, below the vendor rules
    # (kw.Decision and kyc_webhooks.decisions.Decision are that class).
    assert any(
        "Revealed type" in line and "def (decision: kyc_webhooks._decision.Decision)" in line
        for line in lines
    ), out
    errors = [line for line in lines if ": error:" in line]
    assert len(errors) == 1, out
    assert ":11:" in errors[0]  # the decorator line of wrong_parameter
    assert "IdentificationEvent" in errors[0]
