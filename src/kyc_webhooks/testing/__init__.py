"""Testing toolkit: sign deliveries exactly as each vendor does, build realistic sample payloads,
and (through the pytest plugin) fixtures that make a handler test three lines long."""

from __future__ import annotations

from ._signing import dumps, sign

__all__ = ["dumps", "sign"]
