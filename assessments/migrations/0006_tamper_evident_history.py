"""History becomes tamper-evident.

Audit entries get their place in their attempt's hash chain (``sequence``) and
their ``hash``, computed here for the entries already recorded, oldest first;
then the history tables become append-only in the database itself (triggers,
see ``assessments/append_only.py``). Attempts gain the "closed" status an
amendment to achieved gives to a later attempt that is no longer needed.
"""

import django.utils.timezone
from django.db import migrations, models

from assessments import append_only, audit


def chain_existing_entries(apps, schema_editor):
    AuditEntry = apps.get_model("assessments", "AuditEntry")
    previous = {}
    for entry in AuditEntry.objects.order_by("assessment_id", "at", "pk").iterator():
        sequence, previous_hash = previous.get(entry.assessment_id, (0, audit.GENESIS))
        entry.sequence = sequence + 1
        entry.hash = audit.entry_hash(entry, previous_hash)
        # The historical model has no AppendOnly.save(); the triggers come below.
        entry.save(update_fields=["sequence", "hash"])
        previous[entry.assessment_id] = (entry.sequence, entry.hash)


# The history tables as they were when this migration was written; later ones
# get their triggers in their own migrations.
TABLES = [
    "assessments_auditentry",
    "assessments_signoff",
    "assessments_amendment",
    "assessments_moderationreview",
    "assessments_moderatedcriterion",
    "assessments_assessorresponse",
]


def install_triggers(apps, schema_editor):
    for sql in append_only.install_statements(schema_editor.connection.vendor, TABLES):
        schema_editor.execute(sql, None)


def uninstall_triggers(apps, schema_editor):
    for sql in append_only.uninstall_statements(schema_editor.connection.vendor, TABLES):
        schema_editor.execute(sql, None)


class Migration(migrations.Migration):

    dependencies = [
        ("assessments", "0005_moderation_export_heartbeat"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditentry",
            name="at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AddField(
            model_name="auditentry",
            name="sequence",
            field=models.PositiveIntegerField(null=True),
        ),
        migrations.AddField(
            model_name="auditentry",
            name="hash",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(chain_existing_entries, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="auditentry",
            name="sequence",
            field=models.PositiveIntegerField(),
        ),
        migrations.AlterModelOptions(
            name="auditentry",
            options={"ordering": ["assessment_id", "sequence"], "verbose_name_plural": "audit entries"},
        ),
        migrations.AddConstraint(
            model_name="auditentry",
            constraint=models.UniqueConstraint(
                fields=("assessment", "sequence"), name="one_audit_entry_per_chain_position"
            ),
        ),
        migrations.AlterField(
            model_name="assessment",
            name="status",
            field=models.CharField(
                choices=[
                    ("open", "Collecting evidence"),
                    ("submitted", "Awaiting judgement"),
                    ("signed_off", "Signed off"),
                    ("closed", "Closed"),
                ],
                default="open",
                max_length=12,
            ),
        ),
        migrations.RemoveConstraint(
            model_name="assessment",
            name="one_unfinished_attempt_per_enrolment",
        ),
        migrations.AddConstraint(
            model_name="assessment",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status__in", ["signed_off", "closed"]), _negated=True),
                fields=("enrolment",),
                name="one_unfinished_attempt_per_enrolment",
            ),
        ),
        # Last: on SQLite the operations above rebuild the table, dropping triggers.
        migrations.RunPython(install_triggers, uninstall_triggers),
    ]
