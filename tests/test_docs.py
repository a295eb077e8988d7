"""Documentation that names code stays true: every event type and model, every linked file."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENDORS = ["idenfy", "complycube", "yoti", "identomat"]
#: Every Markdown file of the site and the README, relative to the repository.
DOCUMENTS = sorted(
    str(p.relative_to(ROOT)) for p in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]
)


def _event_table(vendor: str) -> str:
    """The "Event types and models" section of the vendor's page (up to the next heading)."""
    page = (ROOT / "docs" / "vendors" / f"{vendor}.md").read_text(encoding="utf-8")
    match = re.search(r"^## Event types and models\n(.*?)^## ", page, re.M | re.S)
    assert match is not None, f"docs/vendors/{vendor}.md has no 'Event types and models' section"
    return match.group(1)


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_event_type_and_model_is_documented(vendor: str) -> None:
    table = _event_table(vendor)
    models = importlib.import_module(f"kyc_webhooks.{vendor}.models")
    missing = [t for t in models.EVENT_TYPES if f"`{t}`" not in table]
    missing += [
        m.__name__ for m in set(models.EVENT_MODELS.values()) if f"`{m.__name__}`" not in table
    ]
    assert missing == []


@pytest.mark.parametrize("vendor", VENDORS)
def test_each_vendor_page_says_where_the_verdict_is(vendor: str) -> None:
    page = (ROOT / "docs" / "vendors" / f"{vendor}.md").read_text(encoding="utf-8")
    for heading in ["Where is the verdict", "Authentication", "Decisions", "Delivery keys"]:
        assert re.search(rf"^## {heading}", page, re.M), heading
    assert f"<!-- field-reference: {vendor} -->" in page
    assert f"../decisions.md#{vendor}" in page


def test_the_event_table_check_sees_a_missing_model() -> None:
    assert "`IdentificationEvent`" in _event_table("idenfy")
    assert "`IdentificationEvent`" not in _event_table("yoti")


@pytest.mark.parametrize("document", DOCUMENTS)
def test_relative_links_point_to_existing_files(document: str) -> None:
    path = ROOT / document
    text = path.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text)
    broken = [t for t in targets if not (path.parent / t).exists()]
    assert broken == []


#: Citations of files that are not in the repository (the internal facts sheets, a developers'
#: guide): documentation and code cite the vendors' public URLs instead.
MISSING_FILE_CITATION = re.compile(
    r"DEVELOPERS\.md|shared/vendors|shared/samples|[Ss]heet,? §|\(sheet\b"
)
#: Modules allowed to cite files outside the repository: none.
CITATIONS_PENDING_ELSEWHERE: set[str] = set()


def _cited_texts() -> list[Path]:
    return [
        ROOT / "README.md",
        ROOT / "CONTRIBUTING.md",
        *(ROOT / "docs").rglob("*.md"),
        *(ROOT / "src").rglob("*.py"),
    ]


def test_nothing_cites_files_that_are_not_in_the_repository() -> None:
    offending = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in _cited_texts()
        if str(path.relative_to(ROOT)) not in CITATIONS_PENDING_ELSEWHERE
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if MISSING_FILE_CITATION.search(line)
    ]
    assert offending == []


@pytest.mark.parametrize(
    "line",
    [
        "# facts: ../shared/vendors/idenfy.md §2",
        "(sheet §4.1)",
        "Sheet §3: upper case",
        "DEVELOPERS.md",
    ],
)
def test_the_citation_check_catches(line: str) -> None:
    assert MISSING_FILE_CITATION.search(line)


def test_no_example_subscribes_to_identification_results_by_a_pattern_that_misses_some() -> None:
    # Review R50: a result without the header, under the legacy IDENTIFICATION catch-all or under
    # an unknown label is typed as IDENTIFICATION, which `IDENTIFICATION_*` does not match.
    sources = [*DOCUMENTS, *(str(p.relative_to(ROOT)) for p in (ROOT / "src").rglob("*.py"))]
    pattern = re.compile(r"""\.on\(\s*["']idenfy["']\s*,\s*["']IDENTIFICATION_\*["']""")
    found = [s for s in sources if pattern.search((ROOT / s).read_text(encoding="utf-8"))]
    assert found == []


@pytest.mark.parametrize("label", ["IDENTIFICATION_X", "IDENTIFICATION", None])
def test_the_documented_identification_pattern_catches_every_result(label: str | None) -> None:
    import kyc_webhooks as kw
    from kyc_webhooks.testing import sample_payload, sign

    receiver = kw.Receiver(kw.Idenfy(signing_key="k"))
    seen: list[str] = []
    receiver.on("idenfy", "IDENTIFICATION*")(lambda event: seen.append(event.event_type))
    payload = sample_payload("idenfy", "IDENTIFICATION_AUTO_FINISHED")
    body, headers = sign("idenfy", payload, "k", event_type=label or "IDENTIFICATION")
    if label is None:
        del headers["Idenfy-Event-Type"]
    outcome = receiver.handle(body, headers)
    assert (outcome.status_code, outcome.handled, len(seen)) == (200, 1, 1)
