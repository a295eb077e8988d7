"""Thin adapters that put a :class:`~kyc_webhooks.Receiver` behind a web framework.

Each submodule imports its framework, so import the one you use (the package itself imports
nothing):

* :mod:`kyc_webhooks.integrations.flask` -- ``webhook_view``, ``webhook_blueprint``
* :mod:`kyc_webhooks.integrations.django` -- ``webhook_view``, ``async_webhook_view``
* :mod:`kyc_webhooks.integrations.fastapi` -- ``webhook_router``, ``verified_event``
* :mod:`kyc_webhooks.integrations.asgi` -- ``WebhookApp`` (any ASGI server or framework)

Every adapter reads the raw body under the receiver's ``max_body_size`` (413 before reading past
it), accepts only ``POST`` (405), answers ``outcome.status_code`` with ``outcome.response_body()``
as JSON, and serves one route per vendor (``.../<vendor>``) as well as one auto-detecting route.
"""

__all__: list[str] = []
