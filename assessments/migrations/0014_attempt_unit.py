"""Each attempt names its enrolment's unit, so attempts awaiting judgement are counted
per unit from one partial index (issue 13).

On PostgreSQL a foreign key on (enrolment, unit) to the enrolment's (id, unit) keeps the
copy equal to the enrolment's unit: an attempt naming another unit, or an enrolment's
unit changed under its attempts, is refused by the database itself.
"""

import django.db.models.deletion
from django.db import migrations, models

FOREIGN_KEY = "attempt_unit_is_enrolments"


def copy_units(apps, schema_editor):
    schema_editor.execute(
        "UPDATE assessments_assessment SET unit_id = (SELECT e.unit_id FROM "
        "assessments_enrolment e WHERE e.id = assessments_assessment.enrolment_id)"
    )


def add_foreign_key(apps, schema_editor):
    # SQLite adds foreign keys only with the table; there Assessment.save() alone sets it.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE assessments_assessment ADD CONSTRAINT {FOREIGN_KEY} "
            "FOREIGN KEY (enrolment_id, unit_id) "
            "REFERENCES assessments_enrolment (id, unit_id) DEFERRABLE INITIALLY DEFERRED"
        )


def drop_foreign_key(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE assessments_assessment DROP CONSTRAINT {FOREIGN_KEY}")


class Migration(migrations.Migration):
    dependencies = [
        ("assessments", "0013_catalogue_corrections_append_only"),
        ("standards", "0002_unit_releases_and_catalogue_corrections"),
    ]

    operations = [
        migrations.AddField(
            model_name="assessment",
            name="unit",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="standards.unit",
            ),
        ),
        migrations.RunPython(copy_units, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="assessment",
            name="unit",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="standards.unit",
            ),
        ),
        migrations.AddIndex(
            model_name="assessment",
            index=models.Index(
                condition=models.Q(("status", "submitted")),
                fields=["unit"],
                name="awaiting_judgement_by_unit",
            ),
        ),
        migrations.AddConstraint(
            model_name="enrolment",
            constraint=models.UniqueConstraint(fields=("id", "unit"), name="enrolment_with_unit"),
        ),
        migrations.RunPython(add_foreign_key, drop_foreign_key),
    ]
