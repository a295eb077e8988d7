"""The inbox in the project's database: one row per delivery (see ``store.DjangoStore``).

Bodies and headers are personal data: the admin hides them unless the user has the
``kyc_webhooks.view_delivery_body`` permission.
"""

from __future__ import annotations

from django.db import models

STATES = [
    ("pending", "pending"),
    ("processing", "processing"),
    ("done", "done"),
    ("failed", "failed"),
]


class Delivery(models.Model):
    #: 32 hex digits, as every store's ids.
    id = models.CharField(primary_key=True, max_length=32, editable=False)
    #: sha256 of ``delivery_key`` (unique index of bounded width on every database).
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    delivery_key = models.TextField()
    vendor = models.CharField(max_length=64, db_index=True)
    event_type = models.TextField()
    state = models.CharField(max_length=16, choices=STATES, default="pending")
    received_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    replays = models.PositiveIntegerField(default=0)
    body = models.BinaryField(null=True, editable=False)
    #: ``[[name, value], ...]`` in the order received, credential headers left out.
    headers = models.JSONField(default=list, editable=False)
    lease_until = models.DateTimeField(null=True)
    #: Identifies the current claim; NULL when nobody holds the delivery.
    token = models.CharField(max_length=32, null=True, editable=False)
    finished_at = models.DateTimeField(null=True)
    last_error_type = models.CharField(max_length=255, null=True)
    last_error_message = models.TextField(null=True)
    not_before = models.DateTimeField(null=True)
    body_erased_at = models.DateTimeField(null=True)

    class Meta:
        verbose_name = "delivery"
        verbose_name_plural = "deliveries"
        ordering = ["-received_at"]
        # claim_next: the oldest claimable delivery.
        indexes = [models.Index(fields=["state", "received_at"], name="kyc_wh_state_received")]
        permissions = [("view_delivery_body", "Can view delivery bodies and headers")]

    def __str__(self) -> str:
        return f"{self.vendor} {self.event_type} {self.id} ({self.state})"


class DecisionRecord(models.Model):
    """The decision ledger: one row per verification ``(vendor, subject)`` with its latest known
    decision (``status`` NULL while the row holds only a subject lease), the verdict its decision
    handlers were last told about, and the subject lease that ``DjangoStore.begin_decision``
    takes and ``complete`` releases."""

    #: 32 hex digits, as every store's ids.
    id = models.CharField(primary_key=True, max_length=32, editable=False)
    #: sha256 of ``(vendor, subject)`` (unique index of bounded width on every database).
    subject_hash = models.CharField(max_length=64, unique=True, editable=False)
    vendor = models.CharField(max_length=64)
    subject = models.TextField()
    status = models.CharField(max_length=64, null=True)
    final = models.BooleanField(null=True)
    #: The delivery the effective decision came from.
    delivery_id = models.TextField(null=True)
    event_type = models.TextField(null=True)
    received_at = models.DateTimeField(null=True)
    occurred_at = models.DateTimeField(null=True)
    client_ref = models.TextField(null=True)
    #: sha256 of ``client_ref``: the indexed lookup of ``decisions_for_client``.
    client_hash = models.CharField(max_length=64, null=True, editable=False)
    #: ``occurred_at``, else ``received_at``: the order of ``decisions_for_client``.
    sort_at = models.DateTimeField(null=True, editable=False)
    reasons = models.JSONField(default=list, editable=False)
    fetch_required = models.BooleanField(default=False)
    #: The verdict (status, finality) the decision handlers were last told about; NULL: none
    #: yet. A delivery whose handlers failed stores its entry above without changing these.
    announced_status = models.CharField(max_length=64, null=True, editable=False)
    announced_final = models.BooleanField(null=True, editable=False)
    #: The ledger layout of the code that wrote the row (the migration that last changed it). No
    #: database default: a process of an older version, whose model lacks the field, cannot
    #: insert a row -- it would write one without the announced verdict (a verdict announced
    #: twice, or never) -- and its store answers 503 instead (docs/delivery-guarantees.md,
    #: "Upgrades and backups").
    layout = models.PositiveSmallIntegerField(default=3, editable=False)
    #: Identifies the current subject lease; NULL when nobody holds the subject.
    token = models.CharField(max_length=32, null=True, editable=False)
    lease_until = models.DateTimeField(null=True)
    #: The delivery holding the subject lease.
    lease_delivery = models.CharField(max_length=32, null=True, editable=False)

    class Meta:
        verbose_name = "decision"
        verbose_name_plural = "decisions"
        indexes = [models.Index(fields=["client_hash", "-sort_at"], name="kyc_wh_decision_client")]

    def __str__(self) -> str:
        return f"{self.vendor} {self.id} ({self.status or 'no decision yet'})"
