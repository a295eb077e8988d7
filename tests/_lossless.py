"""The lossless rule of every model (kyc_webhooks/models.py): ``model_dump(mode="json",
by_alias=True, exclude_unset=True)`` is the JSON that was sent -- compared as JSON text, where
``34`` and ``34.0`` (or ``1`` and ``true``) differ as they do on the wire, while Python's ``==``
would call them equal."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel


def json_text(value: Any) -> str:
    """``value`` as JSON text, keys sorted: equal texts are equal JSON, number types included."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def assert_lossless(model: BaseModel, wire: Any) -> None:
    """``model`` dumps back to ``wire`` (the decoded body it was parsed from), number types
    included."""
    dumped = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert json_text(dumped) == json_text(wire)
