"""The verdict last announced of each ledger row (``announced_status``, ``announced_final``).

A delivery whose decision handlers failed now records its entry as the verification's latest
known one without announcing it (docs/decisions.md). Until this migration every stored entry had
been announced when it was written (the same verdict later replaced it silently, with the same
status and finality), so the existing rows start with their entry's status and finality. The
``layout`` column (no database default) keeps processes of an older version from inserting rows
without them."""

from typing import Any

from django.db import migrations, models
from django.db.models import F


def announce_existing_entries(apps: Any, schema_editor: Any) -> None:
    rows = apps.get_model("kyc_webhooks", "DecisionRecord").objects.using(
        schema_editor.connection.alias
    )
    rows.filter(status__isnull=False).update(
        announced_status=F("status"), announced_final=F("final")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("kyc_webhooks", "0002_decisionrecord"),
    ]

    operations = [
        migrations.AddField(
            model_name="decisionrecord",
            name="announced_status",
            field=models.CharField(editable=False, max_length=64, null=True),
        ),
        migrations.AddField(
            model_name="decisionrecord",
            name="announced_final",
            field=models.BooleanField(editable=False, null=True),
        ),
        migrations.RunPython(announce_existing_entries, migrations.RunPython.noop),
        # Existing rows get 3; Django then drops the database default, so that an insert of an
        # older version (which does not name the column) fails.
        migrations.AddField(
            model_name="decisionrecord",
            name="layout",
            field=models.PositiveSmallIntegerField(default=3, editable=False),
        ),
    ]
