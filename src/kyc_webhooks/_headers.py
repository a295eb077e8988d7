"""A case-insensitive, read-only view of request headers.

Callers pass whatever their framework has -- a ``dict``, Django's ``request.headers``, Werkzeug's
``EnvironHeaders``, Starlette's ``Headers``, or a list of ``(name, value)`` pairs (``str`` or
``bytes``, as in ASGI scopes) -- and never need to lower-case names themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TypeAlias, Union

from .errors import UsageError

__all__ = ["HeaderInput", "Headers"]

_Text: TypeAlias = Union[str, bytes]  # noqa: UP007 -- runtime alias, 3.10-safe
HeaderInput: TypeAlias = Union[Mapping[str, str], Iterable[tuple[_Text, _Text]], "Headers"]


def _text(value: str | bytes | bytearray) -> str:
    # Bytes header values are ISO-8859-1 on the wire (RFC 9110 §5.5); decoding that way never fails.
    return value.decode("latin-1") if isinstance(value, (bytes, bytearray)) else value


class Headers(Mapping[str, str]):
    """Read-only mapping with case-insensitive names; ``headers["idenfy-signature"]`` and
    ``headers["Idenfy-Signature"]`` are the same. When a name repeats, ``[]``/``get`` give the first
    value and :meth:`get_all` gives every value in order."""

    __slots__ = ("_items",)

    def __init__(self, headers: HeaderInput | None = None) -> None:
        items: dict[str, list[str]] = {}
        if headers is not None:
            pairs: Iterable[tuple[_Text, _Text]]
            if type(headers) is dict:
                # Fast path for the most common input (a plain dict of str). str.lower rejects a
                # non-str name; a non-str value or two names differing only in case leave the
                # sizes different, and the general path below sorts them out.
                # (A loop, not a comprehension: no extra frame before Python 3.12.)
                try:
                    for name, value in headers.items():
                        if type(value) is not str:
                            break
                        items[str.lower(name)] = [value]
                except TypeError:
                    pass
                else:
                    if len(items) == len(headers):
                        self._items = items
                        return
                items = {}
            if isinstance(headers, Headers):
                pairs = headers.multi_items()
            elif isinstance(headers, Mapping):
                pairs = headers.items()
            elif isinstance(headers, (str, bytes)):  # type: ignore[unreachable]
                raise UsageError("headers must be a mapping or a list of (name, value) pairs")
            else:
                pairs = headers
            try:
                for name, value in pairs:
                    if not isinstance(name, (str, bytes, bytearray)) or not isinstance(
                        value, (str, bytes, bytearray)
                    ):
                        raise UsageError("header names and values must be str or bytes")
                    items.setdefault(_text(name).lower(), []).append(_text(value))
            except (TypeError, ValueError) as exc:
                raise UsageError(
                    "headers must be a mapping or a list of (name, value) pairs"
                ) from exc
        self._items = items

    @classmethod
    def of(cls, headers: HeaderInput | None) -> Headers:
        """Return ``headers`` itself when it already is a :class:`Headers`, else wrap it."""
        return headers if isinstance(headers, Headers) else cls(headers)

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][0]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        """The first value of ``name``, or ``default`` (faster than ``Mapping.get``, which goes
        through ``__getitem__`` and an exception for a missing name)."""
        values = self._items.get(name.lower())
        return values[0] if values else default

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def get_all(self, name: str) -> list[str]:
        """Every value sent for ``name`` (empty list when absent)."""
        return list(self._items.get(name.lower(), ()))

    def multi_items(self) -> list[tuple[str, str]]:
        """All ``(lower-case name, value)`` pairs, repeated names included."""
        return [(k, v) for k, values in self._items.items() for v in values]

    def __repr__(self) -> str:
        # Values may hold signatures or tokens: show names only.
        return f"Headers({sorted(self._items)!r})"
