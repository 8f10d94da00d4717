"""Indexes that let PostgreSQL order a moderation round's population by candidate name
without reading the enrolment and user rows (issue 13).

The population picker pages the population by candidate name: every member's enrolment
and candidate are joined to sort it (934 of each in a round at 10,000 candidates). With
the candidate in an index of enrolments by id, and the names in an index of users by id,
the joins are index-only scans: the paging query 3.9 → 3.0 ms.

PostgreSQL only: SQLite has no indexes with non-key columns (Django's Index(include=...)
would make it keep a plain copy of the primary key).
"""

from django.db import migrations

INDEXES = {
    "enrolment_id_with_candidate": "assessments_enrolment (id) INCLUDE (candidate_id)",
    "user_id_with_names": "assessment_portal_user (id) INCLUDE (last_name, first_name)",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, definition in INDEXES.items():
            schema_editor.execute(f"CREATE INDEX {name} ON {definition}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in INDEXES:
            schema_editor.execute(f"DROP INDEX {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("assessments", "0015_moderation_tallies"),
        ("assessment_portal", "0005_staff_lists_by_name"),
    ]

    operations = [migrations.RunPython(create, drop)]
