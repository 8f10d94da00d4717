"""The log of wording corrections to unit releases joins the append-only history."""

from django.db import migrations

from assessments import append_only


class Migration(migrations.Migration):
    dependencies = [
        ("assessments", "0012_assessment_enrolment_index"),
        ("standards", "0002_unit_releases_and_catalogue_corrections"),
    ]

    operations = [
        append_only.triggers_for(["standards_cataloguecorrection"]),
    ]
