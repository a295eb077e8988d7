"""Numbers are kept in their wire form: a field a vendor documents as an integer may still arrive
as ``34.0`` (or ``34.5``), and the model must neither refuse it nor dump it back as ``34`` (the
lossless rule compares JSON text: ``34`` and ``34.0`` differ on the wire, though ``34 == 34.0``).
Every numeric wire field is typed ``kyc_webhooks.models.Number`` (``int | float``, kept as sent)."""

from __future__ import annotations

import json
import types
import typing
from typing import Annotated, Any, Union

import pytest
from pydantic import BaseModel

import kyc_webhooks as kw
from _lossless import assert_lossless, json_text
from kyc_webhooks import testing
from kyc_webhooks.complycube import models as complycube_models
from kyc_webhooks.idenfy import models as idenfy_models
from kyc_webhooks.identomat import models as identomat_models
from kyc_webhooks.models import KycModel
from kyc_webhooks.yoti import models as yoti_models

VENDORS = ("idenfy", "complycube", "yoti", "identomat")
ALL_SAMPLES = [(v, e) for v in VENDORS for e in testing.event_types(v)]
SECRETS = testing.generate_secrets()
RECEIVER = kw.Receiver(*testing.make_vendors(SECRETS))
MODEL_MODULES = (idenfy_models, complycube_models, yoti_models, identomat_models)


def _as_floats(value: Any) -> Any:
    """``value`` with every JSON integer (not ``true``/``false``) turned into a float."""
    if isinstance(value, dict):
        return {key: _as_floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_floats(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _integers(value: Any) -> int:
    if isinstance(value, dict):
        return sum(_integers(item) for item in value.values())
    if isinstance(value, list):
        return sum(_integers(item) for item in value)
    return int(isinstance(value, int) and not isinstance(value, bool))


def test_json_text_tells_an_integral_float_from_an_int() -> None:
    assert {"estimatedAge": 34} == {"estimatedAge": 34.0}  # what a plain == comparison misses
    assert json_text({"estimatedAge": 34}) != json_text({"estimatedAge": 34.0})
    assert json_text({"n": 1}) != json_text({"n": True})


@pytest.mark.parametrize(
    ("vendor", "event_type"), ALL_SAMPLES, ids=[f"{v}-{e}" for v, e in ALL_SAMPLES]
)
def test_every_integer_of_a_sample_sent_as_a_float_is_dumped_as_a_float(
    vendor: str, event_type: str
) -> None:
    payload = _as_floats(testing.sample_payload(vendor, event_type))
    body, headers = testing.sign(
        vendor, payload, SECRETS[vendor], event_type=event_type if vendor == "idenfy" else None
    )
    event = RECEIVER.parse(body, headers)
    assert not isinstance(event, kw.UnknownEvent), type(event).__name__
    assert_lossless(event, json.loads(body))


@pytest.mark.parametrize(
    ("event_type", "path"),
    [
        ("AGE_ESTIMATION", ("estimatedAge",)),
        ("AML_MONITORING_EXPIRATION", ("usersToExtend",)),
        ("AML_MONITORING_EXPIRATION", ("usersToExpire",)),
        ("SOS_REPORT", ("watchlistHitsCount",)),
        ("ACCOUNT_CHECK", ("status",)),
        ("COMPANY_DELETE", ("manager", "id")),
        ("COMPANY_REVIEW", ("statusChangedBy", "id")),
        ("AML_MONITORING", ("amlCheck", "amlCheck", 0, "version")),
        ("COMPANY_AML_REVIEW", ("id",)),
    ],
)
@pytest.mark.parametrize("number", [34, 34.0, 34.5])
def test_idenfy_number_fields_keep_the_wire_type(
    event_type: str, path: tuple[str | int, ...], number: float
) -> None:
    payload: Any = testing.sample_payload("idenfy", event_type)
    target = payload
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = number
    event = RECEIVER.parse(
        *testing.sign("idenfy", payload, SECRETS["idenfy"], event_type=event_type)
    )
    assert_lossless(event, payload)
    read: Any = event
    for step in path:
        read = read[step] if isinstance(step, int) else _attribute(read, step)
    assert type(read) is type(number)
    assert read == number


def _attribute(model: Any, alias: str) -> Any:
    """The value of the field of ``model`` sent as ``alias``."""
    for name, field in type(model).model_fields.items():
        if (field.alias or name) == alias:
            return getattr(model, name)
    raise AssertionError(alias)


@pytest.mark.parametrize(
    ("model", "wire"),
    [
        (idenfy_models.AmlHit, {"pepLevel": 2.0, "listNumber": 7.0, "score": 88.0}),
        (
            idenfy_models.AmlV3Hit,
            {
                "version": 3.0,
                "score": 90.0,
                "formerSanBodyIds": [1.0, 2],
                "currentSanBodyIds": [5.0],
            },
        ),
        (idenfy_models.AmlComment, {"id": 4.0}),
        (idenfy_models.ManagerAccount, {"id": 3.0}),
        (idenfy_models.Us15RegistryCenterCheck, {"yob": 1990.0, "resourceType": "US15"}),
        (idenfy_models.Beneficiary, {"id": 12.0}),
        (idenfy_models.AddressVerification, {"accuracy": 80.0}),
        (idenfy_models.RiskAssessment, {"riskScore": 2.0}),
        (complycube_models.LivePhoto, {"size": 1024.0}),
        (complycube_models.DocumentImage, {"size": 1024.0}),
        (complycube_models.WorkflowSession, {"workflowVersion": 3.0}),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else "wire",
)
def test_models_keep_integral_floats_of_integer_fields(
    model: type[BaseModel], wire: dict[str, Any]
) -> None:
    # Parts of a body (AML hit lists, registry checks) are read into these models on access.
    assert_lossless(model.model_validate_json(json.dumps(wire)), wire)
    assert_lossless(model.model_validate(wire), wire)


def _int_without_float(annotation: Any) -> bool:
    """Whether ``annotation`` accepts ``int`` somewhere without accepting ``float`` beside it."""
    if annotation is int:
        return True
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Annotated:
        return _int_without_float(args[0])
    if origin is Union or origin is types.UnionType:
        if int in args and float not in args:
            return True
        return any(_int_without_float(arg) for arg in args if arg is not int)
    return any(_int_without_float(arg) for arg in args)


def _models() -> list[type[KycModel]]:
    found: list[type[KycModel]] = []
    for module in MODEL_MODULES:
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, type) and issubclass(value, KycModel) and value not in found:
                found.append(value)
    return found


def test_no_model_field_is_an_int_that_refuses_or_rewrites_a_float() -> None:
    models = _models()
    assert len(models) > 50
    offending = [
        f"{model.__name__}.{name}"
        for model in models
        for name, field in model.model_fields.items()
        if _int_without_float(field.annotation)
    ]
    assert offending == []
    # The guard sees an int field.
    assert _int_without_float(Annotated[int | None, "x"])
    assert _int_without_float(list[str | int])
    assert not _int_without_float(Annotated[str | int | float | None, "x"])


def test_samples_hold_integers_to_turn_into_floats() -> None:
    # The float variants above test something: the samples carry integers in typed fields.
    assert _integers(testing.sample_payload("idenfy", "AGE_ESTIMATION")) >= 1
    assert _integers(testing.sample_payload("complycube", "document.updated.image_uploaded")) >= 1
    assert _integers(testing.sample_payload("complycube", "workflow.session.completed")) >= 1
