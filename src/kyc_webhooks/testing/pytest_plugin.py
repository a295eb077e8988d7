"""pytest plugin for kyc-webhooks, registered through the ``pytest11`` entry point: installing the
package makes these fixtures available to every test, with nothing to import or configure.

* ``kyc_tester`` -- a :class:`~kyc_webhooks.testing.WebhookTester`: a receiver for all four
  vendors with throwaway secrets; ``kyc_tester.deliver(vendor, event_type, **overrides)`` signs
  a realistic sample and returns the :class:`~kyc_webhooks.Outcome` (a handler's exception is
  re-raised: it fails the test). ``kyc_webhooks`` is its deprecated former name (it shadowed the
  package inside tests); it warns and will be removed in the next release.
* ``kyc_webhooks_secrets`` -- ``{vendor: secret}`` used to build the receiver and to sign.
* ``kyc_webhooks_router`` -- the :class:`~kyc_webhooks.Router` the receiver dispatches to
  (a fresh one per test).
* ``kyc_webhooks_receiver`` -- the :class:`~kyc_webhooks.Receiver` under test.

Override ``kyc_webhooks_router`` (or ``kyc_webhooks_receiver`` together with
``kyc_webhooks_secrets``) in your ``conftest.py`` to test your application's own handlers::

    @pytest.fixture
    def kyc_webhooks_router():
        return myapp.webhooks.router

    def test_denied_blocks_the_account(kyc_tester):
        outcome = kyc_tester.deliver("identomat", "session-change", result="REJECTED")
        assert outcome.handled == 1

The module imports nothing from kyc_webhooks at import time, so loading the plugin costs nothing
and coverage of the package is measured from the first test on.
"""

from __future__ import annotations

import warnings
import weakref
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from kyc_webhooks import Receiver, Router
    from kyc_webhooks.testing import WebhookTester


#: The routers the default ``kyc_webhooks_router`` made. Any other is the application's own --
#: shared by every test of the run -- when it holds handlers when a test starts; a router of an
#: overridden fixture that holds none (a receiver the user's fixture builds afresh per test) is
#: the test's own. Decided from the router alone, so the same in any test order (review R59).
_FRESH_ROUTERS: weakref.WeakSet[Router] = weakref.WeakSet()


def _shared(router: Router) -> bool:
    if router in _FRESH_ROUTERS:
        return False
    return bool(router.routes or router.decision_routes)


@pytest.fixture
def kyc_webhooks_secrets() -> dict[str, str]:
    """Fresh throwaway secrets for every vendor (override to use your test configuration's)."""
    from kyc_webhooks.testing import generate_secrets

    return generate_secrets()


@pytest.fixture
def kyc_webhooks_router() -> Router:
    """The router the receiver dispatches to: a fresh, empty one (override with your app's)."""
    from kyc_webhooks import Router

    router = Router()
    _FRESH_ROUTERS.add(router)
    return router


@pytest.fixture
def kyc_webhooks_receiver(
    kyc_webhooks_secrets: dict[str, str], kyc_webhooks_router: Router
) -> Receiver:
    """A receiver for every vendor in ``kyc_webhooks_secrets``, dispatching to
    ``kyc_webhooks_router`` (Yoti with ``Authorization: Basic``)."""
    from kyc_webhooks import Receiver
    from kyc_webhooks.testing import make_vendors

    return Receiver(*make_vendors(kyc_webhooks_secrets), router=kyc_webhooks_router)


@pytest.fixture
def kyc_tester(
    kyc_webhooks_receiver: Receiver, kyc_webhooks_secrets: dict[str, str]
) -> WebhookTester:
    """Deliver signed samples to ``kyc_webhooks_receiver``: ``kyc_tester.deliver(vendor,
    event_type, **overrides) -> Outcome``; register handlers with ``kyc_tester.on(...)``."""
    from kyc_webhooks.testing import WebhookTester

    # With the application's router, kyc_tester.on() refuses at once (review R53): before the
    # first delivery it added the test's handler to that router for every later test.
    shared = _shared(kyc_webhooks_receiver.router)
    return WebhookTester(kyc_webhooks_receiver, secrets=kyc_webhooks_secrets, shared=shared)


@pytest.fixture
def kyc_webhooks(kyc_tester: WebhookTester) -> WebhookTester:
    """Deprecated: the former name of ``kyc_tester`` (it shadowed ``import kyc_webhooks``)."""
    warnings.warn(
        "the kyc_webhooks fixture is deprecated and will be removed in the next release: use "
        "kyc_tester (the old name shadows the kyc_webhooks package inside the test)",
        DeprecationWarning,
        stacklevel=2,
    )
    return kyc_tester
