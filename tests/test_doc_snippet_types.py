"""Self-contained snippets of the docs pass ``mypy --strict`` as a user would copy them (review 16,
finding 6: ``event.status.overall`` and ``event.payload.id`` on Optionals, attributes of a vendor
model read from ``receiver.parse()``'s ``WebhookEvent``). Sybil (tests/test_doc_snippets.py) runs
the same blocks; this checks their types. A block is found by a line it contains, so that edits
around it do not move the check; blocks of one page are concatenated, as Sybil runs them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from _mypy import ROOT, run_mypy

pytest.importorskip("mypy.api")

# What the docs leave to the reader's endpoint (the request's raw body and headers).
PRELUDE = "body: bytes = b''\nheaders: dict[str, str] = {}\n"
FENCE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)

SNIPPETS = {
    "index.md": ["def on_result(event: IdentificationEvent)"],
    "vendors/idenfy.md": ['"IDENTIFICATION_MANUAL_FINISHED", "my-signing-key"))'],
    "vendors/complycube.md": ['"check.completed.clear", "my-webhook-secret"))'],
    "vendors/yoti.md": ['"session_completion", "my-notification-token"))'],
    "decisions.md": ["def block_user(decision: kw.Decision)", "receiver.decisions.latest("],
}


def block(page: str, marker: str) -> str:
    found = [
        m.group(1)
        for m in FENCE.finditer((ROOT / "docs" / page).read_text(encoding="utf-8"))
        if marker in m.group(1)
    ]
    assert len(found) == 1, (page, marker, len(found))
    return found[0]


@pytest.mark.parametrize("page", sorted(SNIPPETS))
def test_the_documented_snippet_passes_mypy_strict(page: str, tmp_path: Path) -> None:
    source = tmp_path / ("snippet_" + page[:-3].replace("/", "_") + ".py")
    source.write_text(PRELUDE + "".join(block(page, m) for m in SNIPPETS[page]), encoding="utf-8")
    out, err, status = run_mypy(source)
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert not errors, out + err
    assert status == 0, out + err
