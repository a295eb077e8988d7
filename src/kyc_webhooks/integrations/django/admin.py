"""Admin for the inbox: list, filters, search, and replay / process now / erase body actions.

*Erase body* erases the whole selection in one statement; *Replay* and *Process now* run the
handlers in the request, so they take at most :data:`RUN_LIMIT` deliveries at a time and say how
many of the selection they left.

Bodies and headers are personal data: hidden unless the user has the
``kyc_webhooks.view_delivery_body`` permission; then shown masked like ``repr()`` of the event
(personal fields as ``<redacted>``), and raw only on request (``?raw=1``), each raw view logged.
Secrets never reach the database (credential headers are dropped before storing, Identomat's
``callbackApiKey`` is blanked), so no admin page can show one.

The admin exists only while the app's models are the store (``KYC_WEBHOOKS['STORE']`` ``"django"``,
the default). With another store the tables stay empty, so listing them would hide the deliveries
waiting in the real inbox and *Erase body* would erase nothing: no model of the app is shown and
every page of theirs is refused; the system check ``kyc_webhooks.I001`` says where the inbox is.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.db import connections, router, transaction
from django.utils import timezone
from django.utils.html import format_html

from .conf import uses_app_models
from .models import DecisionRecord, Delivery
from .views import outside_request_transactions

logger = logging.getLogger("kyc_webhooks.django.admin")

BODY_PERMISSION = "kyc_webhooks.view_delivery_body"

#: The most deliveries *Replay* and *Process now* run in one request. Each runs the handlers
#: there and then, for as long as they take, so the whole of a large selection cannot be run
#: within a request's time; the rest of the selection is left, with a warning saying how many.
RUN_LIMIT = 100


def _deliveries(count: int) -> str:
    return f"{count} delivery" if count == 1 else f"{count} deliveries"


def _masked(row: Delivery) -> str:
    """The body as the event's ``repr()`` (personal data masked); a body that does not parse
    shows no content at all."""
    from ..._headers import Headers
    from ..._registry import VENDOR_NAMES, vendor_class
    from ...errors import WebhookError

    if row.body is None:
        return "(erased)"
    if row.vendor not in VENDOR_NAMES:
        return "(unknown vendor)"
    # The vendor's parsing step alone (the body was authenticated when it arrived), as the
    # vendor package's ``parse_unauthenticated`` does.
    models = vendor_class(row.vendor).models()
    try:
        event = models.parse_event(
            bytes(row.body), Headers([(str(n), str(v)) for n, v in row.headers])
        )
    except (WebhookError, TypeError, ValueError):
        return "(body does not parse; ask for the raw body)"
    return repr(event)


def _dates_by_time_zone(using: str) -> bool:
    """Whether the database can give the list's dates in the current time zone. MySQL and MariaDB
    convert them with ``CONVERT_TZ()``, which needs the server's time zone tables
    (``mysql_tzinfo_to_sql``); without them it answers NULL and Django's date drill-down fails
    (a server error) -- the list is then shown without it."""
    connection = connections[using]
    if connection.vendor != "mysql" or not settings.USE_TZ:
        return True
    zone = timezone.get_current_timezone_name()
    if zone == connection.timezone_name:
        return True  # Django converts nothing
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT CONVERT_TZ('2000-01-01 00:00:00', %s, %s)", [connection.timezone_name, zone]
        )
        row = cursor.fetchone()
    return row is not None and row[0] is not None


class AppStoreAdmin(admin.ModelAdmin):
    """An admin shown only while the app's models are the store (:func:`.conf.uses_app_models`):
    otherwise the model is missing from the admin's index and its pages answer 403 (the app's
    index 404), for every user, superusers included. (Neither admin lets anyone add or change a
    row.)"""

    def has_module_permission(self, request: Any) -> bool:
        return uses_app_models() and bool(super().has_module_permission(request))

    def has_view_permission(self, request: Any, obj: Any = None) -> bool:
        return uses_app_models() and bool(super().has_view_permission(request, obj))

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return uses_app_models() and bool(super().has_delete_permission(request, obj))


@admin.register(Delivery)
class DeliveryAdmin(AppStoreAdmin):
    list_display = ("id", "vendor", "event_type", "state", "received_at", "attempts", "replays")
    list_filter = ("state", "vendor", "event_type", "received_at")
    search_fields = ("=delivery_key", "=id")
    date_hierarchy = "received_at"
    actions = ("replay", "process_now", "erase_body")
    ordering = ("-received_at",)

    def get_urls(self) -> list[Any]:
        """The admin's URLs, the list's (where the actions run) outside ``ATOMIC_REQUESTS``'
        transaction: *Replay* and *Process now* run handlers through the store, which commits
        its own transactions (and refuses to run inside the request's, where a rollback after
        a handler's caught ``IntegrityError`` would undo a delivery reported as handled)."""
        urls = super().get_urls()
        for pattern in urls:
            if getattr(pattern, "name", "") == self._changelist_url_name():
                pattern.callback = outside_request_transactions(pattern.callback)
        return urls

    def _changelist_url_name(self) -> str:
        meta = self.model._meta
        return f"{meta.app_label}_{meta.model_name}_changelist"

    def get_changelist_instance(self, request: Any) -> Any:
        changelist = super().get_changelist_instance(request)
        if not _dates_by_time_zone(router.db_for_read(Delivery)):
            changelist.date_hierarchy = None  # see _dates_by_time_zone
        return changelist

    def get_fields(self, request: Any, obj: Any = None) -> Any:
        base = [
            "id",
            "delivery_key",
            "vendor",
            "event_type",
            "state",
            "received_at",
            "updated_at",
            "attempts",
            "replays",
            "lease_until",
            "finished_at",
            "last_error_type",
            "last_error_message",
            "not_before",
            "body_erased_at",
        ]
        if request.user.has_perm(BODY_PERMISSION):
            base += ["masked_body", "stored_headers"]
            if request.GET.get("raw") == "1":
                base.append("raw_body")
        return base

    def get_readonly_fields(self, request: Any, obj: Any = None) -> Any:
        return self.get_fields(request, obj)

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        # Deleting a record loses a delivery not handled yet, or its deduplication: the vendor's
        # next redelivery of a done one runs the handlers again (review R32). Records go with
        # retention (`purge`), bodies with `erase_body` / `erase-bodies` / `forget`.
        return False

    def has_operate_permission(self, request: Any) -> bool:
        """Replay, process and erase: for users who may change deliveries, on the app's store."""
        return uses_app_models() and bool(request.user.has_perm("kyc_webhooks.change_delivery"))

    @admin.display(description="body (personal data masked)")
    def masked_body(self, obj: Delivery) -> str:
        return _masked(obj)

    @admin.display(description="headers")
    def stored_headers(self, obj: Delivery) -> str:
        return "\n".join(f"{name}: {value}" for name, value in obj.headers)

    @admin.display(description="raw body")
    def raw_body(self, obj: Delivery) -> str:
        # The view is logged once, with the user, by get_form (this method has no request).
        if obj.body is None:
            return "(erased)"
        return format_html("<pre>{}</pre>", bytes(obj.body).decode("utf-8", "replace"))

    def get_form(self, request: Any, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if (
            request.GET.get("raw") == "1"
            and obj is not None
            and request.user.has_perm(BODY_PERMISSION)
        ):
            logger.warning("raw body viewed delivery_id=%s user_id=%s", obj.id, request.user.pk)
        return super().get_form(request, obj, change=change, **kwargs)

    @admin.action(description="Replay (run the handlers again)", permissions=["operate"])
    def replay(self, request: Any, queryset: Any) -> None:
        from asgiref.sync import async_to_sync

        from ...errors import WebhookError
        from . import get_receiver
        from .conf import has_async_handlers

        receiver = get_receiver()
        replay = (
            async_to_sync(receiver.replay_async)
            if has_async_handlers(receiver)
            else receiver.replay
        )
        for row in self._first_of_selection(request, queryset, "Replay"):
            try:
                outcome = replay(row.id)
            except WebhookError as exc:  # erased body, purged row, store failure: as process_now
                self.message_user(request, f"delivery {row.id}: {exc}", messages.ERROR)
                continue
            self.message_user(
                request,
                f"delivery {row.id}: {outcome.status_code}",
                messages.SUCCESS if outcome.ok else messages.WARNING,
            )

    @admin.action(description="Process now", permissions=["operate"])
    def process_now(self, request: Any, queryset: Any) -> None:
        from asgiref.sync import async_to_sync

        from ...errors import WebhookError
        from . import get_receiver
        from .conf import has_async_handlers

        receiver = get_receiver()
        process = (
            async_to_sync(receiver.process_async)
            if has_async_handlers(receiver)
            else receiver.process
        )
        for row in self._first_of_selection(request, queryset, "Process now"):
            try:
                outcome = process(row.id)
            except WebhookError as exc:
                self.message_user(request, f"delivery {row.id}: {exc}", messages.ERROR)
                continue
            self.message_user(request, f"delivery {row.id}: {outcome.status_code}", messages.INFO)

    # Each message names "delivery <id>", never the bare id first: the admin shows messages
    # through capfirst, which turned "ab12..." into "Ab12...", an id no lookup finds.

    def _first_of_selection(self, request: Any, queryset: Any, action: str) -> list[Delivery]:
        """The first :data:`RUN_LIMIT` deliveries of the selection (in the list's order); a
        warning naming how many are left when the selection is larger."""
        rows = list(queryset[: RUN_LIMIT + 1])
        if len(rows) > RUN_LIMIT:
            selected = queryset.count()
            self.message_user(
                request,
                f"{action} ran on the first {RUN_LIMIT} of the {selected} selected deliveries "
                f"(in the list's order) and left {_deliveries(selected - RUN_LIMIT)} alone: "
                f"select at most {RUN_LIMIT} at a time (narrow the list with its filters).",
                messages.WARNING,
            )
        return rows[:RUN_LIMIT]

    @admin.action(description="Erase body (personal data)", permissions=["operate"])
    def erase_body(self, request: Any, queryset: Any) -> None:
        """Erase the bodies of the whole selection, as ``DjangoStore.erase`` does one and
        ``erase_bodies`` many: in one statement, the body set to NULL and ``body_erased_at`` and
        ``updated_at`` to now, the metadata and stored headers kept. The count reported is of
        bodies erased now: a delivery whose body was erased before is not counted again."""
        from .store import DjangoStore

        now = DjangoStore().now()
        db = router.db_for_write(Delivery)  # the database DjangoStore() writes to
        selection = queryset.using(db)
        with transaction.atomic(using=db):
            selected = selection.count()
            erased = selection.filter(body__isnull=False).update(
                body=None, body_erased_at=now, updated_at=now
            )
        text = f"erased the bodies of {_deliveries(erased)} (metadata and headers kept)"
        if erased < selected:
            text += f"; the other {selected - erased} selected had no body left (erased before)"
        self.message_user(request, text, messages.SUCCESS)


@admin.register(DecisionRecord)
class DecisionRecordAdmin(AppStoreAdmin):
    """The decision ledger, read-only: the effective decision of each verification. Identomat's
    session id doubles as the applicant's session token, so subjects of that vendor are masked."""

    list_display = ("vendor", "shown_subject", "status", "final", "occurred_at", "received_at")
    list_filter = ("vendor", "status", "final")
    search_fields = ("=client_ref", "=delivery_id")
    ordering = ("-received_at",)
    fields = (
        "vendor",
        "shown_subject",
        "status",
        "final",
        "client_ref",
        "reasons",
        "occurred_at",
        "received_at",
        "delivery_id",
        "event_type",
        "fetch_required",
    )
    readonly_fields = fields

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    @admin.display(description="subject")
    def shown_subject(self, obj: DecisionRecord) -> str:
        from ...store._base import from_text_column

        return "<redacted>" if obj.vendor == "identomat" else from_text_column(obj.subject)
