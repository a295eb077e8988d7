"""read_section finds a section's validator by (model class, section name) and checks that the type
passed is the one it was built for: a caller that passes another type for the same section gets
that type's validation, never the validator cached for the first."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kyc_webhooks.models import KycModel, read_section


class Bag(KycModel):
    values_raw: list[Any] | None = Field(default=None, alias="values", repr=False)


def test_another_type_for_the_same_section_is_validated_as_that_type() -> None:
    bag = Bag.model_validate({"values": ["1", "2"]})
    assert read_section(bag, "values", list[int]) == [1, 2]
    assert read_section(bag, "values", list[str]) == ["1", "2"]
    assert read_section(bag, "values", list[int]) == [1, 2]


def test_a_type_built_afresh_for_each_read_is_validated_each_time() -> None:
    bag = Bag.model_validate({"values": ["3"]})
    for _ in range(3):
        assert read_section(bag, "values", list[int] | None) == [3]
