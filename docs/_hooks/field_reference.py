"""MkDocs hook: the field reference of every vendor event model, generated from the pydantic models.

A page that contains the marker ``<!-- field-reference: VENDOR -->`` (VENDOR: ``idenfy``,
``complycube``, ``yoti`` or ``identomat``) gets, in its place, one table per event model of that
vendor (``EVENT_MODELS``) and per nested model those events reach (sections' models included):
wire name (the JSON key), attribute name (a section's typed property, not its ``*_raw`` field),
type, whether the field is personal data (``PERSONAL``: masked in ``repr()``), whether the vendor
guarantees it (required), and its ``description``. The open enumerations the
fields use follow, with their documented values. Registered in ``mkdocs.yml`` (``hooks:``);
``tests/test_field_reference.py`` calls :func:`render` directly.
"""

from __future__ import annotations

import importlib
import re
import sys
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from kyc_webhooks.models import PERSONAL, KycModel, Timestamp, WireEnum, section_names, section_type

VENDORS = {"idenfy": "iDenfy", "complycube": "ComplyCube", "yoti": "Yoti", "identomat": "Identomat"}

MARKER = re.compile(r"<!--\s*field-reference:\s*(?P<vendor>[a-z]+)\s*-->")


def event_models(vendor: str) -> list[type[KycModel]]:
    """The vendor's event models (the values of ``EVENT_MODELS``), each once, in table order."""
    module = importlib.import_module(f"kyc_webhooks.{vendor}.models")
    found: list[type[KycModel]] = []
    for model in module.EVENT_MODELS.values():
        if model not in found:
            found.append(model)
    return found


def fields(model: type[BaseModel]) -> Iterator[tuple[str, Any, FieldInfo, bool]]:
    """``(attribute, type, field info, is a section)`` of each field of ``model``. A section's raw
    field ``<name>_raw`` is listed as its property ``<name>``, with the type that validates it
    (``kyc_webhooks.models``, "Sections")."""
    sections = section_names(model)
    for name, info in model.model_fields.items():
        stem = name.removesuffix("_raw")
        if stem != name and stem in sections:
            yield stem, section_type(model, stem), info, True
        else:
            yield name, info.annotation, info, False


def _walk(annotation: Any) -> Iterator[Any]:
    """Every type an annotation mentions (itself, its arguments, recursively)."""
    yield annotation
    for argument in typing.get_args(annotation):
        if isinstance(argument, FieldInfo):
            yield from _walk(argument.annotation)
        elif not isinstance(argument, (str, int, bool)) and argument is not Ellipsis:
            yield from _walk(argument)


def reachable(models: list[type[KycModel]]) -> tuple[list[type[KycModel]], list[type[WireEnum]]]:
    """The models (event models first, then nested ones in discovery order) and the enums that
    the fields of ``models`` reach."""
    seen: list[type[KycModel]] = list(models)
    enums: list[type[WireEnum]] = []
    index = 0
    while index < len(seen):
        for _, annotation, _, _ in fields(seen[index]):
            for found in _walk(annotation):
                if not isinstance(found, type):
                    continue
                if issubclass(found, KycModel) and found not in seen:
                    seen.append(found)
                elif issubclass(found, WireEnum) and found not in enums:
                    enums.append(found)
        index += 1
    return seen, enums


def anchor(cls: type) -> str:
    """The id of a model's or enum's heading (MkDocs' toc slug of the class name)."""
    return cls.__name__.lower()


def type_text(annotation: Any, local: set[type]) -> str:
    """A readable type; models and enums documented on the same page are links."""
    if annotation is type(None):
        return "None"
    if annotation is Any:
        return "any JSON"
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_text(arguments[0], local)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_text(a, local) for a in arguments)
    if origin is typing.Literal:
        return " or ".join(f"`{a!r}`" for a in arguments)
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        inner = ", ".join(
            type_text(a.annotation if isinstance(a, FieldInfo) else a, local) for a in arguments
        )
        return f"{name}[{inner}]" if inner else name
    if isinstance(annotation, type):
        if annotation in local:
            return f"[{annotation.__name__}](#{anchor(annotation)})"
        if issubclass(annotation, Timestamp):
            return "datetime"
        return annotation.__name__
    return str(annotation)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def model_table(model: type[BaseModel], local: set[type]) -> list[str]:
    """The field table of one model."""
    lines = [
        "| wire name | attribute | type | personal | required | description |",
        "|---|---|---|---|---|---|",
    ]
    for name, annotation, info, section in fields(model):
        personal = any(m is PERSONAL for m in info.metadata)
        kind = type_text(annotation, local)
        if section:
            kind += f" (validated on first read; as received: `{name}_raw`)"
        lines.append(
            f"| `{info.alias or name}` | `{name}` | {_cell(kind)} "
            f"| {'**personal**' if personal else ''} | {'yes' if info.is_required() else ''} "
            f"| {_cell(info.description or '')} |"
        )
    return lines


#: ``# [name] URL`` lines under a module docstring: the vendor pages a module cites as ``[name]``.
LEGEND = re.compile(r"^# \[(?P<name>[\w.-]+)\] (?P<url>https://\S+)$", re.M)


def _citations(cls: type) -> dict[str, str]:
    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None)
    if not path:
        return {}
    source = Path(path).read_text(encoding="utf-8")
    return {m["name"]: m["url"] for m in LEGEND.finditer(source)}


def _summary(cls: type) -> str:
    """The first paragraph of a class docstring, reST roles and literals as Markdown code, and
    the module's ``[name]`` citations as links to the vendor's documentation."""
    doc = " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())
    doc = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", doc)  # :class:`Check` -> `Check`
    doc = re.sub(r"``([^`]+)``", r"`\1`", doc)
    for name, url in _citations(cls).items():
        doc = doc.replace(f"[{name}]", f"[{name}]({url})")
    return doc


def render(vendor: str) -> str:
    """The Markdown field reference of one vendor's event models."""
    events = event_models(vendor)
    models, enums = reachable(events)
    local: set[type] = {*models, *enums}
    lines: list[str] = [
        f"Generated from the models of `kyc_webhooks.{vendor}` when the site is built. "
        "*wire name*: the JSON key; *attribute*: the Python name on the event; "
        "**personal**: shown as `<redacted>` by `repr()`/`str()` (the attribute keeps the value); "
        "*required*: a body without it is a 400. Unknown keys are kept too (`extra`).",
        "",
    ]
    for model in models:
        role = "event model" if model in events else "nested model"
        lines += [f"### {model.__name__}", "", f"*{role}.* {_summary(model)}", ""]
        lines += model_table(model, local)
        lines.append("")
    if enums:
        lines += [
            "### Enumerations",
            "",
            "Open: a documented value becomes the enum member, any other value stays a `str`.",
            "",
        ]
        for wire_enum in enums:
            values = ", ".join(f"`{member.value}`" for member in wire_enum)
            lines += [f"#### {wire_enum.__name__}", "", values, ""]
    return "\n".join(lines)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """MkDocs event: replace each ``<!-- field-reference: VENDOR -->`` marker."""
    return MARKER.sub(lambda match: render(match["vendor"]), markdown)


__all__ = ["VENDORS", "event_models", "fields", "on_page_markdown", "reachable", "render"]
