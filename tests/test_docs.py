"""Documentation that names code stays true: every event type and model, every linked file."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENDORS_DOC = (ROOT / "docs" / "vendors.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("vendor", ["idenfy", "complycube", "yoti", "identomat"])
def test_every_event_type_and_model_is_documented(vendor: str) -> None:
    models = importlib.import_module(f"kyc_webhooks.{vendor}.models")
    missing = [t for t in models.EVENT_TYPES if f"`{t}`" not in VENDORS_DOC]
    missing += [
        m.__name__
        for m in set(models.EVENT_MODELS.values())
        if f"`{m.__name__}`" not in VENDORS_DOC
    ]
    assert missing == []


@pytest.mark.parametrize(
    "document", sorted(p.name for p in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
)
def test_relative_links_point_to_existing_files(document: str) -> None:
    path = ROOT / document if document == "README.md" else ROOT / "docs" / document
    text = path.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text)
    broken = [t for t in targets if not (path.parent / t).exists()]
    assert broken == []
