"""The public surface is explicit: pinned here so that a change to it is a deliberate one."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

import kyc_webhooks as kw
from kyc_webhooks import Vendor, WebhookEvent

EXPECTED_TOP_LEVEL = {
    "AmbiguousVendorError",
    "AuthenticationError",
    "BodyErasedError",
    "ComplyCube",
    "ConfigurationError",
    "DEFAULT_MAX_BODY_SIZE",
    "Decision",
    "DecisionStatus",
    "DeliveryError",
    "DeliveryInProgressError",
    "DeliveryNotFoundError",
    "DeliveryRecord",
    "DeliveryState",
    "HandlerError",
    "Headers",
    "Idenfy",
    "Identomat",
    "MemoryStore",
    "Outcome",
    "PayloadError",
    "PayloadTooLargeError",
    "PostgresStore",
    "ProcessSummary",
    "Receiver",
    "Route",
    "Router",
    "RoutingWarning",
    "SQLiteStore",
    "Store",
    "StoreError",
    "StoreSchemaError",
    "UndetectableVendorError",
    "UnknownEvent",
    "UsageError",
    "Vendor",
    "VendorNotConfiguredError",
    "WebhookError",
    "WebhookEvent",
    "Yoti",
    "__version__",
}

VENDORS = {
    "idenfy": "Idenfy",
    "complycube": "ComplyCube",
    "yoti": "Yoti",
    "identomat": "Identomat",
}


def test_top_level_all_is_pinned_and_every_name_resolves() -> None:
    assert set(kw.__all__) == EXPECTED_TOP_LEVEL
    assert len(kw.__all__) == len(EXPECTED_TOP_LEVEL)
    for name in kw.__all__:
        assert getattr(kw, name) is not None, name
    assert set(dir(kw)) >= EXPECTED_TOP_LEVEL


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        _ = kw.NoSuchThing  # type: ignore[attr-defined]  # what a type checker also says


def test_error_tree_and_status_hints() -> None:
    delivery_errors = {
        kw.AuthenticationError: 401,
        kw.VendorNotConfiguredError: 401,
        kw.PayloadError: 400,
        kw.UndetectableVendorError: 400,
        kw.AmbiguousVendorError: 400,
        kw.PayloadTooLargeError: 413,
    }
    for cls, status in delivery_errors.items():
        assert issubclass(cls, kw.DeliveryError)
        assert cls.status_code == status
    assert kw.HandlerError.status_code == 500
    branches: tuple[type[Exception], ...] = (
        kw.ConfigurationError,
        kw.UsageError,
        kw.DeliveryError,
        kw.HandlerError,
    )
    for branch in branches:
        assert issubclass(branch, kw.WebhookError)
    assert issubclass(kw.ConfigurationError, ValueError)
    assert issubclass(kw.UsageError, TypeError)
    for name in ("StoreError", "DeliveryInProgressError", "DeliveryNotFoundError"):
        assert issubclass(getattr(kw, name), kw.WebhookError)


@pytest.mark.parametrize(("package", "class_name"), sorted(VENDORS.items()))
def test_every_vendor_package_has_the_same_shape(package: str, class_name: str) -> None:
    module = importlib.import_module(f"kyc_webhooks.{package}")
    vendor_cls = getattr(module, class_name)
    assert vendor_cls is getattr(kw, class_name)
    assert issubclass(vendor_cls, Vendor)
    assert vendor_cls.name == package
    event_types = module.EVENT_TYPES
    assert isinstance(event_types, tuple)
    assert event_types
    assert all(isinstance(t, str) and t for t in event_types)
    assert vendor_cls.event_types() == event_types
    event_models = module.EVENT_MODELS
    assert event_models
    base = getattr(module, f"{class_name}Event")
    unknown = getattr(module, f"{class_name}UnknownEvent")
    assert issubclass(base, WebhookEvent)
    assert issubclass(unknown, kw.UnknownEvent)
    assert issubclass(unknown, base)
    for model in event_models.values():
        assert issubclass(model, base), model
    assert callable(module.parse_event)
    with pytest.raises(AttributeError):
        _ = module.NoSuchModel


@pytest.mark.parametrize(("package", "class_name"), sorted(VENDORS.items()))
def test_parsing_without_authentication_is_a_module_function_not_a_vendor_method(
    package: str, class_name: str
) -> None:
    # Issue #10 item 1: an object that holds a credential never parses without verifying.
    module = importlib.import_module(f"kyc_webhooks.{package}")
    assert "parse_unauthenticated" in module.__all__
    assert callable(module.parse_unauthenticated)
    vendor_cls = getattr(module, class_name)
    assert vendor_cls.parse is Vendor.parse  # the one parse: verify, then the parsing step
    assert not hasattr(vendor_cls, "parse_unauthenticated")
    public = {name for name in vars(vendor_cls) if not name.startswith("_")}
    assert public <= {
        "auth_headers",
        "auth_type",
        "credential_env",
        "credential_fields",
        "credential_param",
        "detect",
        "detection",
        "event_types",
        "models_module",
        "name",
        "normalize_pattern",
        "option_envs",
        "produces",
        "sample_headers",
        "verify",
    }, public


def test_import_is_lazy_no_models_receiver_or_store_loaded() -> None:
    import subprocess
    import sys

    code = (
        "import sys, kyc_webhooks\n"
        "heavy = ['pydantic.main', 'kyc_webhooks.models', 'kyc_webhooks.receiver', 'sqlite3']\n"
        "heavy += [m for m in sys.modules if m.endswith('.models') and 'kyc_webhooks' in m]\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == ""


def test_the_decision_ledger_is_part_of_the_store_protocol() -> None:
    import kyc_webhooks.decisions as decisions
    import kyc_webhooks.store as store

    assert {"DecisionEntry", "DecisionTicket", "supersedes"} <= set(store.__all__)
    for name in (
        "begin_decision",
        "abort_decision",
        "effective_decision",
        "decisions_for_client",
    ):
        assert callable(getattr(store.Store, name)), name
    assert set(decisions.__all__) == {
        "Decision",
        "DecisionStatus",
        "Decisions",
        "Erasure",
        "decide",
    }
    receiver = kw.Receiver(kw.Idenfy(signing_key="k"), store=kw.MemoryStore())
    assert isinstance(receiver.decisions, decisions.Decisions)


#: The signatures of the public classes' public callables and fields, one per line: a change of a
#: name, a parameter, a default or an annotation fails :func:`test_public_signatures_are_pinned`
#: (review R54: names alone were pinned). Rewrite it on purpose with
#: ``python tests/test_public_api.py --write`` and note the change in CHANGELOG.md.
SIGNATURES = Path(__file__).parent / "data" / "public_signatures.txt"
PINNED_CLASSES = [
    "Receiver",
    "Outcome",
    "Router",
    "Route",
    "Headers",
    "Store",
    "MemoryStore",
    "SQLiteStore",
    "PostgresStore",
    "DeliveryRecord",
    "Decision",
    "ProcessSummary",
    "WebhookEvent",
    "Idenfy",
    "ComplyCube",
    "Yoti",
    "Identomat",
]


def public_signatures() -> list[str]:
    """``Class.member(signature)`` (or ``Class.field: annotation``) for every public member."""
    from kyc_webhooks.decisions import Decisions

    lines: list[str] = []
    classes = [(name, getattr(kw, name)) for name in PINNED_CLASSES] + [("Decisions", Decisions)]
    for class_name, cls in classes:
        annotations: dict[str, object] = {}
        for base in reversed(cls.__mro__):
            annotations.update(getattr(base, "__annotations__", {}))
        for name in sorted(set(dir(cls)) | set(annotations)):
            if name.startswith("_") and name != "__init__":
                continue
            if name.startswith("model_"):
                continue  # pydantic's own
            member = inspect.getattr_static(cls, name, None)
            if isinstance(member, (staticmethod, classmethod)):
                member = member.__func__
            if inspect.isfunction(member):
                if member.__module__.split(".")[0] != "kyc_webhooks":
                    continue  # inherited from the standard library or pydantic
                lines.append(f"{class_name}.{name}{inspect.signature(member)}")
            elif isinstance(member, property):
                lines.append(f"{class_name}.{name}: property")
            elif name in annotations:
                lines.append(f"{class_name}.{name}: {annotations[name]}")
    # Annotations evaluated at runtime name their module on some Pythons (typing_extensions.Self
    # on 3.10, typing.Self on 3.11+): the pin is about names and parameters.
    return [re.sub(r"\b(typing_extensions|typing)\.", "", line) for line in lines]


def test_public_signatures_are_pinned() -> None:
    pinned = SIGNATURES.read_text(encoding="utf-8").splitlines()
    current = public_signatures()
    assert current == pinned, (
        "the public API changed: if on purpose, run `python tests/test_public_api.py --write` "
        "and note it in CHANGELOG.md"
    )


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--write"]:
        SIGNATURES.write_text("\n".join(public_signatures()) + "\n", encoding="utf-8")
