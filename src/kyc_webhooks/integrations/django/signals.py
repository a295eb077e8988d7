"""Signals, for code that prefers them to decorators.

``webhook_received`` is sent with ``event=`` (the typed, authenticated event) each time the
project receiver runs its handlers for a delivery: with a store, never again once the delivery
succeeded (a redelivery is a duplicate), but again on each retry of an attempt that failed --
a receiver function or a handler raised -- as every handler runs again then. A receiver
function that raises fails the delivery like a handler does (500, retried).

``decision_changed`` is sent with ``decision=`` (a :class:`~kyc_webhooks.Decision`; ``sender``
is the class of the event it came from) when a delivery changes the **effective** decision of
its verification -- with a store (the default, the app's own tables), once per real change: a
redelivery or a stale event (a non-final verdict after a final one, an older one after a newer
one) sends nothing (docs/decisions.md, "The ledger"). Without a store (``"STORE": None``) it is
sent for every event that carries a decision: ordering protection needs a store. A receiver
function that raises fails the delivery like a decision handler does.
"""

from __future__ import annotations

from django.dispatch import Signal

__all__ = ["decision_changed", "webhook_received"]

webhook_received = Signal()
decision_changed = Signal()
