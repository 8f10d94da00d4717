"""Enrolment status decisions (withdrawal, RPL, credit transfer) join the append-only history."""

from django.db import migrations

from assessments import append_only

TABLES = ["assessments_enrolmentstatuschange"]


def install_triggers(apps, schema_editor):
    for sql in append_only.install_statements(schema_editor.connection.vendor, TABLES):
        schema_editor.execute(sql, None)


def uninstall_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    # Only this table's triggers: the others, and the maintenance table, stay.
    for sql in append_only.uninstall_statements(vendor, TABLES)[: 2 * len(TABLES)]:
        schema_editor.execute(sql, None)


class Migration(migrations.Migration):
    dependencies = [
        ("assessments", "0007_enrolment_status_decisions"),
    ]

    operations = [
        migrations.RunPython(install_triggers, uninstall_triggers),
    ]
