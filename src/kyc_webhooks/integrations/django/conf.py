"""``settings.KYC_WEBHOOKS`` -> the project's :class:`~kyc_webhooks.Receiver`.

Every problem raises ``ImproperlyConfigured`` naming the setting's key; the system checks
(``checks.py``) report the same at start-up (``manage.py check``, ``runserver``, ``migrate``)::

    KYC_WEBHOOKS = {
        "VENDORS": {"idenfy": {"signing_key": "..."}, "complycube": {"secret": "..."}},
        "STORE": "django",          # default: the app's own models; or a SQLite path (str or
                                    # Path; absolute, or an existing file), "postgresql://..."
                                    # (PostgresStore), or None for no store
        "STORE_OPTIONS": {},        # keyword arguments of the store a path or URL builds:
                                    # {"pgbouncer": True, "schema": "kyc"} (PostgresStore),
                                    # {"durable": False} (SQLiteStore)
        "DEFER": False,             # True: store, answer 202, run handlers in a worker
        "ASYNC": False,             # True: the include()d URLs use async views (ASGI)
        "MAX_BODY_SIZE": 1048576,
        "LEASE_TIMEOUT": 60,
    }
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from ..._registry import VENDOR_NAMES, vendor_class
from ...cli._stores import describe, is_postgres, is_unread_url
from ...errors import WebhookError
from ...receiver import DEFAULT_MAX_BODY_SIZE, Receiver
from ...routing import Router
from .views import in_django_thread

__all__ = [
    "KNOWN_KEYS",
    "build_receiver",
    "project_receiver",
    "read_settings",
    "store_options",
    "uses_app_models",
]

KNOWN_KEYS = frozenset(
    {"VENDORS", "STORE", "STORE_OPTIONS", "DEFER", "ASYNC", "MAX_BODY_SIZE", "LEASE_TIMEOUT"}
)
SETTING = "KYC_WEBHOOKS"

_lock = threading.Lock()
_receiver: Receiver | None = None


def read_settings() -> dict[str, Any]:
    """``settings.KYC_WEBHOOKS`` checked for shape (a dict with known keys and a ``VENDORS``
    dict of dicts)."""
    config = getattr(settings, SETTING, None)
    if config is None:
        raise ImproperlyConfigured(f"{SETTING} is not set; see docs/frameworks.md (Django)")
    if not isinstance(config, Mapping):
        raise ImproperlyConfigured(f"{SETTING} must be a dict")
    unknown = sorted(set(config) - KNOWN_KEYS)
    if unknown:
        raise ImproperlyConfigured(
            f"{SETTING} has unknown key(s) {', '.join(map(repr, unknown))}; "
            f"known keys: {', '.join(sorted(KNOWN_KEYS))}"
        )
    vendors = config.get("VENDORS")
    if not isinstance(vendors, Mapping) or not vendors:
        raise ImproperlyConfigured(
            f"{SETTING}['VENDORS'] must be a non-empty dict of vendor name -> credentials, "
            f"e.g. {{'idenfy': {{'signing_key': ...}}}}"
        )
    for name, params in vendors.items():
        if name not in VENDOR_NAMES:
            raise ImproperlyConfigured(
                f"{SETTING}['VENDORS'] has unknown vendor {name!r}; "
                f"expected one of {', '.join(VENDOR_NAMES)}"
            )
        if not isinstance(params, Mapping):
            raise ImproperlyConfigured(f"{SETTING}['VENDORS'][{name!r}] must be a dict")
    return dict(config)


def uses_app_models() -> bool:
    """Whether the project's store is the app's own models (``STORE`` ``"django"``, the default),
    read from the settings without building the receiver. With any other store (a SQLite file,
    PostgreSQL, ``None``) the app's tables are never written: the admin then shows none of them
    (see ``admin.py``) and the system check ``kyc_webhooks.I001`` says where the inbox is. A
    ``KYC_WEBHOOKS`` that is not a dict is the error ``kyc_webhooks.E001``; its default store
    would be the app's models."""
    config = getattr(settings, SETTING, None)
    return not isinstance(config, Mapping) or config.get("STORE", "django") == "django"


def store_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """``STORE_OPTIONS`` checked for shape: a dict of keyword arguments (``{}`` when not set),
    given only with a ``STORE`` that is a SQLite path or a ``postgresql://`` URL."""
    options = config.get("STORE_OPTIONS")
    if options is None:
        return {}
    where = f"{SETTING}['STORE_OPTIONS']"
    if not isinstance(options, Mapping) or not all(isinstance(key, str) for key in options):
        raise ImproperlyConfigured(
            f"{where} must be a dict of the store's keyword arguments, e.g. {{'pgbouncer': True}}"
        )
    store = config.get("STORE", "django")
    if options and (store is None or store == "django"):
        raise ImproperlyConfigured(
            f"{where} applies to a STORE that is a SQLite path or a postgresql:// URL, not "
            f"{store!r}"
        )
    return dict(options)


def _store(value: Any, options: Mapping[str, Any]) -> Any:
    where = f"{SETTING}['STORE']"
    if value is None:
        return None
    if value == "django":
        from .store import DjangoStore

        return DjangoStore()
    if isinstance(value, os.PathLike):
        # ``BASE_DIR / "inbox.sqlite3"``, as Django's own settings write database paths.
        value = os.fspath(value)
    if not isinstance(value, str) or not value:
        raise ImproperlyConfigured(
            f"{where} must be 'django', a SQLite file path, a postgresql:// URL or None"
        )
    if value.strip().lower() == "django":
        # "Django", "django ": never a SQLite file of that name in the current directory.
        raise ImproperlyConfigured(
            f"{where} is {value!r}: write 'django' (lower case, no spaces) for the app's own "
            "models, or give a SQLite file path, a postgresql:// URL or None"
        )
    if is_unread_url(value):
        # `postgresql+psycopg://` (SQLAlchemy's spelling), `POSTGRESQL://`: libpq reads neither,
        # and a SQLite file of that name is never meant. Shown masked, as by the CLI.
        raise ImproperlyConfigured(
            f"{where} {describe(value)} is a URL that PostgreSQL does not read: give a "
            "postgresql:// (or postgres://) URL, in lower case and without a +driver suffix "
            "such as SQLAlchemy's +psycopg"
        )
    if is_postgres(value):
        try:
            from ...store import PostgresStore  # type: ignore[attr-defined,unused-ignore]
        except ImportError as exc:
            raise ImproperlyConfigured(
                f"{where} names PostgreSQL, which needs the postgres extra "
                '(pip install -e ".[postgres]")'
            ) from exc
        return _built(PostgresStore, value, options)
    if not os.path.isabs(value) and not os.path.isfile(value):
        # A relative path resolves against the server's current directory, which differs between
        # runserver, gunicorn and a worker: each would create an empty inbox of its own. A typo
        # ("sqlite:///inbox.db", a stray space) would too. The value is not shown: a mistyped
        # connection string may hold a password.
        raise ImproperlyConfigured(
            f"{where} is a relative path to a SQLite file that does not exist: give an absolute "
            "path (the file is created there if missing), 'django', a postgresql:// URL or None"
        )
    from ...store import SQLiteStore

    return _built(SQLiteStore, value, options)


def _built(kind: Any, target: str, options: Mapping[str, Any]) -> Any:
    """``kind(target, **options)``. An option it does not take is ``ImproperlyConfigured`` naming
    it (and the closest one it takes), and so is a value it would take without a word: a flag
    that is not a bool (``"false"`` is true), a clock that is not callable. What the store itself
    refuses (its target, a value out of range) is a ``WebhookError`` for ``build_receiver``; any
    other exception is not a setting's and propagates as it is."""
    import inspect

    where = f"{SETTING}['STORE_OPTIONS']"
    signature = inspect.signature(kind)
    try:
        signature.bind(target, **options)
    except TypeError as exc:
        raise ImproperlyConfigured(
            f"{where}: {kind.__name__} {_type_error(exc)}{_closest(kind, exc)}"
        ) from None
    for name, value in options.items():
        if isinstance(signature.parameters[name].default, bool) and not isinstance(value, bool):
            raise ImproperlyConfigured(f"{where}[{name!r}] must be True or False")
        if name == "clock" and value is not None and not callable(value):
            raise ImproperlyConfigured(
                f"{where}['clock'] must be a callable returning an aware datetime, or None"
            )
    return kind(target, **options)


def build_receiver(config: Mapping[str, Any]) -> Receiver:
    """A receiver from a checked ``KYC_WEBHOOKS`` dict; ``ImproperlyConfigured`` names the key."""
    vendors = []
    for name, params in config["VENDORS"].items():
        try:
            vendors.append(vendor_class(name)(**params))
        except TypeError as exc:
            raise ImproperlyConfigured(
                f"{SETTING}['VENDORS'][{name!r}]: {_type_error(exc)}"
                f"{_closest(vendor_class(name), exc)}"
            ) from None
        except WebhookError as exc:
            raise ImproperlyConfigured(f"{SETTING}['VENDORS'][{name!r}]: {exc}") from None
    for key, kind in (("DEFER", bool), ("ASYNC", bool)):
        if key in config and not isinstance(config[key], kind):
            raise ImproperlyConfigured(f"{SETTING}[{key!r}] must be True or False")
    try:
        store = _store(config.get("STORE", "django"), store_options(config))
        receiver = Receiver(
            *vendors,
            store=store,
            defer=config.get("DEFER", False),
            # Plain handlers (the signal bridges below too) run in Django's thread-sensitive
            # thread when called from async code -- the async views, and the command and admin
            # actions when they await async handlers -- where the ORM may be used.
            router=Router(run_sync=in_django_thread),
            max_body_size=config.get("MAX_BODY_SIZE", DEFAULT_MAX_BODY_SIZE),
            **({"lease_timeout": config["LEASE_TIMEOUT"]} if "LEASE_TIMEOUT" in config else {}),
        )
    except WebhookError as exc:
        raise ImproperlyConfigured(f"{SETTING}: {exc}") from None
    _connect_signal(receiver)
    return receiver


def _closest(kind: Any, exc: TypeError) -> str:
    """`` (did you mean 'signing_key'?)`` for the key the constructor of ``kind`` refused (``exc``
    names it: "unexpected keyword argument 'signing_kye'")."""
    import difflib
    import inspect

    refused = re.search(r"unexpected keyword argument '([^']*)'", str(exc))
    if refused is None:
        return ""
    taken = list(inspect.signature(kind).parameters)
    close = difflib.get_close_matches(refused.group(1), taken, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _type_error(exc: TypeError) -> str:
    # "Idenfy.__init__() got an unexpected keyword argument 'secret'" -> the useful part only.
    text = str(exc)
    return text.split(") ", 1)[-1] if ") " in text else text


def _connect_signal(receiver: Receiver) -> None:
    from ...decisions import Decision
    from ...models import WebhookEvent
    from .signals import decision_changed, webhook_received

    @receiver.on("*")
    def send_webhook_received(event: WebhookEvent) -> None:
        webhook_received.send(sender=type(event), event=event)

    def send_decision_changed(decision: Decision) -> None:
        event = decision.event
        sender = type(event) if event is not None else Decision
        decision_changed.send(sender=sender, decision=decision)

    # on_decision() with no arguments: every decision, run once per change of the effective
    # decision when the receiver has a store. Looked up rather than called directly so that
    # this module also works with a receiver that has no decision handlers.
    on_decision = getattr(receiver, "on_decision", None)
    if callable(on_decision):
        on_decision()(send_decision_changed)


def has_async_handlers(receiver: Receiver) -> bool:
    """Whether an event or decision handler is ``async def``: the management command and the
    admin actions then run the handlers with ``process_async`` and friends, through asgiref's
    ``async_to_sync``."""
    return bool(receiver.router.async_handlers())


def project_receiver() -> Receiver:
    """The project's receiver, built from settings on first use and then kept."""
    global _receiver
    with _lock:
        if _receiver is None:
            _receiver = build_receiver(read_settings())
        return _receiver


def reset() -> None:
    """Forget the project's receiver (tests that change ``KYC_WEBHOOKS``)."""
    global _receiver
    with _lock:
        _receiver = None
