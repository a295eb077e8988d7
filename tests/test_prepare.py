"""What a delivery builds, and when: a vendor's models load on demand (an iDenfy identification
builds its own model classes, not the AML, add-on or KYB ones), sections import their models on
first read, and ``Receiver.prepare()`` builds everything up front. Each case runs in a fresh
interpreter: other tests have already built the models in this one."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

import kyc_webhooks as kw

IDENFY_PRIVATE = ("_identification", "_aml", "_sections", "_events")


def run_fresh(code: str) -> Any:
    """Run ``code`` in a new interpreter; it prints one JSON value, which is returned."""
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_first_identification_loads_only_the_identification_models() -> None:
    loaded = run_fresh(
        """
        import json, sys
        import kyc_webhooks as kw
        from kyc_webhooks.testing import signed_delivery

        def idenfy_modules():
            names = [m.rpartition(".")[2] for m in sys.modules
                     if m.startswith("kyc_webhooks.idenfy._")]
            return sorted(n for n in names if n not in ("_auth", "_wire", "_samples"))

        receiver = kw.Receiver(kw.Idenfy(signing_key="k"))
        before = idenfy_modules()
        d = signed_delivery("idenfy", "IDENTIFICATION_MANUAL_FINISHED", "k")
        outcome = receiver.handle(d.body, d.headers)
        after_handle = idenfy_modules()
        event = outcome.event
        _ = event.status, event.data, event.final
        after_status = idenfy_modules()
        _ = event.aml_results
        after_aml = idenfy_modules()
        _ = event.risk_assessment
        after_risk = idenfy_modules()
        print(json.dumps([outcome.status_code, before, after_handle, after_status, after_aml,
                          after_risk]))
        """
    )
    status, before, after_handle, after_status, after_aml, after_risk = loaded
    assert status == 200
    assert before == []  # configuring a vendor loads no model module
    assert after_handle == ["_base", "_enums", "_identification"]
    assert after_status == after_handle  # status and data are eager: nothing more to load
    assert after_aml == ["_aml", "_base", "_enums", "_identification"]
    assert "_sections" in after_risk
    assert "_events" not in after_risk  # KYB and other event models never loaded


def test_prepare_builds_every_validator_without_side_effects() -> None:
    report = run_fresh(
        """
        import json, logging
        import kyc_webhooks as kw
        from kyc_webhooks import models as core
        from kyc_webhooks.models import section_names

        records = []
        handler = logging.Handler()
        handler.emit = records.append
        logging.getLogger("kyc_webhooks").addHandler(handler)
        logging.getLogger("kyc_webhooks").setLevel(logging.DEBUG)

        def built(model):
            return model.__pydantic_complete__

        receiver = kw.Receiver(
            kw.Idenfy(signing_key="k"), kw.ComplyCube(secret="s"),
            kw.Yoti(auth_token="t"), kw.Identomat(api_key="a"),
        )
        from kyc_webhooks.idenfy.models import EVENT_MODELS, IdentificationEvent
        cold = built(IdentificationEvent)
        assert receiver.prepare() is receiver
        models = {m for m in EVENT_MODELS.values()}
        prepared = core._section_adapter.cache_info()
        # Every section of a fresh event read now: no validator left to build.
        from kyc_webhooks.idenfy.models import DocumentData
        for model in (IdentificationEvent, DocumentData):
            blank = model.model_construct()
            for name in section_names(model):
                getattr(blank, name)
        after = core._section_adapter.cache_info()
        print(json.dumps({
            "cold": cold,
            "models_built": all(built(m) for m in models),
            "section_types": prepared.currsize,
            "built_after_prepare": after.misses - prepared.misses,
            "stats": receiver.stats(),
            "records": len(records),
        }))
        """
    )
    assert report["cold"] is False
    assert report["models_built"] is True
    assert report["section_types"] == 15  # 17 sections; two types occur twice
    assert report["built_after_prepare"] == 0
    assert report["records"] == 0
    assert not any(report["stats"].values())


@pytest.mark.parametrize(
    "vendor",
    [
        kw.Idenfy(signing_key="k"),
        kw.ComplyCube(secret="s"),
        kw.Yoti(auth_token="t"),
        kw.Identomat(api_key="a"),
    ],
    ids=lambda v: type(v).__name__,
)
def test_each_vendor_prepares_and_still_parses(vendor: kw.Vendor) -> None:
    vendor.prepare()
    vendor.prepare()  # idempotent
    receiver = kw.Receiver(vendor).prepare()
    assert list(receiver.vendors) == [vendor.name]
