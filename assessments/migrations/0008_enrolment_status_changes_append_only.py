"""Enrolment status decisions (withdrawal, RPL, credit transfer) join the append-only history."""

from django.db import migrations

from assessments import append_only


class Migration(migrations.Migration):
    dependencies = [
        ("assessments", "0007_enrolment_status_decisions"),
    ]

    operations = [
        append_only.triggers_for(["assessments_enrolmentstatuschange"]),
    ]
