"""ComplyCube: the rules of the event-type spellings (facts:
https://docs.complycube.com/documentation/api-reference/other-resources/webhooks). A leaf of the
package: the models (choosing a model, ``event_type``), routing (``normalize_pattern``) and the
decision rules (``_decisions``) each apply them, written once here; :mod:`.models` exports them."""

# Vendor documentation cited below as [name]:
# [webhooks] https://docs.complycube.com/documentation/api-reference/other-resources/webhooks
# [checks] https://docs.complycube.com/api-reference/checks

__all__ = ["canonical_event_type", "normalize_pattern", "outcome_family"]

# [webhooks]: API v1.7.2 spelled ``check.completed*`` as ``check.complete*``. The rule covers every
# ``check.complete.<x>``, outcomes the old docs did not list (``check.complete.rejected``) too.
_LEGACY_PREFIX = "check.complete"
_CURRENT_PREFIX = "check.completed"
# [checks]: outcomes are an open set. ``check.completed.<outcome>`` and
# ``check.monitoring.<outcome>`` with an outcome ComplyCube has not documented (yet) are check
# status events like their documented siblings: a handler registered for ``check.completed.*``
# must get the model it is written against, not an unknown event it would fail on (ten failures
# disable the webhook, [webhooks]). Their keys among the models: the family, ``*`` as outcome.
_OUTCOME_FAMILIES = ("check.completed.", "check.monitoring.")


def canonical_event_type(event_type: str) -> str:
    """The current spelling of ``event_type``: ``check.complete`` and every
    ``check.complete.<x>`` become ``check.completed`` / ``check.completed.<x>`` ([webhooks]: the
    v1.7.2 names). Anything else is returned unchanged."""
    if event_type == _LEGACY_PREFIX or event_type.startswith(_LEGACY_PREFIX + "."):
        return _CURRENT_PREFIX + event_type[len(_LEGACY_PREFIX) :]
    return event_type


def outcome_family(event_type: str) -> str | None:
    """``"check.completed.*"`` or ``"check.monitoring.*"`` when ``event_type`` (current spelling)
    is ``<family>.<outcome>`` for any non-empty one-segment outcome, documented or not; else
    ``None``."""
    for prefix in _OUTCOME_FAMILIES:
        outcome = event_type[len(prefix) :] if event_type.startswith(prefix) else ""
        if outcome and "." not in outcome:
            return prefix + "*"
    return None


def normalize_pattern(pattern: str) -> str:
    """Map a routing pattern written with the legacy spelling onto the current one, the way
    :func:`canonical_event_type` maps event types: ``"check.complete"`` -> ``"check.completed"``,
    ``"check.complete.*"`` -> ``"check.completed.*"``. Other patterns -- ``"check.complete*"``
    included, which already matches every current spelling -- are unchanged."""
    return canonical_event_type(pattern)
