"""The log of wording corrections to unit releases joins the append-only history."""

from django.db import migrations

from assessments import append_only

TABLES = ["standards_cataloguecorrection"]


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
        ("assessments", "0012_assessment_enrolment_index"),
        ("standards", "0002_unit_releases_and_catalogue_corrections"),
    ]

    operations = [
        migrations.RunPython(install_triggers, uninstall_triggers),
    ]
