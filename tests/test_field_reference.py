"""The field reference of the documentation site (docs/_hooks/field_reference.py, a MkDocs hook)
lists every event model of every vendor and flags every personal field."""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from kyc_webhooks.models import PERSONAL, section_names

ROOT = Path(__file__).resolve().parent.parent
HOOK = ROOT / "docs" / "_hooks" / "field_reference.py"
VENDORS = ["idenfy", "complycube", "yoti", "identomat"]


def _hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("field_reference", HOOK)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FIELD_REFERENCE = _hook()


def _section(page: str, model: str) -> str:
    """The Markdown of one model's section (its heading up to the next heading)."""
    match = re.search(rf"^### {model}\n(.*?)(?=^#)", page + "\n#", re.M | re.S)
    assert match is not None, f"no section for {model}"
    return match.group(1)


def _rows(section: str) -> dict[str, str]:
    """Table rows of a model's section by attribute name."""
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 6 and cells[1].startswith("`"):
            rows[cells[1].strip("`")] = line
    return rows


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_event_model_has_a_section(vendor: str) -> None:
    page = FIELD_REFERENCE.render(vendor)
    models = importlib.import_module(f"kyc_webhooks.{vendor}.models")
    names = {model.__name__ for model in models.EVENT_MODELS.values()}
    assert names  # the vendor has models to document
    assert [n for n in sorted(names) if not re.search(rf"^### {n}$", page, re.M)] == []


def _attributes(model: type[BaseModel]) -> dict[str, FieldInfo]:
    """Each field by the attribute handlers read: a section's raw field by its property."""
    sections = section_names(model)
    return {
        (name.removesuffix("_raw") if name.removesuffix("_raw") in sections else name): info
        for name, info in model.model_fields.items()
    }


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_field_of_every_model_is_listed_and_personal_ones_are_flagged(vendor: str) -> None:
    page = FIELD_REFERENCE.render(vendor)
    models, _ = FIELD_REFERENCE.reachable(FIELD_REFERENCE.event_models(vendor))
    flagged = 0
    for model in models:
        rows = _rows(_section(page, model.__name__))
        attributes = _attributes(model)
        assert set(rows) == set(attributes), model.__name__
        for name, info in attributes.items():
            personal = any(meta is PERSONAL for meta in info.metadata)
            assert ("**personal**" in rows[name]) == personal, f"{model.__name__}.{name}"
            assert f"`{info.alias or name}`" in rows[name]
            flagged += personal
    # Yoti's notifications carry ids and a topic only; every other vendor sends personal data.
    assert (flagged > 0) == (vendor != "yoti")


def test_the_verdict_fields_carry_their_descriptions() -> None:
    idenfy = FIELD_REFERENCE.render("idenfy")
    overall = _rows(_section(idenfy, "IdentificationStatus"))["overall"]
    assert "verdict" in overall
    assert "APPROVED" in overall
    assert "another result follows" in _rows(_section(idenfy, "IdentificationEvent"))["final"]
    outcome = _rows(_section(FIELD_REFERENCE.render("complycube"), "CheckStatusPayload"))["outcome"]
    assert "clear" in outcome
    result = _rows(_section(FIELD_REFERENCE.render("identomat"), "SessionChangeEvent"))["result"]
    assert "REJECTED" in result
    assert "**personal**" not in result


def test_nested_models_and_enums_are_linked_on_the_page() -> None:
    page = FIELD_REFERENCE.render("idenfy")
    status = _rows(_section(page, "IdentificationEvent"))["status"]
    assert "[IdentificationStatus](#identificationstatus)" in status
    assert re.search(r"^#### OverallStatus$", page, re.M)


def test_sections_are_listed_by_property_with_their_models() -> None:
    page = FIELD_REFERENCE.render("idenfy")
    rows = _rows(_section(page, "IdentificationEvent"))
    assert "aml_results_raw" not in rows
    aml = rows["aml_results"]
    assert "`AML`" in aml
    assert "[AmlCheckResult](#amlcheckresult)" in aml
    assert "validated on first read" in aml
    assert "`aml_results_raw`" in aml
    assert "address_verification" in _rows(_section(page, "DocumentData"))
    # The models inside sections are documented too, personal fields flagged.
    assert "**personal**" in _rows(_section(page, "AmlHit"))["name"]


def test_the_hook_replaces_the_marker_and_leaves_other_pages_alone() -> None:
    page = FIELD_REFERENCE.on_page_markdown("# Yoti\n\n<!-- field-reference: yoti -->\n")
    assert "### SessionCompletionEvent" in page
    assert "field-reference" not in page
    assert FIELD_REFERENCE.on_page_markdown("# Other\n") == "# Other\n"


def test_the_site_configuration_registers_the_hook() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "docs/_hooks/field_reference.py" in config
    for vendor in VENDORS:
        page = (ROOT / "docs" / "vendors" / f"{vendor}.md").read_text(encoding="utf-8")
        assert f"<!-- field-reference: {vendor} -->" in page


def test_docstring_roles_become_markdown_code() -> None:
    page = FIELD_REFERENCE.render("complycube")
    assert ":class:" not in page
    assert "``" not in page


def test_vendor_citations_in_docstrings_become_links() -> None:
    page = FIELD_REFERENCE.render("complycube")
    webhooks = "https://docs.complycube.com/documentation/api-reference/other-resources/webhooks"
    assert f"[webhooks]({webhooks})" in page
    assert re.search(r"\[webhooks\](?!\()", page) is None


#: Words in a field's wire name that always mean personal data (review R53: iDenfy's
#: ``nationality`` was shown in ``verify`` and ``inbox show`` next to the redacted name) --
#: unless the name says it holds a check's result or a reference about it (``dobStatus``,
#: ``surnameMatch``, ``emailVerified``, ``addressId``), or the value is a section (its raw field
#: is out of ``repr``; its model flags its own fields) or a list of models (likewise).
PERSONAL_WORDS = re.compile(
    r"nationalit|dob|birth|surname|firstname|lastname|fullname|phone|email|personalcode|"
    r"docnumber|documentnumber|address",
    re.I,
)
ABOUT_IT = re.compile(r"(status|match|verified|id|verification|addresses)$", re.I)


@pytest.mark.parametrize("vendor", VENDORS)
def test_fields_named_for_personal_data_are_flagged_personal(vendor: str) -> None:
    models, _ = FIELD_REFERENCE.reachable(FIELD_REFERENCE.event_models(vendor))
    missing = [
        f"{model.__name__}.{name}"
        for model in models
        for name, info in _attributes(model).items()
        if PERSONAL_WORDS.search((info.alias or name).replace("_", ""))
        and not ABOUT_IT.search(info.alias or name)
        and not any(meta is PERSONAL for meta in info.metadata)
    ]
    assert missing == []
