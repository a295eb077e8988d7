"""Signals, for code that prefers them to decorators.

``webhook_received`` is sent with ``event=`` (the typed, authenticated event) each time the
project receiver runs its handlers for a delivery -- with a store, exactly once per delivery that
succeeds. A receiver function that raises fails the delivery like a handler does (500, retried).
"""

from __future__ import annotations

from django.dispatch import Signal

__all__ = ["webhook_received"]

webhook_received = Signal()
